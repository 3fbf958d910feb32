/**
 * Level coding: turns one level's index map into a range-coded stream and back.
 *
 * Two methods (docs/format.md §6):
 *  - 'static': every code from its codebook's fixed prior (the trained marginal).
 *  - 'context': each code from a per-pixel mixture: the literal distribution (adaptive, starting
 *    from the prior) plus extra mass on a short list of candidates (neighbours, a cross-codebook
 *    guess, and the codes that training saw next to the left/up neighbour). How much mass each
 *    candidate rank gets is learned on the fly per rank context. Because it is a mixture rather
 *    than "flag + escape", a frequent code is not penalised for being a poor candidate, so i.i.d.
 *    data costs about what the static model costs while spatially correlated data costs far less.
 *
 * Levels are coded independently: no context crosses levels, so any stream decodes on its own.
 */
import { DqcError } from '../errors.js';
import { Neighbourhood } from './context.js';
import { FreqTable } from './fenwick.js';
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from './rangeCoder.js';
import type { CompiledLevelTables } from './tables.js';
import { NUM_CONTEXTS, rankAlphabet } from './tables.js';
import type { LevelIndicesInput, LevelShape } from './types.js';

/**
 * 'conditional' is the learned prior of rate models (entropy/prior.ts), 'coefficient' the
 * transform models' coefficient coder (entropy/coefficient.ts); the other two live here.
 */
export type EntropyMethod = 'static' | 'context' | 'conditional' | 'coefficient';

/** Adaptation constants of the 'context' method; part of the format (changing them = new method id). */
export const LIT_PRIOR_MASS = 1 << 14;
export const LIT_INC = 32;
export const LIT_LIMIT = 1 << 20;
export const RANK_PRIOR_MASS = 1 << 10;
export const RANK_INC = 32;
export const RANK_LIMIT = 1 << 13;

/** Result of locating a symbol in the current mixture. */
interface Interval {
  start: number;
  freq: number;
  /** Index of the symbol in the candidate list, or -1. */
  hit: number;
  /** Bonus mass of that candidate (0 when not a candidate). */
  bonus: number;
  /** Literal mass of the symbol beyond its base count of 1. */
  litPart: number;
}

/**
 * The probability model of one level. Encoder and decoder drive the same instance type through
 * the same calls in the same order, which is what keeps them in lock step.
 */
class LevelModel {
  private readonly literal: Uint16Array;
  private readonly sharedLiteral: boolean;
  private readonly K: number;
  private prior!: Int32Array;
  private readonly rf: Int32Array;
  private readonly rsum: Int32Array;
  private readonly A: number;
  private readonly span: number;
  readonly nb: Neighbourhood | null;
  private readonly bonus: Int32Array;
  private lit!: FreqTable;
  private litMass = 0;
  private ro = 0;
  /** Decoder scratch: the search window of find(), candidate list indices in priority order. */
  private readonly win: Int32Array;
  private readonly iv: Interval = { start: 0, freq: 0, hit: -1, bonus: 0, litPart: 0 };

  /** The interval computed by the last interval() or find() call. */
  get last(): Interval {
    return this.iv;
  }

  constructor(
    shape: LevelShape,
    tables: CompiledLevelTables,
    readonly adaptive: boolean,
  ) {
    this.K = shape.K;
    this.literal = tables.literal;
    this.sharedLiteral = tables.isDefault;
    this.span = MAX_TOTAL - shape.K;
    this.A = rankAlphabet(tables.T);
    this.rf = new Int32Array(NUM_CONTEXTS * this.A);
    this.rsum = new Int32Array(NUM_CONTEXTS);
    for (let c = 0; c < NUM_CONTEXTS; c++) {
      const o = c * this.A;
      this.rf.set(scalePrior(tables.rank.subarray(o, o + this.A), RANK_PRIOR_MASS), o);
      for (let a = 0; a < this.A; a++) this.rsum[c] += this.rf[o + a];
    }
    this.nb = adaptive ? new Neighbourhood(shape, tables) : null;
    this.bonus = new Int32Array(this.A);
    this.win = new Int32Array(this.A);
  }

  /**
   * Begin codebook m. Literal statistics and the cross-codebook cache live only for the current
   * codebook, so memory is O(K) whatever M a (possibly hostile) header claims.
   */
  startCodebook(m: number): void {
    const K = this.K;
    const row = this.sharedLiteral ? this.literal : this.literal.subarray(m * K, (m + 1) * K);
    this.prior = this.adaptive ? scalePrior(row, LIT_PRIOR_MASS) : Int32Array.from(row);
    this.lit = new FreqTable(this.prior);
    this.nb?.startCodebook();
  }

  /** Set up the mixture for the next symbol (after nb.gather when adaptive). */
  prepare(): void {
    const n = this.nb ? this.nb.n : 0;
    if (n === 0) {
      this.litMass = this.span;
      return;
    }
    const { rf, bonus, span } = this;
    const ro = (this.ro = this.nb!.ctx * this.A);
    let R = rf[ro];
    for (let j = 0; j < n; j++) R += rf[ro + 1 + j];
    let sumB = 0;
    for (let j = 0; j < n; j++) {
      bonus[j] = Math.floor((rf[ro + 1 + j] * span) / R);
      sumB += bonus[j];
    }
    this.litMass = span - sumB;
  }

  /** Scaled cumulative g(s) = s + floor(P·litMass / total) for a literal prefix sum P. */
  private g(s: number, P: number): number {
    return s + Math.floor((P * this.litMass) / this.lit.total);
  }

  /** The coding interval of `sym` under the prepared mixture. */
  interval(sym: number): Interval {
    const lit = this.lit;
    const P0 = lit.prefix(sym);
    const g0 = this.g(sym, P0);
    const g1 = this.g(sym + 1, P0 + lit.freq[sym]);
    const iv = this.iv;
    let before = 0;
    iv.hit = -1;
    iv.bonus = 0;
    const nb = this.nb;
    if (nb) {
      const { cand, n } = nb;
      const bonus = this.bonus;
      // Codes are < 2^16, so the sign bit of a difference is the comparison (no branch).
      for (let j = 0; j < n; j++) before += bonus[j] & ((cand[j] - sym) >> 31);
      const j = nb.indexOf(sym);
      if (j >= 0) {
        iv.hit = j;
        iv.bonus = bonus[j];
      }
    }
    iv.start = g0 + before;
    iv.freq = g1 - g0 + iv.bonus;
    iv.litPart = g1 - g0 - 1;
    return iv;
  }

  /**
   * Decoder side: the symbol whose interval contains cumulative target t ∈ [0, MAX_TOTAL), with
   * its interval left in `iv` (what interval(sym) would return, without recomputing it).
   *
   * Only candidates with bonus mass shift the codes above them (one with B = 0 codes and adapts
   * exactly like a non-candidate, §6.4). The search keeps a window of such candidates, in
   * priority order, whose codes lie strictly between the bounds established so far, and tests
   * the window's first (most probable) candidate: t falls in its interval (done), below it (keep
   * the candidates under it) or above it (keep those over it, which now sit `shift` higher).
   * Candidate 0 alone decides ~40% of symbols on photos, and the window roughly halves at each
   * step otherwise, so this beats sorting the candidates; work is O(n²) at worst, with n ≤ 39.
   * An empty window leaves a run of consecutive literals under a constant shift: one Fenwick
   * descent. Comparisons are in multiplied-out form, x < (y+1)·total instead of
   * floor(x/total) ≤ y (same integers, exact in doubles), to keep divisions off the hot path.
   */
  find(t: number): number {
    const { lit, litMass, bonus, win } = this;
    const total = lit.total;
    const freq = lit.freq;
    const iv = this.iv;
    let r = this.fillWindow();
    let shift = 0;
    while (r > 0) {
      const j = win[0];
      const cand = (this.nb as Neighbourhood).cand;
      const c = cand[j];
      // below = shift + bonus of the window's candidates with smaller codes (branch-free).
      let below = shift;
      for (let q = 1; q < r; q++) {
        const i = win[q];
        below += bonus[i] & ((cand[i] - c) >> 31);
      }
      const P = lit.prefix(c);
      const B = bonus[j];
      let keepBelow: boolean;
      if (P * litMass >= (t - c - below + 1) * total) keepBelow = true; // t < start(c)
      else if ((P + freq[c]) * litMass >= (t - c - below - B) * total) {
        // t < end(c): this candidate.
        const g0 = c + Math.floor((P * litMass) / total);
        const g1 = c + 1 + Math.floor(((P + freq[c]) * litMass) / total);
        iv.start = g0 + below;
        iv.freq = g1 - g0 + B;
        iv.hit = j;
        iv.bonus = B;
        iv.litPart = g1 - g0 - 1;
        return c;
      } else {
        keepBelow = false;
        shift = below + B;
      }
      r = narrowWindow(win, r, cand, c, keepBelow);
    }
    const s = lit.findScaled(t - shift, litMass, total);
    const Ps = lit.foundPrefix;
    const g0 = s + Math.floor((Ps * litMass) / total);
    const g1 = s + 1 + Math.floor(((Ps + freq[s]) * litMass) / total);
    iv.start = g0 + shift;
    iv.freq = g1 - g0;
    iv.hit = -1;
    iv.bonus = 0;
    iv.litPart = g1 - g0 - 1;
    return s;
  }

  /** win[0..r) = the candidates with bonus mass, in priority order; returns r. */
  private fillWindow(): number {
    const nb = this.nb;
    if (!nb) return 0;
    const { bonus, win } = this;
    let r = 0;
    for (let j = 0; j < nb.n; j++) {
      win[r] = j;
      r += bonus[j] > 0 ? 1 : 0;
    }
    return r;
  }

  /** Adapt after coding `sym` with interval `iv` (no-op for the static method). */
  update(sym: number, iv: Interval): void {
    if (!this.adaptive) return;
    if (this.nb!.n > 0) this.updateRank(iv);
    const inc = iv.hit < 0 ? LIT_INC : Math.floor((LIT_INC * (iv.litPart + 1)) / (iv.bonus + iv.litPart + 1));
    if (inc === 0) return;
    this.lit.add(sym, inc);
    if (this.lit.total > LIT_LIMIT) this.rescaleLiteral();
  }

  /**
   * Credit the rank that produced the symbol in proportion to the mass it contributed (the
   * rest goes to the escape/literal slot): an online EM step for the mixture weights.
   */
  private updateRank(iv: Interval): void {
    const { rf, ro, A } = this;
    if (iv.hit < 0) rf[ro] += RANK_INC;
    else {
      const share = Math.floor((RANK_INC * iv.bonus) / (iv.bonus + iv.litPart + 1));
      rf[ro + 1 + iv.hit] += share;
      rf[ro] += RANK_INC - share;
    }
    const c = ro / A;
    this.rsum[c] += RANK_INC;
    if (this.rsum[c] > RANK_LIMIT) {
      let s = 0;
      for (let a = 0; a < A; a++) s += rf[ro + a] = (rf[ro + a] + 1) >> 1;
      this.rsum[c] = s;
    }
  }

  /** Halve what was learned, keep the prior: bounds the total and lets old statistics fade. */
  private rescaleLiteral(): void {
    const prior = this.prior;
    const f = this.lit.freq;
    for (let k = 0; k < f.length; k++) f[k] = prior[k] + ((f[k] - prior[k]) >> 1);
    this.lit.reset(f); // reset() copies element by element, so passing its own array is safe
  }
}

/**
 * Keep the window entries (after the first, the candidate code c just tested) whose codes lie
 * below c (keepBelow) or above it, in order; returns the new size. Branch-free compaction:
 * codes are < 2^16, so the sign of a difference is the comparison.
 */
function narrowWindow(win: Int32Array, r: number, cand: Int32Array, c: number, keepBelow: boolean): number {
  let w = 0;
  if (keepBelow) {
    for (let q = 1; q < r; q++) {
      const i = win[q];
      win[w] = i;
      w += (cand[i] - c) >>> 31;
    }
  } else {
    for (let q = 1; q < r; q++) {
      const i = win[q];
      win[w] = i;
      w += (c - cand[i]) >>> 31;
    }
  }
  return w;
}

/** prior[i] = 1 + floor(table[i]·mass / Σtable): fixed prior strength whatever the table's scale. */
function scalePrior(table: Uint16Array, mass: number): Int32Array {
  let sum = 0;
  for (let i = 0; i < table.length; i++) sum += table[i];
  const out = new Int32Array(table.length);
  for (let i = 0; i < table.length; i++) out[i] = 1 + Math.floor((table[i] * mass) / sum);
  return out;
}

function checkMethod(method: EntropyMethod): void {
  if (method === 'conditional') throw new DqcError('BAD_TABLES', "the 'conditional' method codes with a learned prior (entropy/prior.ts), not with these tables");
  if (method === 'coefficient') throw new DqcError('BAD_TABLES', "the 'coefficient' method codes with coefficient tables (entropy/coefficient.ts), not with these tables");
}

function checkShape(level: LevelShape, tables: CompiledLevelTables): void {
  if (level.M !== tables.M || level.K !== tables.K) {
    throw new DqcError(
      'MODEL_MISMATCH',
      `level has M=${level.M}, K=${level.K} but the entropy tables are for M=${tables.M}, K=${tables.K}`,
    );
  }
}

/**
 * Validate a level's indices (length M·h·w, integers in [0, K)) and return them as Uint16Array
 * (the input itself when it already is one). `where` prefixes error messages.
 */
export function checkedIndices(level: LevelIndicesInput, where = 'level'): Uint16Array {
  const { M, h, w, K, indices } = level;
  if (indices.length !== M * h * w) {
    throw new DqcError('BAD_INDICES', `${where}: indices have length ${indices.length}, expected M·h·w = ${M * h * w}`);
  }
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!(v >= 0 && v < K)) throw new DqcError('BAD_INDICES', `${where}: index ${v} at position ${i} is out of range for K=${K}`);
  }
  return indices instanceof Uint16Array ? indices : Uint16Array.from(indices);
}

/** Range-code one level; `tables` must match (M, K). */
export function encodeLevelCompiled(level: LevelIndicesInput, tables: CompiledLevelTables, method: EntropyMethod): Uint8Array {
  checkMethod(method);
  checkShape(level, tables);
  const { M, h, w, K } = level;
  const indices = checkedIndices(level);
  const model = new LevelModel(level, tables, method === 'context');
  const enc = new RangeEncoder(Math.ceil((indices.length * Math.log2(K)) / 16) + 16);
  for (let m = 0; m < M; m++) {
    model.startCodebook(m);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sym = indices[(m * h + y) * w + x];
        model.nb?.gather(indices, m, y, x);
        model.prepare();
        const iv = model.interval(sym);
        enc.encode(iv.start, iv.freq, MAX_TOTAL);
        model.update(sym, iv);
        model.nb?.record(indices, m, y, x, sym);
      }
    }
  }
  return enc.finish();
}

/**
 * Decode one level. Work is bounded by M·h·w symbols whatever the input; garbage either yields
 * some indices or throws DqcError('CORRUPT_STREAM').
 */
export function decodeLevelCompiled(bytes: Uint8Array, shape: LevelShape, tables: CompiledLevelTables, method: EntropyMethod): Uint16Array {
  checkMethod(method);
  checkShape(shape, tables);
  const { M, h, w } = shape;
  const out = new Uint16Array(M * h * w);
  const model = new LevelModel(shape, tables, method === 'context');
  const dec = new RangeDecoder(bytes);
  for (let m = 0; m < M; m++) {
    model.startCodebook(m);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        model.nb?.gather(out, m, y, x);
        model.prepare();
        const t = dec.decodeTarget(MAX_TOTAL);
        const sym = model.find(t);
        const iv = model.last;
        if (t < iv.start || t >= iv.start + iv.freq) throw new Error(`dqc internal error: symbol search inconsistent at ${m},${y},${x}`);
        dec.consume(iv.start, iv.freq);
        out[(m * h + y) * w + x] = sym;
        model.update(sym, iv);
        model.nb?.record(out, m, y, x, sym);
      }
    }
  }
  return out;
}
