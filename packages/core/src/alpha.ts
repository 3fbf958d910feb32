/**
 * Lossless coding of an 8-bit alpha plane (docs/format.md §2.3 and §6.6). The model codes only
 * colour, so images with transparency carry their alpha plane in an extra section after the
 * level streams, coded with the same range coder and a small adaptive binary context model:
 * "same as left?", "same as above?", else the zig-zagged residual of the gradient predictor
 * L + U − UL as an adaptive Exp-Golomb code. Flat areas cost about 0.001 bit per pixel,
 * anti-aliased edges about 8 bits per edge pixel (a third of PNG's size on masks and text);
 * a constant plane costs 2 bytes.
 */
import { DqcError } from './errors.js';
import { RangeDecoder, RangeEncoder } from './entropy/rangeCoder.js';

/** Payload method ids (first payload byte). */
export const ALPHA_CONSTANT = 0;
export const ALPHA_ADAPTIVE = 1;

const PROB_BITS = 16;
const PROB_ONE = 1 << PROB_BITS;
const PROB_INIT = PROB_ONE >>> 1;
const ADAPT_SHIFT = 5;
/** Flag contexts: 8 neighbour-equality patterns × 3 classes of L × previous flag hit. */
const FLAG_CONTEXTS = 48;
/** Residual contexts: 4 activity buckets. */
const ACTIVITY = 4;
/** Per bucket: 8 unary exponent bits, then 9 exponents × 8 mantissa bit positions. */
const EXP_BITS = 8;
const MANT_BASE = EXP_BITS;
const PER_BUCKET = EXP_BITS + 9 * 8;

/** Adaptive binary probabilities (probability of bit 0, out of 2^16), all starting at 1/2. */
class Probs {
  readonly p: Uint16Array;
  constructor(n: number) {
    this.p = new Uint16Array(n).fill(PROB_INIT);
  }
}

function update(p: Uint16Array, i: number, bit: number): void {
  const v = p[i];
  p[i] = bit === 0 ? v + ((PROB_ONE - v) >>> ADAPT_SHIFT) : v - (v >>> ADAPT_SHIFT);
}

function encodeBit(enc: RangeEncoder, p: Uint16Array, i: number, bit: number): void {
  const p0 = p[i];
  if (bit === 0) enc.encode(0, p0, PROB_ONE);
  else enc.encode(p0, PROB_ONE - p0, PROB_ONE);
  update(p, i, bit);
}

function decodeBit(dec: RangeDecoder, p: Uint16Array, i: number): number {
  const p0 = p[i];
  const t = dec.decodeTarget(PROB_ONE);
  const bit = t < p0 ? 0 : 1;
  if (bit === 0) dec.consume(0, p0);
  else dec.consume(p0, PROB_ONE - p0);
  update(p, i, bit);
  return bit;
}

/** Neighbours and contexts of pixel (x, y), shared by encoder and decoder (§6.6). */
interface Ctx {
  L: number;
  U: number;
  flagCtx: number;
  pred: number;
  /** Offset of this pixel's activity bucket in the residual probabilities. */
  bucket: number;
}

function context(a: Uint8Array, width: number, x: number, y: number, prevHit: number, out: Ctx): void {
  const i = y * width + x;
  const L = x > 0 ? a[i - 1] : y > 0 ? a[i - width] : 255;
  const U = y > 0 ? a[i - width] : L;
  const UL = x > 0 && y > 0 ? a[i - width - 1] : U;
  const eq = (L === U ? 1 : 0) | (U === UL ? 2 : 0) | (L === UL ? 4 : 0);
  const cls = L === 0 ? 0 : L === 255 ? 1 : 2;
  out.L = L;
  out.U = U;
  out.flagCtx = (eq * 3 + cls) * 2 + prevHit;
  const g = L + U - UL;
  out.pred = g < 0 ? 0 : g > 255 ? 255 : g;
  const act = Math.abs(L - UL) + Math.abs(U - UL);
  out.bucket = (act === 0 ? 0 : act < 16 ? 1 : act < 64 ? 2 : 3) * PER_BUCKET;
}

function checkPlane(width: number, height: number, length: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || length !== width * height) {
    throw new DqcError('BAD_HEADER', `alpha plane of ${length} bytes does not match the image size ${width}×${height}`);
  }
}

/** Code an alpha plane (width × height, row-major) into an alpha payload (§6.6). */
export function encodeAlphaPlane(alpha: Uint8Array, width: number, height: number): Uint8Array {
  checkPlane(width, height, alpha.length);
  const first = alpha[0];
  if (alpha.every((v) => v === first)) return new Uint8Array([ALPHA_CONSTANT, first]);
  const enc = new RangeEncoder(Math.max(64, alpha.length >>> 4));
  const flagA = new Probs(FLAG_CONTEXTS).p;
  const flagB = new Probs(FLAG_CONTEXTS).p;
  const res = new Probs(ACTIVITY * PER_BUCKET).p;
  const c: Ctx = { L: 0, U: 0, flagCtx: 0, pred: 0, bucket: 0 };
  let prevHit = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = alpha[y * width + x];
      context(alpha, width, x, y, prevHit, c);
      const hitL = s === c.L ? 1 : 0;
      encodeBit(enc, flagA, c.flagCtx, hitL ^ 1);
      prevHit = hitL;
      if (hitL) continue;
      if (c.U !== c.L) {
        const hitU = s === c.U ? 1 : 0;
        encodeBit(enc, flagB, c.flagCtx, hitU ^ 1);
        if (hitU) continue;
      }
      const d = (s - c.pred) & 255;
      const signed = d < 128 ? d : d - 256;
      const zig = signed >= 0 ? 2 * signed : -2 * signed - 1;
      // Adaptive Exp-Golomb: n = zig + 1 = 1·m (e mantissa bits); e in unary, then m MSB first.
      const n = zig + 1;
      const e = 31 - Math.clz32(n);
      for (let i = 0; i < e; i++) encodeBit(enc, res, c.bucket + i, 1);
      if (e < EXP_BITS) encodeBit(enc, res, c.bucket + e, 0);
      const mant = c.bucket + MANT_BASE + e * 8;
      for (let b = e - 1; b >= 0; b--) encodeBit(enc, res, mant + b, (n >>> b) & 1);
    }
  }
  const stream = enc.finish();
  const out = new Uint8Array(1 + stream.length);
  out[0] = ALPHA_ADAPTIVE;
  out.set(stream, 1);
  return out;
}

/** Decode an alpha payload for a width × height image. Work is O(width·height) whatever the input. */
export function decodeAlphaPlane(payload: Uint8Array, width: number, height: number): Uint8Array {
  if (payload.length < 1) throw new DqcError('CORRUPT_STREAM', 'alpha section is empty');
  const method = payload[0];
  const a = new Uint8Array(width * height);
  if (method === ALPHA_CONSTANT) {
    if (payload.length !== 2) throw new DqcError('CORRUPT_STREAM', `constant alpha payload must be 2 bytes (got ${payload.length})`);
    return a.fill(payload[1]);
  }
  if (method !== ALPHA_ADAPTIVE) throw new DqcError('UNSUPPORTED_VERSION', `alpha coding method ${method} is not supported (known: 0 = constant, 1 = adaptive)`);
  const dec = new RangeDecoder(payload.subarray(1));
  const flagA = new Probs(FLAG_CONTEXTS).p;
  const flagB = new Probs(FLAG_CONTEXTS).p;
  const res = new Probs(ACTIVITY * PER_BUCKET).p;
  const c: Ctx = { L: 0, U: 0, flagCtx: 0, pred: 0, bucket: 0 };
  let prevHit = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      context(a, width, x, y, prevHit, c);
      const i = y * width + x;
      const hitL = decodeBit(dec, flagA, c.flagCtx) ^ 1;
      prevHit = hitL;
      if (hitL) {
        a[i] = c.L;
        continue;
      }
      if (c.U !== c.L && (decodeBit(dec, flagB, c.flagCtx) ^ 1) === 1) {
        a[i] = c.U;
        continue;
      }
      let e = 0;
      while (e < EXP_BITS && decodeBit(dec, res, c.bucket + e) === 1) e++;
      const mant = c.bucket + MANT_BASE + e * 8;
      let n = 1;
      for (let b = e - 1; b >= 0; b--) n = (n << 1) | decodeBit(dec, res, mant + b);
      // n ≤ 511 from garbage input; the encoder never produces n > 256.
      const zig = (n - 1) & 255;
      const signed = (zig & 1) === 0 ? zig >>> 1 : -((zig + 1) >>> 1);
      a[i] = (c.pred + signed) & 255;
    }
  }
  return a;
}
