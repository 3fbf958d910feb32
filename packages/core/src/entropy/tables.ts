/**
 * Entropy tables: the statistics that ship inside the model's manifest.json (JSON form) and the
 * decoded typed-array form the coder uses. Arrays are base64 of little-endian u16 so that a
 * typical table (2 levels × M=8 × K=512, 8 successors) is ~200 KB of JSON.
 * Layouts are specified in docs/format.md §6.
 */
import { bytesToU16, ByteWriter, fromBase64, toBase64, u16ToBytes } from '../bytes.js';
import { crc32 } from '../crc32.js';
import { DqcError } from '../errors.js';
import type { LevelSpec } from './types.js';

/** Rank contexts: 16 neighbour-equality patterns × 5 previous-codebook states. */
export const NUM_CONTEXTS = 80;
/** Candidates that are not successors: L, U, UR, UL, LL, UU, X (cross-codebook cache). */
export const BASE_CANDIDATES = 7;
export const MAX_SUCCESSORS = 16;
export const MAX_M = 256;
export const MAX_K = 65536;

/** Per-level tables, JSON form. */
export interface EntropyLevelTables {
  M: number;
  K: number;
  /** T: successors listed per code (0 disables successor candidates). */
  successors: number;
  /** base64 u16 [M][K], every entry ≥ 1: prior code frequencies per codebook. */
  literal: string;
  /** base64 u16 [NUM_CONTEXTS][1 + BASE_CANDIDATES + 2T], every entry ≥ 1: prior rank frequencies. */
  rank: string;
  /** base64 u16 [M][K][T], entries < K: codes most often adjacent to each code, most frequent first. */
  succ: string;
}

/** Entropy statistics for every level of a model, TOP level first (the .dqc stream order). */
export interface EntropyTables {
  format: 'dqc-entropy';
  version: 1;
  levelsTopFirst: EntropyLevelTables[];
}

/** Decoded, validated tables of one level. */
export interface CompiledLevelTables {
  M: number;
  K: number;
  T: number;
  /** True for the built-in defaults: then `literal` is one K-entry row shared by all codebooks. */
  isDefault: boolean;
  literal: Uint16Array;
  rank: Uint16Array;
  succ: Uint16Array;
}

export function rankAlphabet(T: number): number {
  return 1 + BASE_CANDIDATES + 2 * T;
}

function bad(field: string, msg: string): DqcError {
  return new DqcError('BAD_TABLES', `entropy tables: ${field} ${msg}`);
}

function intField(o: Record<string, unknown>, key: string, where: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`${where}.${key}`, `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  }
  return v;
}

function u16Field(o: Record<string, unknown>, key: string, where: string, count: number, min: number, max: number): Uint16Array {
  const s = o[key];
  const raw = typeof s === 'string' ? fromBase64(s) : null;
  if (raw === null) throw bad(`${where}.${key}`, 'must be a base64 string');
  if (raw.length !== count * 2) throw bad(`${where}.${key}`, `must hold ${count} u16 values (got ${raw.length} bytes)`);
  const a = bytesToU16(raw);
  for (let i = 0; i < a.length; i++) {
    if (a[i] < min || a[i] > max) throw bad(`${where}.${key}`, `entry ${i} must be in [${min}, ${max}] (got ${a[i]})`);
  }
  return a;
}

const compiledCache = new WeakMap<EntropyLevelTables, CompiledLevelTables>();

/** Validate and decode one level's tables; `where` names it in error messages. Cached per object. */
export function compileLevelTables(json: unknown, where = 'level'): CompiledLevelTables {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(where, 'must be an object');
  const cached = compiledCache.get(json as EntropyLevelTables);
  if (cached) return cached;
  const o = json as Record<string, unknown>;
  const M = intField(o, 'M', where, 1, MAX_M);
  const K = intField(o, 'K', where, 2, MAX_K);
  const T = intField(o, 'successors', where, 0, Math.min(MAX_SUCCESSORS, K - 1));
  const compiled: CompiledLevelTables = {
    M,
    K,
    T,
    isDefault: false,
    literal: u16Field(o, 'literal', where, M * K, 1, 65535),
    rank: u16Field(o, 'rank', where, NUM_CONTEXTS * rankAlphabet(T), 1, 65535),
    succ: u16Field(o, 'succ', where, M * K * T, 0, K - 1),
  };
  compiledCache.set(json as EntropyLevelTables, compiled);
  return compiled;
}

/** Validate and decode all levels (top first). */
export function compileTables(json: unknown): CompiledLevelTables[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('root', 'must be an object');
  const o = json as Record<string, unknown>;
  if (o.format !== 'dqc-entropy') throw bad('format', `must be "dqc-entropy" (got ${JSON.stringify(o.format)})`);
  if (o.version !== 1) throw bad('version', `must be 1 (got ${JSON.stringify(o.version)})`);
  const levels = o.levelsTopFirst;
  if (!Array.isArray(levels) || levels.length < 1 || levels.length > 8) throw bad('levelsTopFirst', 'must be an array of 1 to 8 levels');
  return levels.map((l, i) => compileLevelTables(l, `levelsTopFirst[${i}]`));
}

/**
 * Tables used when a file is written without trained statistics: uniform codes, a generic rank
 * prior. Kept O(K) (one shared literal row) so a hostile header claiming huge M·K stays cheap.
 */
export function defaultLevelTables(spec: LevelSpec): CompiledLevelTables {
  const A = rankAlphabet(0);
  const rank = new Uint16Array(NUM_CONTEXTS * A);
  for (let c = 0; c < NUM_CONTEXTS; c++) {
    rank[c * A] = 1024;
    for (let j = 0; j < A - 1; j++) rank[c * A + 1 + j] = Math.max(1, 1024 >> j);
  }
  return { M: spec.M, K: spec.K, T: 0, isDefault: true, literal: new Uint16Array(spec.K).fill(1), rank, succ: new Uint16Array(0) };
}

/** JSON form of compiled tables. */
export function levelTablesToJson(t: CompiledLevelTables): EntropyLevelTables {
  if (t.isDefault) throw new Error('dqc internal error: default tables have no JSON form');
  const b64 = (a: Uint16Array): string => toBase64(u16ToBytes(a));
  return { M: t.M, K: t.K, successors: t.T, literal: b64(t.literal), rank: b64(t.rank), succ: b64(t.succ) };
}

/**
 * CRC-32 identifying the exact statistics a file was coded with (stored in the .dqc header so
 * decoding with different tables fails loudly instead of producing garbage). Default tables
 * are represented by a T of 0xFFFFFFFF and no arrays (docs/format.md §6.1.3).
 */
export function tablesCrc(levels: CompiledLevelTables[]): number {
  const w = new ByteWriter();
  for (const t of levels) {
    w.u32(t.M);
    w.u32(t.K);
    w.u32(t.isDefault ? 0xffffffff : t.T);
    if (t.isDefault) continue;
    w.bytes(u16ToBytes(t.literal));
    w.bytes(u16ToBytes(t.rank));
    w.bytes(u16ToBytes(t.succ));
  }
  return crc32(w.finish());
}
