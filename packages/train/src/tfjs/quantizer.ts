/**
 * Depthwise quantizer of one hierarchy level, trained as in the DQ paper (Sec. 4.2, A.4) and
 * VQ-VAE(-2): EMA codebooks with Laplace smoothing, straight-through gradients, a commitment
 * loss, codebooks initialised from encoder outputs and re-initialisation of dead codes.
 *
 * Semantics (the ONNX exporter implements the same; see DESIGN.md):
 *   z has M·D channels; slice m is channels [m·D, (m+1)·D). Its index is
 *   argmin_k ||z_m − C[m,k]||² over the codebook C [M,K,D], ties going to the lowest k;
 *   q is the chosen codes concatenated in the same channel layout.
 *
 * The nearest-code search scores every code, scores[p,m,k] = ||C_mk||² − 2 z_mp·C_mk, i.e. the
 * squared distance minus ||z_mp||², which is the same for every k of a row and so cannot change
 * the argmin (leaving it out saves a [P,M,K] pass and avoids cancellation). The products are one
 * 1×1 convolution with a block-diagonal kernel [M·D, M·K]: M× the multiply-adds of a batched
 * matmul, but tfjs-wasm runs Conv2D in XNNPACK and BatchMatMul in a slow loop (4–8 ms against
 * ~20 ms per level of the default config), and [P, M, K] needs no transpose before the argmin.
 *
 * State (non-trainable tf.Variables): codebook C [M,K,D], EMA cluster sizes N [M,K], EMA code
 * sums m [M,K,D]. The `initialised` flag and the RNG state are plain fields; all of it is
 * exported/imported by getState/setState for checkpoints.
 *
 * Invariant after every initialisation or reset of a code: N = 1 and m = C for that code (a
 * one-sample prior), so C = m/N̂ holds up to Laplace smoothing and the next EMA update moves the
 * code smoothly.
 */
import * as tf from './tf.js';
import type { LevelConfig, QuantizerConfig } from '../model/config.js';
import { Rng } from './rng.js';
import { CodePrior } from '../rate/codePrior.js';

// A type alias (not an interface) so that tf.tidy(() => quantizer.quantize(z)) type-checks.
export type QuantizeResult = {
  /** int32 [N, h, w, M]: index of the chosen code of each slice. */
  indices: tf.Tensor4D;
  /** [N, h, w, M·D]: the chosen codes; gradient w.r.t. z is the identity (straight-through). */
  q: tf.Tensor4D;
  /** mean((z − sg(q))²) over every element of z (0 for a grid level). */
  commitLoss: tf.Scalar;
  /**
   * Rate models only: the soft (expected) code length in bits summed over the batch,
   * Σ_slices Σ_k q(k|z)·bits(k|context) with q = softmax(−||z − c_k||²/τ − ln2·bits(k)), the
   * stochastic-quantization posterior (SQ-VAE). Differentiable w.r.t. z: the encoder's rate gradient.
   */
  softBits: tf.Scalar | undefined;
  /** Rate models only: the hard code length Σ bits(k* | context) of the chosen codes, in bits. */
  bits: number;
  /** Rate models only: Σ ||z − c_k*||² over the batch (latent quantization error). */
  latentSse: number;
};

export interface QuantizeOptions {
  /**
   * Context of every slice, position-major [P·M] (the co-located index of the level above); null
   * at the top level or without a rate model.
   */
  context?: Int32Array | null;
  /** Training forward pass: grid levels add uniform noise instead of rounding. */
  training?: boolean;
}

export interface WeightEntry {
  shape: number[];
  data: Float32Array;
}

/**
 * Runs `fn` with the gradient tape off and returns its tensors as ordinary tensors tracked by the
 * caller's scope, with no gradient path to anything (tfjs has no stopGradient).
 *
 * The forward function of a tf.customGrad runs with the tape paused (engine kernelDepth > 0);
 * its results are kept past the inner tidy and re-tracked here via clone (which shares data).
 * Nothing inside `fn` is recorded, so backprop never walks the nearest-code search.
 */
export function untaped<T extends tf.Tensor[]>(fn: () => T): T {
  let kept: tf.Tensor[] = [];
  const dummy = tf.customGrad(() => {
    kept = fn().map((t) => tf.keep(t));
    return { value: tf.scalar(0), gradFunc: () => [] };
  })();
  dummy.dispose();
  return kept.map((t) => {
    const c = tf.clone(t);
    t.dispose();
    return c;
  }) as T;
}

/** Perplexity exp(H) of a histogram (0 for an empty one). */
export function perplexityOf(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total <= 0) return 0;
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const p = counts[i] / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** Perplexity of each codebook of an [M·K] histogram. */
export function perplexities(hist: Float64Array, M: number, K: number): number[] {
  const out: number[] = [];
  for (let m = 0; m < M; m++) out.push(perplexityOf(hist.subarray(m * K, (m + 1) * K)));
  return out;
}

export interface QuantizerOptions {
  /** Level index (names the exported state: `codebook${l}`, `ema${l}.N`, …). */
  level: number;
  /** Contexts of the level's prior (K of the level above, 1 at the top); rate models only. */
  contexts?: number;
  /** Prefix of the tfjs variable names (must be unique in the engine). */
  varPrefix: string;
  /** Seeded RNG for codebook initialisation and dead-code resets (owned by the quantizer). */
  rng: Rng;
}

export class Quantizer {
  readonly M: number;
  readonly K: number;
  readonly D: number;
  readonly level: number;
  readonly codebook: tf.Variable<tf.Rank.R3>;
  /** EMA cluster sizes N [M, K]. */
  readonly emaN: tf.Variable<tf.Rank.R2>;
  /** EMA code sums m [M, K, D]. */
  readonly emaM: tf.Variable<tf.Rank.R3>;
  /** Whether the codebook was initialised from data (initFromData). */
  initialised = false;
  readonly rng: Rng;
  /** Learned conditional prior of the codes (rate models) or null. */
  readonly prior: CodePrior | null;
  /** Fixed scalar grid (codebook k − ⌊K/2⌋, no EMA, noise in training). */
  readonly grid: boolean;
  /**
   * τ of the entropy-constrained assignment, in latent squared distance per nat (rate models):
   * set by the model from λ before each training step, kept in checkpoints and exported.
   * 0 = nearest code.
   */
  tau = 0;

  constructor(
    lv: LevelConfig,
    readonly qcfg: QuantizerConfig,
    opts: QuantizerOptions,
  ) {
    this.M = lv.M;
    this.K = lv.K;
    this.D = lv.D;
    this.level = opts.level;
    this.rng = opts.rng;
    this.grid = lv.grid === true;
    this.prior = qcfg.assign === 'entropy' ? new CodePrior({ M: this.M, K: this.K, C: opts.contexts ?? 1 }) : null;
    // Placeholder codebook before data initialisation: seeded N(0, 1); a grid is fixed.
    const init = new Float32Array(this.M * this.K * this.D);
    for (let i = 0; i < init.length; i++) init[i] = this.grid ? (i % this.K) - Math.floor(this.K / 2) : this.rng.normal();

    const p = opts.varPrefix;
    this.codebook = tf.tidy(() => tf.variable(tf.tensor3d(init, [this.M, this.K, this.D]), false, `${p}codebook`));
    this.emaN = tf.tidy(() => tf.variable(tf.ones([this.M, this.K]) as tf.Tensor2D, false, `${p}ema.N`));
    this.emaM = tf.tidy(() => tf.variable(tf.tensor3d(init, [this.M, this.K, this.D]), false, `${p}ema.m`));
  }

  /** Exported names of this level's state. */
  get names(): { codebook: string; N: string; m: string; initialised: string; rng: string; prior: string; tau: string } {
    const l = this.level;
    return { codebook: `codebook${l}`, N: `ema${l}.N`, m: `ema${l}.m`, initialised: `quant${l}.initialised`, rng: `quant${l}.rng`, prior: `prior${l}.counts`, tau: `quant${l}.tau` };
  }

  private checkZ(z: tf.Tensor4D): number {
    const c = z.shape[3];
    if (c !== this.M * this.D) throw new Error(`quantizer level ${this.level}: z has ${c} channels, expected M·D = ${this.M * this.D}`);
    return z.shape[0] * z.shape[1] * z.shape[2];
  }

  /**
   * Nearest codes without gradients: indices int32 [N,h,w,M] and codes [N,h,w,M·D].
   * Safe to call under a gradient tape (nothing is recorded).
   */
  nearest(z: tf.Tensor4D, bias?: tf.Tensor2D, kernel?: tf.Tensor4D): { indices: tf.Tensor4D; codes: tf.Tensor4D; scores: tf.Tensor2D } {
    const P = this.checkZ(z);
    const [n, h, w] = z.shape;
    const { M, K, D } = this;
    const [indices, codes, scores] = untaped(() => {
      const zRow = tf.reshape(z, [1, 1, P, M * D]) as tf.Tensor4D;
      const scores = tf.reshape(tf.add(tf.conv2d(zRow, kernel ?? this.scoreKernel(), 1, 'valid'), this.codeNorms()), [P, M, K]); // ||c||² − 2z·c
      // Entropy-constrained assignment adds τ·ln2·bits(k | context) (bias [P·M, K]).
      const cost = bias ? tf.add(scores, tf.reshape(bias, [P, M, K])) : scores;
      const idxPM = tf.argMin(cost, 2) as tf.Tensor2D; // [P,M], ties → lowest k
      return [tf.reshape(idxPM, [n, h, w, M]) as tf.Tensor4D, this.lookupFlat(idxPM, [n, h, w]), tf.reshape(scores, [P * M, K])];
    });
    return { indices: indices as tf.Tensor4D, codes: codes as tf.Tensor4D, scores: scores as tf.Tensor2D };
  }

  /**
   * The soft code length R = Σ_slices Σ_k q_k·b_k with q = softmax(−S/τ − ln2·b) (S the scores
   * ||c_k||² − 2 z·c_k, b the bits [P·M, K]), with its gradient w.r.t. z written by hand:
   * dR/dS_k = −q_k·(b_k − R̄)/τ per slice (R̄ = Σ q b), then dR/dz = that times −2C, the transposed
   * 1×1 conv. The scores are reused from the assignment (no second pass), and the backward pass is
   * one forward conv in XNNPACK (tfjs-wasm's Conv2DBackpropInput is a slow single-threaded loop).
   * The codebook gets no gradient: it is learned by EMA.
   */
  private softBits(z: tf.Tensor4D, scores: tf.Tensor2D, bits: tf.Tensor2D, kernel: tf.Tensor4D): tf.Scalar {
    const P = this.checkZ(z);
    const { M, K } = this;
    const tau = this.tau;
    // Tensors the gradient needs go through save(): the forward runs inside the tape's tidy,
    // which disposes anything a closure would capture.
    const f = tf.customGrad((input, save) => {
      const zz = input as tf.Tensor;
      const q = tf.softmax(tf.sub(tf.mul(scores, -1 / tau), tf.mul(bits, Math.LN2)));
      const perSlice = tf.sum(tf.mul(q, bits), 1, true); // R̄ [P·M, 1]
      const dS = tf.mul(tf.mul(q, tf.sub(bits, perSlice)), -1 / tau);
      (save as tf.GradSaveFunc)([dS, tf.transpose(kernel, [0, 1, 3, 2])]);
      return {
        value: tf.sum(perSlice),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          tf.reshape(tf.conv2d(tf.reshape(tf.mul(saved[0], dy), [1, 1, P, M * K]) as tf.Tensor4D, saved[1] as tf.Tensor4D, 1, 'valid'), zz.shape),
        ],
      };
    });
    return f(z) as tf.Scalar;
  }

  /**
   * Code lengths of every code for every slice [P·M, K] under the prior (bits from its integer
   * frequency table, what the entropy coder will charge), plus the host copy of the table.
   */
  private slicesBits(P: number, context: Int32Array | null): { rows: tf.Tensor2D; table: Float32Array } {
    const prior = this.prior!;
    const { M, K } = this;
    const table = prior.bitsTable();
    const rowIdx = new Int32Array(P * M);
    for (let i = 0; i < rowIdx.length; i++) rowIdx[i] = (i % M) * prior.C + (context ? context[i] : 0);
    const rows = tf.tidy(() => tf.gather(tf.tensor2d(table, [M * prior.C, K]), tf.tensor1d(rowIdx, 'int32')) as tf.Tensor2D);
    return { rows, table };
  }

  /** −2·C as a block-diagonal 1×1 conv kernel [1, 1, M·D, M·K] (−2C is exact in floating point). */
  private scoreKernel(): tf.Tensor4D {
    const { M, K, D } = this;
    const c = this.codebook.dataSync() as Float32Array;
    const kernel = new Float32Array(M * D * M * K);
    for (let m = 0; m < M; m++) {
      for (let d = 0; d < D; d++) {
        const row = (m * D + d) * M * K + m * K;
        for (let k = 0; k < K; k++) kernel[row + k] = -2 * c[(m * K + k) * D + d];
      }
    }
    return tf.tensor4d(kernel, [1, 1, M * D, M * K]);
  }

  /** ||C_mk||² as [M·K]. */
  private codeNorms(): tf.Tensor1D {
    return tf.reshape(tf.sum(tf.square(this.codebook), 2), [this.M * this.K]) as tf.Tensor1D;
  }

  /** Codes [P,M] indices → [n,h,w,M·D]. */
  private lookupFlat(idxPM: tf.Tensor2D, nhw: [number, number, number]): tf.Tensor4D {
    const { M, K, D } = this;
    const offsets = tf.range(0, M * K, K, 'int32'); // [M]: m·K
    const flat = tf.add(idxPM, offsets) as tf.Tensor2D; // row of C reshaped [M·K, D]
    const rows = tf.gather(tf.reshape(this.codebook, [M * K, D]), flat); // [P,M,D]
    return tf.reshape(rows, [...nhw, M * D]) as tf.Tensor4D;
  }

  /** Codebook lookup: int32 indices [N,h,w,M] → codes [N,h,w,M·D] (no gradient). */
  lookup(indices: tf.Tensor4D): tf.Tensor4D {
    const [n, h, w, m] = indices.shape;
    if (m !== this.M) throw new Error(`quantizer level ${this.level}: indices have ${m} slices, expected M = ${this.M}`);
    const [codes] = untaped(() => [this.lookupFlat(tf.reshape(tf.cast(indices, 'int32'), [n * h * w, m]) as tf.Tensor2D, [n, h, w])]);
    return codes as tf.Tensor4D;
  }

  /**
   * Quantize z [N,h,w,M·D]: indices, straight-through q, the commitment loss and, for rate
   * models, the code lengths (entropy-constrained assignment under the prior and `context`).
   */
  quantize(z: tf.Tensor4D, opts: QuantizeOptions = {}): QuantizeResult {
    const P = this.checkZ(z);
    const context = opts.context ?? null;
    if (context && context.length !== P * this.M) throw new Error(`quantizer level ${this.level}: context has ${context.length} entries, expected ${P * this.M}`);
    let bitsRows: tf.Tensor2D | null = null;
    let table: Float32Array | null = null;
    let bias: tf.Tensor2D | undefined;
    if (this.prior) {
      ({ rows: bitsRows, table } = this.slicesBits(P, context));
      if (this.tau > 0) bias = untaped(() => [tf.mul(bitsRows!, this.tau * Math.LN2)])[0] as tf.Tensor2D;
    }
    // One −2C kernel (built from the codebook on the host) for the assignment and the rate gradient.
    const kernel = this.scoreKernel();
    const { indices, codes, scores } = this.nearest(z, bias, kernel);
    bias?.dispose();
    const latentSse = this.prior ? untaped(() => [tf.sum(tf.squaredDifference(z, codes))])[0] : null;
    // Straight-through: forward value = codes, dL/dz = dL/dq. A grid in training adds noise instead.
    const forward = this.grid && opts.training ? this.noisy(z) : null;
    const st = tf.customGrad((_z) => ({
      value: forward ? tf.add(_z as tf.Tensor, forward) : tf.clone(codes),
      gradFunc: (dy: tf.Tensor) => [dy],
    }));
    const q = st(z) as tf.Tensor4D;
    forward?.dispose();
    // `codes` has no gradient path to z, so this is mean((z − sg(q))²). A grid needs none.
    const commitLoss = (this.grid ? tf.scalar(0) : tf.mean(tf.squaredDifference(z, codes))) as tf.Scalar;
    if (!this.prior || !bitsRows || !table || !latentSse) {
      scores.dispose();
      kernel.dispose();
      return { indices, q, commitLoss, softBits: undefined, bits: 0, latentSse: 0 };
    }
    const sse = latentSse.dataSync()[0];
    latentSse.dispose();

    const idx = indices.dataSync();
    let bits = 0;
    for (let i = 0; i < idx.length; i++) bits += table[((i % this.M) * this.prior.C + (context ? context[i] : 0)) * this.K + idx[i]];
    // Soft rate only once τ is known (the first steps of a run assign nearest codes).
    const softBits = this.tau > 0 ? this.softBits(z, scores, bitsRows, kernel) : undefined;
    bitsRows.dispose();
    scores.dispose();
    kernel.dispose();
    return { indices, q, commitLoss, softBits, bits, latentSse: sse };
  }

  /** Uniform noise in [−Δ/2, Δ/2) of z's shape, from the quantizer's seeded RNG (resumes exactly). */
  private noisy(z: tf.Tensor4D): tf.Tensor4D {
    const u = new Float32Array(z.size);
    const step = this.gridStep();
    for (let i = 0; i < u.length; i++) u[i] = (this.rng.next() - 0.5) * step;
    return tf.tensor4d(u, z.shape);
  }

  /** Fold a batch's chosen codes into the prior (after the gradient step, like emaUpdate). */
  priorUpdate(indices: tf.Tensor4D, context: Int32Array | null): void {
    this.prior?.update(indices.dataSync(), context);
  }

  /**
   * Initialise the codebook from encoder outputs: codebook m gets K vectors z[p, m] at distinct
   * random positions p of the batch (seeded). When the batch has fewer than K positions, every
   * position is used and the rest are random repeats plus N(0, (0.01/√D)²) noise. Sets N = 1,
   * m = C and the initialised flag.
   */
  initFromData(z: tf.Tensor4D): void {
    if (this.grid) return this.initGrid(z);
    const P = this.checkZ(z);
    const { M, K, D } = this;
    const rows = new Int32Array(M * K);
    const noise = new Float32Array(M * K * D);
    let anyNoise = false;
    for (let m = 0; m < M; m++) {
      const picks = this.rng.distinct(P, Math.min(P, K));
      for (let k = 0; k < K; k++) {
        let p: number;
        if (k < picks.length) {
          p = picks[k];
        } else {
          p = picks[this.rng.int(picks.length)];
          anyNoise = true;
          for (let d = 0; d < D; d++) noise[(m * K + k) * D + d] = (0.01 / Math.sqrt(D)) * this.rng.normal();
        }
        rows[m * K + k] = p * M + m; // row of z reshaped [P·M, D]
      }
    }
    tf.tidy(() => {
      let c = tf.reshape(tf.gather(tf.reshape(z, [P * M, D]), tf.tensor1d(rows, 'int32')), [M, K, D]) as tf.Tensor3D;
      if (anyNoise) c = tf.add(c, tf.tensor3d(noise, [M, K, D]));
      this.codebook.assign(c);
      this.emaM.assign(c);
      this.emaN.assign(tf.ones([M, K]));
    });
    this.initialised = true;
  }

  /**
   * A grid's step Δ is fixed once from data, Δ = std(z)/2 (so K = 32 codes span ±8σ), and the
   * codebook becomes (k − ⌊K/2⌋)·Δ: a uniform scalar quantizer that a trained trunk can use from
   * the first step (a step of 1 would round a small-valued trunk's latents all to 0).
   */
  private initGrid(z: tf.Tensor4D): void {
    const v = z.dataSync() as Float32Array;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < v.length; i++) {
      s += v[i];
      s2 += v[i] * v[i];
    }
    const mean = s / v.length;
    const step = Math.fround(Math.max(Math.sqrt(Math.max(s2 / v.length - mean * mean, 0)) / 2, 1e-6));
    const c = new Float32Array(this.M * this.K);
    for (let i = 0; i < c.length; i++) c[i] = ((i % this.K) - Math.floor(this.K / 2)) * step;
    tf.tidy(() => {
      this.codebook.assign(tf.tensor3d(c, [this.M, this.K, 1]));
      this.emaM.assign(tf.tensor3d(c, [this.M, this.K, 1]));
    });
    this.initialised = true;
  }

  /** Step of a grid level's codebook. */
  private gridStep(): number {
    const c = this.codebook.dataSync();
    return c[1] - c[0];
  }

  /**
   * EMA codebook update (call after the gradient step, outside the tape), with γ = decay:
   *   N ← γN + (1−γ)n,  m ← γm + (1−γ)Σz,  N̂ = (N+ε)/(ΣN + Kε)·ΣN,  C = m/N̂,
   * where n[m,k] counts the batch's slices assigned to code k and Σz sums them.
   */
  emaUpdate(z: tf.Tensor4D, indices: tf.Tensor4D): void {
    if (this.grid) return;
    const P = this.checkZ(z);
    const { M, K, D } = this;
    const g = this.qcfg.decay;
    const eps = this.qcfg.eps;
    // Counts and sums are accumulated in JS (P·M·D additions): tfjs-wasm's BatchMatMul for
    // one-hotᵀ·z took ~15 ms per level; the rest is elementwise on [M,K(,D)] in float32.
    const zs = z.dataSync() as Float32Array;
    const idx = indices.dataSync();
    const counts = new Float32Array(M * K);
    const sums = new Float32Array(M * K * D);
    for (let p = 0; p < P; p++) {
      for (let m = 0; m < M; m++) {
        const code = m * K + idx[p * M + m];
        counts[code] += 1;
        const src = (p * M + m) * D;
        const dst = code * D;
        for (let d = 0; d < D; d++) sums[dst + d] += zs[src + d];
      }
    }
    const N = Float32Array.from(this.emaN.dataSync() as Float32Array);
    const mm = Float32Array.from(this.emaM.dataSync() as Float32Array);
    const C = new Float32Array(M * K * D);
    for (let m = 0; m < M; m++) {
      let total = 0;
      for (let k = 0; k < K; k++) {
        const i = m * K + k;
        N[i] = Math.fround(Math.fround(N[i] * g) + Math.fround(counts[i] * (1 - g)));
        total += N[i];
      }
      for (let k = 0; k < K; k++) {
        const i = m * K + k;
        const nHat = ((N[i] + eps) / (total + K * eps)) * total;
        for (let d = 0; d < D; d++) {
          mm[i * D + d] = Math.fround(Math.fround(mm[i * D + d] * g) + Math.fround(sums[i * D + d] * (1 - g)));
          C[i * D + d] = mm[i * D + d] / nHat;
        }
      }
    }
    tf.tidy(() => {
      this.emaN.assign(tf.tensor2d(N, [M, K]));
      this.emaM.assign(tf.tensor3d(mm, [M, K, D]));
      this.codebook.assign(tf.tensor3d(C, [M, K, D]));
    });
  }

  /**
   * Re-initialise dead codes: every code whose EMA cluster size N is below deadThreshold gets the
   * vector z[p, m] of a random position p of this batch (distinct positions within a codebook
   * while the batch has enough), and N = 1, m = that vector. Returns how many codes were reset.
   */
  resetDeadCodes(z: tf.Tensor4D): number {
    if (this.grid) return 0;
    const P = this.checkZ(z);
    const { M, K, D } = this;
    const thr = this.qcfg.deadThreshold;
    const N = this.emaN.dataSync() as Float32Array;
    const dead: { m: number; k: number }[] = [];
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) if (N[m * K + k] < thr) dead.push({ m, k });
    if (dead.length === 0) return 0;
    const rows = new Int32Array(dead.length);
    for (let m = 0; m < M; m++) {
      const mine = dead.map((d, i) => ({ ...d, i })).filter((d) => d.m === m);
      if (mine.length === 0) continue;
      const picks = this.rng.distinct(P, Math.min(P, mine.length));
      mine.forEach((d, j) => {
        const p = j < picks.length ? picks[j] : this.rng.int(P);
        rows[d.i] = p * M + m;
      });
    }
    const vecs = tf.tidy(() => tf.gather(tf.reshape(z, [P * M, D]), tf.tensor1d(rows, 'int32')).dataSync() as Float32Array);
    const C = Float32Array.from(this.codebook.dataSync() as Float32Array);
    const mm = Float32Array.from(this.emaM.dataSync() as Float32Array);
    const NN = Float32Array.from(N);
    dead.forEach(({ m, k }, i) => {
      const at = (m * K + k) * D;
      for (let d = 0; d < D; d++) {
        C[at + d] = vecs[i * D + d];
        mm[at + d] = vecs[i * D + d];
      }
      NN[m * K + k] = 1;
    });
    tf.tidy(() => {
      this.codebook.assign(tf.tensor3d(C, [M, K, D]));
      this.emaM.assign(tf.tensor3d(mm, [M, K, D]));
      this.emaN.assign(tf.tensor2d(NN, [M, K]));
    });
    return dead.length;
  }

  /** Code histogram of these indices: [M·K] counts, codebook-major. */
  histogram(indices: tf.Tensor4D): Float64Array {
    const { M, K } = this;
    if (indices.shape[3] !== M) throw new Error(`quantizer level ${this.level}: indices have ${indices.shape[3]} slices, expected M = ${M}`);
    const idx = indices.dataSync();
    const hist = new Float64Array(M * K);
    for (let i = 0; i < idx.length; i++) hist[(i % M) * K + idx[i]]++;
    return hist;
  }

  /** Per-codebook perplexity exp(H) of the batch's code histogram (K = perfectly uniform use). */
  usage(indices: tf.Tensor4D): number[] {
    return perplexities(this.histogram(indices), this.M, this.K);
  }

  /** State for checkpoints/export: codebook, EMA statistics, initialised flag, RNG state. */
  getState(): Map<string, WeightEntry> {
    const n = this.names;
    const s = this.rng.state;
    return new Map<string, WeightEntry>([
      [n.codebook, { shape: [this.M, this.K, this.D], data: Float32Array.from(this.codebook.dataSync() as Float32Array) }],
      [n.N, { shape: [this.M, this.K], data: Float32Array.from(this.emaN.dataSync() as Float32Array) }],
      [n.m, { shape: [this.M, this.K, this.D], data: Float32Array.from(this.emaM.dataSync() as Float32Array) }],
      [n.initialised, { shape: [1], data: Float32Array.of(this.initialised ? 1 : 0) }],
      // A uint32 as two exact 16-bit halves.
      [n.rng, { shape: [2], data: Float32Array.of(s >>> 16, s & 0xffff) }],
      ...(this.prior
        ? ([
            [n.prior, { shape: [this.prior.M, this.prior.C, this.prior.K], data: this.prior.getState() }],
            [n.tau, { shape: [1], data: Float32Array.of(this.tau) }],
          ] as [string, WeightEntry][])
        : []),
    ]);
  }

  /**
   * Restore state. The codebook is required; EMA statistics, flag and RNG state are optional
   * (missing N/m: N = 1, m = C; missing flag: initialised; missing RNG: unchanged).
   */
  setState(get: (name: string, shape: number[]) => Float32Array | undefined): void {
    const n = this.names;
    const { M, K, D } = this;
    const c = get(n.codebook, [M, K, D]);
    if (!c) throw new Error(`missing weight ${n.codebook}`);
    const N = get(n.N, [M, K]);
    const m = get(n.m, [M, K, D]);
    if ((N === undefined) !== (m === undefined)) throw new Error(`weights ${n.N} and ${n.m} must be given together`);
    tf.tidy(() => {
      this.codebook.assign(tf.tensor3d(c, [M, K, D]));
      this.emaN.assign(N ? tf.tensor2d(N, [M, K]) : tf.ones([M, K]));
      this.emaM.assign(tf.tensor3d(m ?? c, [M, K, D]));
    });
    const flag = get(n.initialised, [1]);
    this.initialised = flag ? flag[0] !== 0 : true;
    const r = get(n.rng, [2]);
    if (r) this.rng.state = ((r[0] << 16) | r[1]) >>> 0;
    if (this.prior) {
      // Missing (a distortion-only warm start): the prior starts empty, τ from the first batch.
      const counts = get(n.prior, [this.prior.M, this.prior.C, this.prior.K]);
      if (counts) this.prior.setState(counts);
      const tau = get(n.tau, [1]);
      if (tau) this.tau = tau[0];
    }
  }

  dispose(): void {
    this.codebook.dispose();
    this.emaN.dispose();
    this.emaM.dispose();
  }
}
