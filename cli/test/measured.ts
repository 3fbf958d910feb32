/**
 * The real CLI in a child process, measured: wall time and peak resident memory (ru_maxrss of
 * the child, written at exit by the peakRss.mjs preload), with a hard time limit (SIGKILL), so a
 * test proves both that a command stops and what it cost.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/dqcodec.js', import.meta.url));
const PRELOAD = new URL('./peakRss.mjs', import.meta.url).href;

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
  /** Peak RSS of the child in bytes (0 when it was killed before writing it). */
  peakRss: number;
}

export function measuredCli(args: string[], opts: { timeoutMs?: number; stdin?: 'ignore' | 'pipe' } = {}): Promise<Measured> {
  const rssFile = join(mkdtempSync(join(tmpdir(), 'dq-rss-')), 'rss');
  const env = { ...process.env, NO_COLOR: '1', DQCODEC_PEAK_RSS_FILE: rssFile };
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', PRELOAD, BIN, ...args], { env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let peakRss = 0;
      try {
        peakRss = Number(readFileSync(rssFile, 'utf8'));
      } catch {
        // killed before exit handlers ran
      }
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, peakRss });
    }),
  );
}

export const MB = 1e6;
