import { CommanderError } from 'commander';
import { expect, vi } from 'vitest';
import { isUserError } from '../src/errors.js';
import { printable } from '../src/printable.js';
import { createProgram } from '../src/program.js';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Any dqcodec command in this process (no tsx start-up per call), with main.ts's error mapping:
 * user errors become one line and exit 1, anything else is rethrown (a bug).
 */
export async function cli(args: string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  const saved = process.exitCode;
  process.exitCode = 0;
  let code = 0;
  try {
    const program = createProgram().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
    await program.parseAsync(['node', 'dqcodec', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) code = e.exitCode;
    else if (isUserError(e)) {
      err.push(`dqcodec: ${printable(e.message)}\n`);
      code = 1;
    } else throw e;
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = saved;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** A user error: exit 1, exactly one line on stderr, no stack trace. */
export function expectUserError(r: Result, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dqcodec: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
