/**
 * The learned probability model of one level's code indices: p(k | m, c), where m is the
 * codebook and c the context, the co-located index of the level above (codebook m mod M_parent
 * at position (⌊y/r⌋, ⌊x/r⌋), r the stride ratio). The top level has one context (c = 0), i.e. a
 * factorized prior per codebook. In the DQ paper's terms (appendix, Prop. 3) this is the prior
 * p(z) made learnable: the KL term of the bound becomes the code length −log2 p(k | m, c).
 *
 * Estimation: exponentially decayed counts, N ← γ·N + n per step, smoothed towards the
 * codebook's marginal (itself Laplace-smoothed):
 *   p(k | m, c) = (N[m,c,k] + α·p_m(k)) / (Σ_k N[m,c,k] + α),  p_m(k) = (N_m[k] + 1) / (Σ_k N_m[k] + K).
 * Counts are the maximum-likelihood solution of minimizing the rate over the prior's logits, so
 * this reaches what gradient descent on logits would reach without a learning rate to tune, and
 * it is cheap in JS (no tfjs kernels). The encoder gets its rate gradient elsewhere (the soft
 * assignment in the quantizer); this object only says how many bits each code costs.
 *
 * The integer tables written into the model (`frequencyTable`) are derived from the same
 * probabilities; the exported quantizer assigns codes with −ln of *those* integer frequencies,
 * so training, encoding and the entropy coder agree.
 */

/** Frequencies of one context sum to this (the range coder's MAX_TOTAL, docs/format.md §6.4). */
export const TABLE_TOTAL = 1 << 16;

export interface CodePriorShape {
  M: number;
  K: number;
  /** Number of contexts: K of the parent level, or 1 for the top level. */
  C: number;
}

export class CodePrior {
  readonly M: number;
  readonly K: number;
  readonly C: number;
  /** Decayed conditional counts [M, C, K], float32 so that checkpoints restore them exactly. */
  readonly counts: Float32Array;

  constructor(
    shape: CodePriorShape,
    readonly decay = 0.99,
    readonly alpha = 16,
  ) {
    this.M = shape.M;
    this.K = shape.K;
    this.C = shape.C;
    this.counts = new Float32Array(this.M * this.C * this.K);
  }

  /** Row offset of (m, c) in counts / tables. */
  row(m: number, c: number): number {
    return (m * this.C + c) * this.K;
  }

  /** Fold one batch's assignments in: idx [P·M] (position-major), ctx [P·M] (0 for the top level). */
  update(idx: ArrayLike<number>, ctx: ArrayLike<number> | null): void {
    const { M, K, C } = this;
    const g = this.decay;
    const n = this.counts;
    for (let i = 0; i < n.length; i++) n[i] *= g;
    for (let i = 0; i < idx.length; i++) {
      const m = i % M;
      const c = ctx ? ctx[i] : 0;
      n[(m * C + c) * K + idx[i]] += 1;
    }
  }

  /** Probabilities [M, C, K] (float64) from the current counts. */
  probabilities(): Float64Array {
    const { M, K, C, alpha } = this;
    const n = this.counts;
    const out = new Float64Array(M * C * K);
    const marg = new Float64Array(K);
    const pm = new Float64Array(K);
    for (let m = 0; m < M; m++) {
      marg.fill(0);
      const base = m * C * K;
      for (let i = base; i < base + C * K; i += K) for (let k = 0; k < K; k++) marg[k] += n[i + k];
      let mt = 0;
      for (let k = 0; k < K; k++) mt += marg[k];
      for (let k = 0; k < K; k++) pm[k] = (alpha * (marg[k] + 1)) / (mt + K);
      for (let r = base; r < base + C * K; r += K) {
        let tot = 0;
        for (let k = 0; k < K; k++) tot += n[r + k];
        const inv = 1 / (tot + alpha);
        for (let k = 0; k < K; k++) out[r + k] = (n[r + k] + pm[k]) * inv;
      }
    }
    return out;
  }

  /**
   * Integer frequencies [M, C, K] (each ≥ 1, each row summing to exactly TABLE_TOTAL): what the
   * entropy coder and the exported quantizer use. Rounding spreads the remainder over the largest
   * entries, deterministically.
   */
  frequencyTable(): Uint16Array {
    return quantizeRows(this.probabilities(), this.K);
  }

  /** Code lengths −log2(f / TABLE_TOTAL) [M, C, K] of the integer table, as float32. */
  bitsTable(): Float32Array {
    return bitsOf(this.frequencyTable());
  }

  getState(): Float32Array {
    return Float32Array.from(this.counts);
  }

  setState(s: ArrayLike<number>): void {
    if (s.length !== this.counts.length) throw new Error(`code prior state has ${s.length} values, expected ${this.counts.length}`);
    for (let i = 0; i < s.length; i++) this.counts[i] = s[i];
  }
}

/** −log2(f / TABLE_TOTAL) for each frequency. */
export function bitsOf(freq: Uint16Array): Float32Array {
  // 16 − log2 f, from a table of log2 over the u16 range (built once): no Math.log2 per entry.
  const log2 = log2Table();
  const out = new Float32Array(freq.length);
  for (let i = 0; i < freq.length; i++) out[i] = 16 - log2[freq[i]];
  return out;
}

let log2Cache: Float64Array | null = null;
function log2Table(): Float64Array {
  if (!log2Cache) {
    log2Cache = new Float64Array(TABLE_TOTAL);
    for (let f = 1; f < TABLE_TOTAL; f++) log2Cache[f] = Math.log2(f);
  }
  return log2Cache;
}

/**
 * Rows of probabilities → integer frequencies summing to TABLE_TOTAL with every entry ≥ 1 (so
 * with K ≥ 2 each entry is ≤ TABLE_TOTAL − 1 and fits a u16).
 */
export function quantizeRows(p: Float64Array, K: number): Uint16Array {
  const out = new Uint16Array(p.length);
  const spare = TABLE_TOTAL - K; // mass above the floor of 1 per code
  for (let r = 0; r < p.length; r += K) {
    let s = 0;
    let best = r;
    for (let k = 0; k < K; k++) {
      s += p[r + k];
      if (p[r + k] > p[best]) best = r + k; // ties to the lowest k
    }
    let used = 0;
    for (let k = 0; k < K; k++) {
      const f = 1 + Math.floor((p[r + k] / s) * spare);
      out[r + k] = f;
      used += f;
    }
    // The rounding remainder (< K) goes to the most probable code, whose relative change is smallest.
    out[best] += TABLE_TOTAL - used;
  }
  return out;
}
