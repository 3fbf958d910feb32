/**
 * The causal neighbourhood of a code: candidate codes and the rank context (docs/format.md §6.2).
 * Shared by the coder and by table training so the two can never disagree.
 *
 * Coding order is the storage order: codebook m, then row y, then column x. When coding
 * codebook m, all of codebook m−1 is known, which gives two cross-codebook signals: whether
 * m−1 is flat at this spot (slices see the same image structure, so edges line up), and the
 * code that last followed the same m−1 code (a tiny adaptive co-occurrence cache).
 */
import type { CompiledLevelTables } from './tables.js';
import { BASE_CANDIDATES } from './tables.js';
import type { LevelShape } from './types.js';

export class Neighbourhood {
  /** Distinct candidate codes in priority order; only the first `n` are valid. */
  readonly cand: Int32Array;
  n = 0;
  /** Rank context in [0, NUM_CONTEXTS). */
  ctx = 0;
  private readonly stamp: Int32Array;
  private tick = 0;
  private readonly cross: Int32Array;
  private readonly w: number;
  private readonly hw: number;
  private readonly K: number;
  private readonly T: number;
  private readonly succ: Uint16Array;

  constructor(shape: LevelShape, tables: CompiledLevelTables) {
    this.w = shape.w;
    this.hw = shape.h * shape.w;
    this.K = shape.K;
    this.T = tables.T;
    this.succ = tables.succ;
    this.cand = new Int32Array(BASE_CANDIDATES + 2 * tables.T);
    this.stamp = new Int32Array(shape.K).fill(-1);
    this.cross = new Int32Array(shape.K);
  }

  /** Forget the cross-codebook cache: it maps codebook m−1 codes to codebook m codes, so it is per codebook. */
  startCodebook(): void {
    this.cross.fill(-1);
  }

  /** Fill `cand`, `n` and `ctx` for position (m, y, x); every earlier position of `idx` must be final. */
  gather(idx: Uint16Array, m: number, y: number, x: number): void {
    const { w, hw, K, T, succ } = this;
    const i = m * hw + y * w + x;
    const L = x > 0 ? idx[i - 1] : -1;
    const U = y > 0 ? idx[i - w] : -1;
    const UL = x > 0 && y > 0 ? idx[i - w - 1] : -1;
    const UR = y > 0 && x < w - 1 ? idx[i - w + 1] : -1;
    this.tick++;
    this.n = 0;
    this.push(L);
    this.push(U);
    this.push(UR);
    this.push(UL);
    this.push(x > 1 ? idx[i - 2] : -1);
    this.push(y > 1 ? idx[i - 2 * w] : -1);
    let prevState = 4;
    if (m > 0) {
      const j = i - hw;
      const v = idx[j];
      this.push(this.cross[v]);
      prevState = (x > 0 && idx[j - 1] === v ? 1 : 0) | (y > 0 && idx[j - w] === v ? 2 : 0);
    }
    if (T > 0) this.pushSuccessors(m * K, L, U);
    const nb = eq(L, U) | (eq(L, UL) << 1) | (eq(U, UR) << 2) | (eq(U, UL) << 3);
    this.ctx = nb * 5 + prevState;
  }

  /**
   * Append succ[m][L][t] and succ[m][U][t], interleaved, t = 0..T−1 (§6.2). Successor codes are
   * never absent, so the duplicate test is done without branches: the code is always written at
   * cand[n], and n advances only when its stamp is not this symbol's tick.
   */
  private pushSuccessors(mK: number, L: number, U: number): void {
    const { T, succ, stamp, cand } = this;
    const tick = this.tick;
    let n = this.n;
    if (L >= 0 && U >= 0) {
      const lBase = (mK + L) * T;
      const uBase = (mK + U) * T;
      for (let t = 0; t < T; t++) {
        const a = succ[lBase + t];
        cand[n] = a;
        n += isNot(stamp[a], tick);
        stamp[a] = tick;
        const b = succ[uBase + t];
        cand[n] = b;
        n += isNot(stamp[b], tick);
        stamp[b] = tick;
      }
    } else if (L >= 0 || U >= 0) {
      const base = (mK + (L >= 0 ? L : U)) * T;
      for (let t = 0; t < T; t++) {
        const a = succ[base + t];
        cand[n] = a;
        n += isNot(stamp[a], tick);
        stamp[a] = tick;
      }
    }
    this.n = n;
  }

  /** Position of code v in `cand`, or −1 (a linear scan: n is small and v usually comes early). */
  indexOf(v: number): number {
    if (this.stamp[v] !== this.tick) return -1;
    const { cand, n } = this;
    for (let j = 0; j < n; j++) if (cand[j] === v) return j;
    return -1;
  }

  /** Note the final code at (m, y, x) (feeds the cross-codebook cache of codebook m). */
  record(idx: Uint16Array, m: number, y: number, x: number, sym: number): void {
    if (m > 0) this.cross[idx[(m - 1) * this.hw + y * this.w + x]] = sym;
  }

  private push(v: number): void {
    if (v >= 0 && this.stamp[v] !== this.tick) {
      this.stamp[v] = this.tick;
      this.cand[this.n++] = v;
    }
  }
}

/** 1 when a ≠ b, else 0, without a branch (int32 inputs). */
function isNot(a: number, b: number): number {
  const d = a ^ b;
  return (d | -d) >>> 31;
}

/** 1 when both neighbours exist and hold the same code. */
function eq(a: number, b: number): number {
  return a >= 0 && a === b ? 1 : 0;
}
