/**
 * The 'conditional' entropy method (docs/format.md §6.7): static integer tables learned with the
 * model (rate–distortion training), p(k | m, c) with c the co-located index of the level above.
 *
 * Each level's table is freq[m][c][k] (u16, every entry ≥ 1, every row summing to exactly
 * 2^16 = the range coder's MAX_TOTAL). The context of index (m, y, x) of a level of size h × w
 * whose parent level (the next one up, coded before it) has M_p codebooks and size h_p × w_p is
 *   c = parent[m mod M_p][⌊y·h_p/h⌋][⌊x·w_p/w⌋],
 * and c = 0 at the top level (one context: a factorized prior per codebook). Nothing adapts, so
 * the code length of a map is exactly Σ −log2(freq/2^16) plus the range coder's few bytes: the
 * rate the model was trained to minimize is the rate the file pays, and every decoder (Node, the
 * browser) computes the same integers.
 */
import { bytesToU16, ByteWriter, fromBase64, toBase64, u16ToBytes } from '../bytes.js';
import { crc32 } from '../crc32.js';
import { DqcError } from '../errors.js';
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from './rangeCoder.js';
import type { LevelShape, LevelSpec } from './types.js';

/** Largest table (entries M·C·K) a level may have: 32 MiB of u16. */
export const MAX_PRIOR_ENTRIES = 1 << 24;

/** One level's prior, JSON form (in manifest.json). */
export interface PriorLevelTables {
  M: number;
  K: number;
  /** Number of contexts C: 1 for the top level, else K of the level above. */
  contexts: number;
  /** base64 of little-endian u16 [M][C][K]; entries ≥ 1, each [m][c] row sums to 65536. */
  freq: string;
}

/** The learned prior of every level, TOP level first (the .dqc stream order). */
export interface PriorTables {
  format: 'dqc-prior';
  version: 1;
  levelsTopFirst: PriorLevelTables[];
}

/** Decoded, validated tables of one level. */
export interface CompiledPriorLevel {
  M: number;
  K: number;
  C: number;
  freq: Uint16Array;
  /** Cumulative frequencies [M·C][K + 1] (row r starts at r·(K+1)). */
  cum: Uint32Array;
}

/** Index maps the coder reads: row-major [m][y][x]. */
interface IndexMap extends LevelShape {
  indices: ArrayLike<number>;
}

function bad(field: string, msg: string): DqcError {
  return new DqcError('BAD_TABLES', `prior tables: ${field} ${msg}`);
}

/** Whether `t` is the JSON form of a learned prior (as opposed to 'static'/'context' tables). */
export function isPriorTables(t: unknown): t is PriorTables {
  return typeof t === 'object' && t !== null && (t as { format?: unknown }).format === 'dqc-prior';
}

function intField(o: Record<string, unknown>, key: string, where: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${where}.${key}`, `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  return v;
}

function compileLevel(json: unknown, where: string, expectedC: number): CompiledPriorLevel {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(where, 'must be an object');
  const o = json as Record<string, unknown>;
  const M = intField(o, 'M', where, 1, 256);
  const K = intField(o, 'K', where, 2, 65536);
  const C = intField(o, 'contexts', where, 1, 65536);
  if (C !== expectedC) throw bad(`${where}.contexts`, `must be ${expectedC} (${expectedC === 1 ? 'the top level has one context' : 'K of the level above'}; got ${C})`);
  if (M * C * K > MAX_PRIOR_ENTRIES) throw bad(where, `M·contexts·K must be at most ${MAX_PRIOR_ENTRIES} (got ${M * C * K})`);
  // Check the size before decoding so a hostile string cannot make a large allocation.
  const s = o.freq;
  if (typeof s !== 'string') throw bad(`${where}.freq`, 'must be a base64 string');
  if (s.length > Math.ceil((M * C * K * 2) / 3) * 4 + 4) throw bad(`${where}.freq`, `is longer than ${M * C * K} u16 values`);
  const raw = fromBase64(s);
  if (raw === null || raw.length !== M * C * K * 2) throw bad(`${where}.freq`, `must hold ${M * C * K} u16 values as base64`);
  const freq = bytesToU16(raw);
  const cum = new Uint32Array(M * C * (K + 1));
  for (let r = 0; r < M * C; r++) {
    let acc = 0;
    for (let k = 0; k < K; k++) {
      const f = freq[r * K + k];
      if (f < 1) throw bad(`${where}.freq`, `entry ${r * K + k} must be ≥ 1`);
      cum[r * (K + 1) + k] = acc;
      acc += f;
    }
    if (acc !== MAX_TOTAL) throw bad(`${where}.freq`, `row ${r} (codebook ${Math.floor(r / C)}, context ${r % C}) sums to ${acc}, must be ${MAX_TOTAL}`);
    cum[r * (K + 1) + K] = acc;
  }
  return { M, K, C, freq, cum };
}

const compiledCache = new WeakMap<object, CompiledPriorLevel[]>();

/** Validate and decode a prior (throws DqcError('BAD_TABLES') naming the field). Cached per object. */
export function compilePriorTables(json: unknown): CompiledPriorLevel[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('root', 'must be an object');
  const cached = compiledCache.get(json);
  if (cached) return cached;
  const o = json as Record<string, unknown>;
  if (o.format !== 'dqc-prior') throw bad('format', `must be "dqc-prior" (got ${JSON.stringify(o.format)})`);
  if (o.version !== 1) throw bad('version', `must be 1 (got ${JSON.stringify(o.version)})`);
  const levels = o.levelsTopFirst;
  if (!Array.isArray(levels) || levels.length < 1 || levels.length > 8) throw bad('levelsTopFirst', 'must be an array of 1 to 8 levels');
  const out: CompiledPriorLevel[] = [];
  levels.forEach((l, i) => out.push(compileLevel(l, `levelsTopFirst[${i}]`, i === 0 ? 1 : out[i - 1].K)));
  compiledCache.set(json, out);
  return out;
}

/** JSON form of one level's frequencies (the exporter's side). */
export function priorLevelToJson(M: number, K: number, contexts: number, freq: Uint16Array): PriorLevelTables {
  return { M, K, contexts, freq: toBase64(u16ToBytes(freq)) };
}

const crcCache = new WeakMap<CompiledPriorLevel[], number>();

/**
 * CRC-32 identifying the exact prior a file was coded with (the .dqc header's tablesCrc). Cached
 * per compiled table set (itself cached per JSON object): every encode and decode asks for it,
 * and the tables run to megabytes.
 */
export function priorTablesCrc(levels: CompiledPriorLevel[]): number {
  const cached = crcCache.get(levels);
  if (cached !== undefined) return cached;
  const w = new ByteWriter();
  w.u32(0x50524931); // 'PRI1': never equal to a 'static'/'context' table set's serialisation
  for (const t of levels) {
    w.u32(t.M);
    w.u32(t.K);
    w.u32(t.C);
    w.bytes(u16ToBytes(t.freq));
  }
  const crc = crc32(w.finish());
  crcCache.set(levels, crc);
  return crc;
}

/** The file's levels must be the prior's first (top) levels. */
export function checkPriorFits(specs: LevelSpec[], tables: CompiledPriorLevel[]): void {
  if (tables.length < specs.length) throw new DqcError('MODEL_MISMATCH', `prior tables describe ${tables.length} levels but the file has ${specs.length}`);
  specs.forEach((s, i) => {
    if (s.M !== tables[i].M || s.K !== tables[i].K) {
      throw new DqcError('MODEL_MISMATCH', `level ${i} has M=${s.M}, K=${s.K} but the prior tables say M=${tables[i].M}, K=${tables[i].K}`);
    }
  });
}

/** Row of (m, c) for every index of a level, in [m][y][x] order: the context map. */
function rowsOf(shape: LevelShape, parent: IndexMap | null, t: CompiledPriorLevel): Int32Array {
  const { M, h, w } = shape;
  const rows = new Int32Array(M * h * w);
  if (!parent) {
    for (let m = 0; m < M; m++) rows.fill(m * t.C, m * h * w, (m + 1) * h * w);
    return rows;
  }
  const { M: Mp, h: hp, w: wp, indices: pi } = parent;
  const px = new Int32Array(w);
  for (let x = 0; x < w; x++) px[x] = Math.floor((x * wp) / w);
  let i = 0;
  for (let m = 0; m < M; m++) {
    const pm = (m % Mp) * hp * wp;
    for (let y = 0; y < h; y++) {
      const prow = pm + Math.floor((y * hp) / h) * wp;
      for (let x = 0; x < w; x++) rows[i++] = m * t.C + pi[prow + px[x]];
    }
  }
  return rows;
}

function checkParent(level: LevelShape, parent: IndexMap | null, t: CompiledPriorLevel): void {
  if ((parent === null) !== (t.C === 1)) throw new DqcError('MODEL_MISMATCH', `prior level with ${t.C} contexts ${t.C === 1 ? 'takes no' : 'needs a'} parent level`);
  if (parent && parent.K !== t.C) throw new DqcError('MODEL_MISMATCH', `parent level has K=${parent.K}, the prior expects ${t.C} contexts`);
  if (level.M !== t.M || level.K !== t.K) throw new DqcError('MODEL_MISMATCH', `level has M=${level.M}, K=${level.K}, the prior says M=${t.M}, K=${t.K}`);
}

/** Entropy-code one level under the prior; `parent` is the decoded level above (null at the top). */
export function encodePriorLevel(level: IndexMap, parent: IndexMap | null, t: CompiledPriorLevel): Uint8Array {
  checkParent(level, parent, t);
  const { K } = t;
  const rows = rowsOf(level, parent, t);
  const idx = level.indices;
  const enc = new RangeEncoder(Math.ceil(rows.length / 2) + 16);
  for (let i = 0; i < rows.length; i++) {
    const s = idx[i];
    if (!(s >= 0 && s < K)) throw new DqcError('BAD_INDICES', `index ${s} at position ${i} is outside [0, ${K})`);
    const base = rows[i] * (K + 1);
    enc.encode(t.cum[base + s], t.freq[rows[i] * K + s], MAX_TOTAL);
  }
  return enc.finish();
}

/** Decode one level coded by encodePriorLevel. Work is bounded by M·h·w symbols. */
export function decodePriorLevel(bytes: Uint8Array, shape: LevelShape, parent: IndexMap | null, t: CompiledPriorLevel): Uint16Array {
  checkParent(shape, parent, t);
  const { K } = t;
  const rows = rowsOf(shape, parent, t);
  const out = new Uint16Array(rows.length);
  const dec = new RangeDecoder(bytes);
  const cum = t.cum;
  for (let i = 0; i < rows.length; i++) {
    const target = dec.decodeTarget(MAX_TOTAL);
    // Largest k with cum[k] ≤ target (binary search over the row's K+1 boundaries).
    const base = rows[i] * (K + 1);
    let lo = 0;
    let hi = K;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (cum[base + mid] <= target) lo = mid;
      else hi = mid;
    }
    dec.consume(cum[base + lo], cum[base + lo + 1] - cum[base + lo]);
    out[i] = lo;
  }
  return out;
}

/** Ideal code length of a level under the prior, in bits (what the range coder approaches). */
export function priorLevelBits(level: IndexMap, parent: IndexMap | null, t: CompiledPriorLevel): number {
  checkParent(level, parent, t);
  const rows = rowsOf(level, parent, t);
  let bits = 0;
  for (let i = 0; i < rows.length; i++) bits += 16 - Math.log2(t.freq[rows[i] * t.K + level.indices[i]]);
  return bits;
}
