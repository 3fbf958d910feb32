/**
 * The 'coefficient' entropy method (method 4, docs/format.md §6.8) for "transform" models, whose
 * indices are block-DCT coefficients quantized on a fixed scalar grid: index k of a codebook
 * with K codes stands for the integer v = k − floor(K/2). Most values are 0 and magnitudes are
 * small, so each value is coded as a residual from a prediction ('none': 0; 'med': the LOCO-I
 * median edge detector over the same codebook's causal neighbours), split into a token
 * (0, or the bit length n of |r| with its sign: 33 symbols) coded adaptively under a context made
 * of the neighbouring residual magnitudes, and the n − 1 bits of |r| below its leading one,
 * coded raw.
 *
 * The tables carry no statistics, only each level's shape and prediction mode: everything else
 * is adapted on the fly from fixed initial counts. Contexts never cross codebooks except for the
 * previous codebook's residual magnitude at the same position, and never cross levels.
 */
import { ByteWriter } from '../bytes.js';
import { crc32 } from '../crc32.js';
import { DqcError } from '../errors.js';
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from './rangeCoder.js';
import type { LevelIndicesInput, LevelShape, LevelSpec } from './types.js';
import { checkedIndices } from './model.js';

/** Prediction of a value from its causal neighbours in the same codebook. */
export type CoefficientPredict = 'none' | 'med';

/** One level of a transform model, JSON form. */
export interface CoefficientLevelTables {
  M: number;
  K: number;
  predict: CoefficientPredict;
}

/** Coefficient tables of every level, TOP level first (the .dqc stream order). */
export interface CoefficientTables {
  format: 'dqc-coefficients';
  version: 1;
  levelsTopFirst: CoefficientLevelTables[];
}

/** Decoded, validated tables of one level. */
export interface CompiledCoefficientLevel {
  M: number;
  K: number;
  predict: CoefficientPredict;
}

/** Token alphabet: 0, then 2n − 1 (positive) and 2n (negative) for bit lengths n = 1..16. */
export const COEF_TOKENS = 33;
/** Contexts per codebook: 6 neighbour-sum classes × 4 previous-codebook classes. */
export const COEF_CONTEXTS = 24;
/** Added to a token's count after coding it. */
export const COEF_INC = 24;
/** A context's counts are halved when their total would exceed this (the range coder's limit). */
export const COEF_LIMIT = MAX_TOTAL;
/** Initial count of each token: 32 for 0, 8 for ±1, 4 for ±2..3, 1 for the rest. */
const INITIAL_FREQ: Uint32Array = (() => {
  const f = new Uint32Array(COEF_TOKENS).fill(1);
  f[0] = 32;
  f[1] = f[2] = 8;
  f[3] = f[4] = 4;
  return f;
})();
const INITIAL_TOTAL = INITIAL_FREQ.reduce((a, b) => a + b, 0);
/** Class of s = A + B with A, B each clamped to 9 (so s ≤ 18): 0, 1, 2, 3–4, 5–8, ≥ 9. */
const S_CLASS = Uint8Array.from({ length: 19 }, (_, s) => (s <= 2 ? s : s <= 4 ? 3 : s <= 8 ? 4 : 5));
/** Magnitudes kept per position for the contexts: clamped to 9 (s saturates at 9, P at 2). */
const MAG_CAP = 9;
/** The previous-codebook class "m = 0". */
const P_NONE = 3;
/** tablesCrc tag, 'COE1': never equal to another table kind's serialisation. */
const CRC_TAG = 0x434f4531;

function bad(field: string, msg: string): DqcError {
  return new DqcError('BAD_TABLES', `coefficient tables: ${field} ${msg}`);
}

/** Whether `t` is the JSON form of coefficient tables (a transform model's manifest.entropy). */
export function isCoefficientTables(t: unknown): t is CoefficientTables {
  return typeof t === 'object' && t !== null && (t as { format?: unknown }).format === 'dqc-coefficients';
}

function intField(o: Record<string, unknown>, key: string, where: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${where}.${key}`, `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  return v;
}

function compileLevel(json: unknown, where: string): CompiledCoefficientLevel {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(where, 'must be an object');
  const o = json as Record<string, unknown>;
  const M = intField(o, 'M', where, 1, 256);
  const K = intField(o, 'K', where, 2, 65536);
  const predict = o.predict;
  if (predict !== 'none' && predict !== 'med') throw bad(`${where}.predict`, `must be "none" or "med" (got ${JSON.stringify(predict)})`);
  return { M, K, predict };
}

const compiledCache = new WeakMap<object, CompiledCoefficientLevel[]>();

/** Validate coefficient tables (throws DqcError('BAD_TABLES') naming the field). Cached per object. */
export function compileCoefficientTables(json: unknown): CompiledCoefficientLevel[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('root', 'must be an object');
  const cached = compiledCache.get(json);
  if (cached) return cached;
  const o = json as Record<string, unknown>;
  if (o.format !== 'dqc-coefficients') throw bad('format', `must be "dqc-coefficients" (got ${JSON.stringify(o.format)})`);
  if (o.version !== 1) throw bad('version', `must be 1 (got ${JSON.stringify(o.version)})`);
  const levels = o.levelsTopFirst;
  if (!Array.isArray(levels) || levels.length < 1 || levels.length > 8) throw bad('levelsTopFirst', 'must be an array of 1 to 8 levels');
  const out = levels.map((l, i) => compileLevel(l, `levelsTopFirst[${i}]`));
  compiledCache.set(json, out);
  return out;
}

/** Validate untrusted JSON as coefficient tables and return it typed. */
export function parseCoefficientTables(json: unknown): CoefficientTables {
  compileCoefficientTables(json);
  return json as CoefficientTables;
}

/** Coefficient tables for the given levels (TOP first), validated. */
export function coefficientTablesFor(levelsTopFirst: CoefficientLevelTables[]): CoefficientTables {
  const tables: CoefficientTables = { format: 'dqc-coefficients', version: 1, levelsTopFirst: levelsTopFirst.map(({ M, K, predict }) => ({ M, K, predict })) };
  compileCoefficientTables(tables);
  return tables;
}

const crcCache = new WeakMap<CompiledCoefficientLevel[], number>();

/**
 * CRC-32 identifying the tables (the .dqc header's tablesCrc): of the u32 'COE1', then per level
 * top first M, K and the prediction mode (0 none, 1 med), all u32 little-endian. Cached per
 * compiled table set (itself cached per JSON object).
 */
export function coefficientTablesCrc(levels: CompiledCoefficientLevel[]): number {
  const cached = crcCache.get(levels);
  if (cached !== undefined) return cached;
  const w = new ByteWriter();
  w.u32(CRC_TAG);
  for (const t of levels) {
    w.u32(t.M);
    w.u32(t.K);
    w.u32(t.predict === 'med' ? 1 : 0);
  }
  const crc = crc32(w.finish());
  crcCache.set(levels, crc);
  return crc;
}

/** The file's levels must be the tables' first (top) levels. */
export function checkCoefficientFits(specs: LevelSpec[], tables: CompiledCoefficientLevel[]): void {
  if (tables.length < specs.length) throw new DqcError('MODEL_MISMATCH', `coefficient tables describe ${tables.length} levels but the file has ${specs.length}`);
  specs.forEach((s, i) => {
    if (s.M !== tables[i].M || s.K !== tables[i].K) {
      throw new DqcError('MODEL_MISMATCH', `level ${i} has M=${s.M}, K=${s.K} but the coefficient tables say M=${tables[i].M}, K=${tables[i].K}`);
    }
  });
}

function checkShape(level: LevelShape, t: CompiledCoefficientLevel): void {
  if (level.M !== t.M || level.K !== t.K) throw new DqcError('MODEL_MISMATCH', `level has M=${level.M}, K=${level.K}, the coefficient tables say M=${t.M}, K=${t.K}`);
}

/**
 * Adaptive token statistics of the current codebook: 24 contexts × 33 counts. Contexts of
 * codebook m are used only while coding m (ctx = m·24 + …), so one set is reset per codebook:
 * memory stays O(1) in M, and a hostile header claiming M = 256 costs nothing extra.
 */
class TokenModel {
  readonly freq = new Uint32Array(COEF_CONTEXTS * COEF_TOKENS);
  readonly total = new Uint32Array(COEF_CONTEXTS);

  reset(): void {
    for (let c = 0; c < COEF_CONTEXTS; c++) {
      this.freq.set(INITIAL_FREQ, c * COEF_TOKENS);
      this.total[c] = INITIAL_TOTAL;
    }
  }

  update(ctx: number, tok: number): void {
    const freq = this.freq;
    const o = ctx * COEF_TOKENS;
    freq[o + tok] += COEF_INC;
    let t = this.total[ctx] + COEF_INC;
    if (t > COEF_LIMIT) {
      t = 0;
      for (let i = o; i < o + COEF_TOKENS; i++) t += freq[i] = (freq[i] + 1) >> 1;
    }
    this.total[ctx] = t;
  }
}

/**
 * Per-position state of a level: the clamped residual magnitudes of the current codebook and of
 * the previous one (two h × w planes, swapped per codebook).
 */
class Planes {
  cur: Uint8Array;
  prev: Uint8Array;
  hasPrev = false;

  constructor(size: number) {
    this.cur = new Uint8Array(size);
    this.prev = new Uint8Array(size);
  }

  /** Begin codebook m (the previous codebook's magnitudes become `prev`). */
  start(m: number): void {
    if (m > 0) {
      const t = this.prev;
      this.prev = this.cur;
      this.cur = t;
    }
    this.hasPrev = m > 0;
  }
}

/** Context (0..23) of position i = y·w + x in the current codebook. */
function contextOf(p: Planes, i: number, x: number, y: number, w: number): number {
  const cur = p.cur;
  const s = (x > 0 ? cur[i - 1] : 0) + (y > 0 ? cur[i - w] : 0);
  let pc = P_NONE;
  if (p.hasPrev) {
    const q = p.prev[i];
    pc = q < 2 ? q : 2;
  }
  return S_CLASS[s] * 4 + pc;
}

/** MED prediction of the value at (y, x) of the codebook whose indices start at `base`. */
function predictMed(idx: ArrayLike<number>, base: number, i: number, x: number, y: number, w: number, half: number): number {
  if (x > 0) {
    const a = idx[base + i - 1] - half;
    if (y === 0) return a;
    const b = idx[base + i - w] - half;
    const c = idx[base + i - w - 1] - half;
    const mx = a > b ? a : b;
    const mn = a > b ? b : a;
    return c >= mx ? mn : c <= mn ? mx : a + b - c;
  }
  return y > 0 ? idx[base + i - w] - half : 0;
}

/** Range-code one level with the 'coefficient' method; `t` must match (M, K). */
export function encodeCoefficientLevel(level: LevelIndicesInput, t: CompiledCoefficientLevel): Uint8Array {
  checkShape(level, t);
  const indices = checkedIndices(level);
  const { M, h, w, K } = level;
  const half = K >> 1;
  const med = t.predict === 'med';
  const size = h * w;
  const model = new TokenModel();
  const planes = new Planes(size);
  const freq = model.freq;
  const total = model.total;
  const enc = new RangeEncoder(Math.ceil(indices.length / 4) + 16);
  for (let m = 0; m < M; m++) {
    model.reset();
    planes.start(m);
    const base = m * size;
    const cur = planes.cur;
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        const v = indices[base + i] - half;
        const r = med ? v - predictMed(indices, base, i, x, y, w, half) : v;
        const ctx = contextOf(planes, i, x, y, w);
        const o = ctx * COEF_TOKENS;
        if (r === 0) {
          enc.encode(0, freq[o], total[ctx]);
          model.update(ctx, 0);
          cur[i] = 0;
          continue;
        }
        const a = r < 0 ? -r : r;
        const n = 32 - Math.clz32(a);
        const tok = 2 * n - 1 + (r < 0 ? 1 : 0);
        let start = 0;
        for (let k = o; k < o + tok; k++) start += freq[k];
        enc.encode(start, freq[o + tok], total[ctx]);
        model.update(ctx, tok);
        if (n > 1) enc.encode(a - (1 << (n - 1)), 1, 1 << (n - 1));
        cur[i] = a < MAG_CAP ? a : MAG_CAP;
      }
    }
  }
  return enc.finish();
}

/**
 * Decode one level coded by encodeCoefficientLevel. Work is bounded by M·h·w tokens (each with at
 * most one raw chunk) whatever the input; garbage either yields in-range indices or throws
 * DqcError('CORRUPT_STREAM').
 */
export function decodeCoefficientLevel(bytes: Uint8Array, shape: LevelShape, t: CompiledCoefficientLevel): Uint16Array {
  checkShape(shape, t);
  const { M, h, w, K } = shape;
  const half = K >> 1;
  const med = t.predict === 'med';
  const size = h * w;
  const out = new Uint16Array(M * size);
  const model = new TokenModel();
  const planes = new Planes(size);
  const freq = model.freq;
  const total = model.total;
  const dec = new RangeDecoder(bytes);
  for (let m = 0; m < M; m++) {
    model.reset();
    planes.start(m);
    const base = m * size;
    const cur = planes.cur;
    for (let y = 0, i = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        const p = med ? predictMed(out, base, i, x, y, w, half) : 0;
        const ctx = contextOf(planes, i, x, y, w);
        const o = ctx * COEF_TOKENS;
        const target = dec.decodeTarget(total[ctx]);
        // Linear scan: token 0 (the usual case) is found at once. target < total, so it ends by token 32.
        let tok = 0;
        let start = 0;
        let f = freq[o];
        while (start + f <= target) {
          start += f;
          f = freq[o + ++tok];
        }
        dec.consume(start, f);
        model.update(ctx, tok);
        let v = p;
        if (tok === 0) cur[i] = 0;
        else {
          const n = (tok + 1) >> 1;
          let a = 1;
          if (n > 1) {
            const bits = 1 << (n - 1);
            const low = dec.decodeTarget(bits);
            dec.consume(low, 1);
            a = bits + low;
          }
          v += tok & 1 ? a : -a;
          cur[i] = a < MAG_CAP ? a : MAG_CAP;
        }
        const k = v + half;
        if (k < 0 || k >= K) throw new DqcError('CORRUPT_STREAM', `entropy-coded stream is corrupt (coefficient ${v} out of range for K=${K} at ${m},${y},${x})`);
        out[base + i] = k;
      }
    }
  }
  return out;
}

/** Encode a level given the JSON tables of that level (convenience for tests and tools). */
export function encodeCoefficients(level: LevelIndicesInput, tables: CoefficientLevelTables): Uint8Array {
  return encodeCoefficientLevel(level, compileLevel(tables, 'level'));
}

/** Decode a stream made by encodeCoefficients with the same shape and tables. */
export function decodeCoefficients(bytes: Uint8Array, shape: LevelShape, tables: CoefficientLevelTables): Uint16Array {
  return decodeCoefficientLevel(bytes, shape, compileLevel(tables, 'level'));
}
