import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { BIN } from './run.js';

/** Runs the CLI with stdout read by a consumer that leaves after its first chunk (like `| head -1`). */
function runAndCloseEarly(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a reader that leaves early', () => {
  it('`--help | head -1`: exit 0, nothing on stderr (no EPIPE stack trace)', async () => {
    for (const args of [['encode', '--help'], ['analyze', '--help']]) {
      const r = await runAndCloseEarly(args);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
  });
});
