/**
 * The fuzzing harness: seeded cases (a case is a pure function of seed and index, so any
 * failure re-runs alone), the rules every outcome must follow, and the counts.
 *
 * Rules: a case either decodes or throws one of the expected error classes with a short
 * one-line message; nothing else (TypeError, RangeError, an internal assertion) is acceptable.
 * A full decode of a file whose bytes changed without its checksums being fixed must fail.
 * Every case must finish within a time bound.
 */
import { decodeIndices, isDqcError, type DecodedIndices, type ModelTables } from '../../src/index.js';
import { rng, type Rand } from '../synthetic.js';
import { mutate, type Mutant } from './mutate.js';

export interface BaseFile {
  name: string;
  bytes: Uint8Array;
  /** Entropy tables the file was coded with (core decoding needs them). */
  tables?: ModelTables;
}

export interface FuzzCase {
  seed: number;
  index: number;
  base: BaseFile;
  mutant: Mutant;
  /** Decode only the top level (a progressive preview), which skips the other streams. */
  preview: boolean;
}

/** A broken rule: the fuzzer found a bug. The message names the case so it can be re-run. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

/** Independent stream per case: splitmix-style mixing of seed and index. */
export function caseRand(seed: number, index: number): Rand {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return rng((h ^ (h >>> 15)) >>> 0);
}

export function makeCase(corpus: readonly BaseFile[], seed: number, index: number, previewRate = 0.2): FuzzCase {
  const rand = caseRand(seed, index);
  const b = Math.floor(rand() * corpus.length);
  const d = (b + 1 + Math.floor(rand() * (corpus.length - 1))) % corpus.length;
  const mutant = mutate(corpus[b].bytes, corpus[d].bytes, rand);
  return { seed, index, base: corpus[b], mutant, preview: rand() < previewRate };
}

export function describeCase(c: FuzzCase): string {
  return `case ${c.index} (seed ${c.seed}, ${c.mutant.kind} of ${c.base.name}${c.preview ? ', preview' : ''})`;
}

const MAX_MESSAGE = 500;

/**
 * The rejection reason ("CODE" for DqcError, else the class name) of an error that follows the
 * rules; a FuzzFailure for anything else.
 */
export function rejectionReason(err: unknown, c: FuzzCase, allowed: readonly string[]): string {
  const e = err instanceof Error ? err : null;
  if (!e || !allowed.includes(e.name)) {
    throw new FuzzFailure(`${describeCase(c)} crashed with ${e ? `${e.name}: ${e.message}\n${e.stack}` : String(err)}`);
  }
  if (e.message.length === 0 || e.message.length > MAX_MESSAGE || e.message.includes('\n')) {
    throw new FuzzFailure(`${describeCase(c)}: ${e.name} message is not one short line: ${JSON.stringify(e.message)}`);
  }
  return isDqcError(e) ? e.code : e.name;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A decode succeeded: allowed only if the checksums were fixed, the bytes are the base's, or only a prefix was read. */
export function checkMayDecode(c: FuzzCase): void {
  if (c.preview || c.mutant.checksumsFixed || sameBytes(c.mutant.bytes, c.base.bytes)) return;
  throw new FuzzFailure(`${describeCase(c)} decoded although its bytes changed and no checksum was fixed (garbage accepted)`);
}

/** Decoded index maps must be well-formed whatever the input was. */
export function checkIndices(d: DecodedIndices, c: FuzzCase): void {
  for (const lv of d.levels) {
    const bad = lv.indices.length !== lv.M * lv.h * lv.w || lv.indices.some((v) => v >= lv.K);
    if (bad) throw new FuzzFailure(`${describeCase(c)} decoded malformed indices (M=${lv.M} h=${lv.h} w=${lv.w} K=${lv.K})`);
  }
  if (d.alpha && d.alpha.length !== d.header.width * d.header.height) throw new FuzzFailure(`${describeCase(c)} decoded an alpha plane of the wrong size`);
}

export const CORE_FINGERPRINT = 'c0ffee'.repeat(10) + 'beef';
/** Limits for core cases: small enough that every accepted "grown" file decodes in milliseconds. */
export const CORE_LIMITS = { maxPixels: 2 ** 22, maxIndices: 2 ** 20 };

/** One case through the pure-TS decoder (container + entropy + alpha). */
export function runCoreCase(c: FuzzCase): string {
  let d: DecodedIndices;
  try {
    d = decodeIndices(c.mutant.bytes, {
      tables: c.base.tables,
      expectedFingerprint: CORE_FINGERPRINT,
      maxLevels: c.preview ? 1 : undefined,
      limits: CORE_LIMITS,
    });
  } catch (err) {
    return rejectionReason(err, c, ['DqcError']);
  }
  checkMayDecode(c);
  checkIndices(d, c);
  return 'decoded';
}

/** Counts by outcome and by mutation kind, and the slowest case. */
export class FuzzStats {
  cases = 0;
  readonly outcomes = new Map<string, number>();
  readonly kinds = new Map<string, Map<string, number>>();
  maxMs = 0;
  totalMs = 0;
  slowest = '';

  add(c: FuzzCase, outcome: string, ms: number): void {
    this.cases++;
    this.totalMs += ms;
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    const k = this.kinds.get(c.mutant.kind) ?? new Map<string, number>();
    k.set(outcome, (k.get(outcome) ?? 0) + 1);
    this.kinds.set(c.mutant.kind, k);
    if (ms > this.maxMs) {
      this.maxMs = ms;
      this.slowest = describeCase(c);
    }
  }

  get decoded(): number {
    return this.outcomes.get('decoded') ?? 0;
  }

  /** "decoded 123, rejected 456 (TRUNCATED 100, …)". */
  line(): string {
    const rejected = [...this.outcomes].filter(([k]) => k !== 'decoded').sort((a, b) => b[1] - a[1]);
    const n = rejected.reduce((s, [, v]) => s + v, 0);
    const slowest = this.maxMs > 0 ? `; slowest ${this.maxMs.toFixed(1)} ms` : '';
    return `${this.cases} cases: decoded ${this.decoded}, rejected ${n} (${rejected.map(([k, v]) => `${k} ${v}`).join(', ')})${slowest}`;
  }

  toJSON(): object {
    return {
      cases: this.cases,
      outcomes: Object.fromEntries([...this.outcomes].sort((a, b) => b[1] - a[1])),
      kinds: Object.fromEntries([...this.kinds].map(([k, m]) => [k, Object.fromEntries(m)])),
      maxMs: this.maxMs,
      meanMs: this.totalMs / Math.max(1, this.cases),
      slowest: this.slowest,
    };
  }
}

export interface RunOptions {
  /** A case slower than this is a failure (the hang bound). */
  caseLimitMs: number;
  /** Called before each case (the fuzz script's watchdog heartbeat; it may yield to the event loop). */
  onCase?: (c: FuzzCase) => void | Promise<void>;
}

/** Run cases [start, start + count) of `seed` through `run`, checking the time bound. */
export async function runCases(
  corpus: readonly BaseFile[],
  seed: number,
  start: number,
  count: number,
  run: (c: FuzzCase) => string | Promise<string>,
  opts: RunOptions,
  stats = new FuzzStats(),
): Promise<FuzzStats> {
  for (let i = start; i < start + count; i++) {
    const c = makeCase(corpus, seed, i);
    await opts.onCase?.(c);
    const t0 = performance.now();
    const outcome = await run(c);
    const ms = performance.now() - t0;
    if (ms > opts.caseLimitMs) throw new FuzzFailure(`${describeCase(c)} took ${ms.toFixed(0)} ms (bound ${opts.caseLimitMs} ms)`);
    stats.add(c, outcome, ms);
  }
  return stats;
}
