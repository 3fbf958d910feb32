/**
 * The trainable hierarchical DQ-AE in TensorFlow.js (Algorithm 1 of the DQ paper), built from the
 * graph IR of model/architecture.ts and one Quantizer per level.
 *
 * Forward (images NHWC in [0, 1]):
 *   e_0 … e_{L-1} = encoder(x)
 *   for l = L-1 … 0:  z_l = preQuant_l(e_l [, c_l]);  (indices_l, q_l) = quantize_l(z_l)
 *                     if l > 0: c_{l-1} = condition_l(q_l [, c_l])
 *   u_l = upsampler_l(q_l);  recon = decoder(u_0, …, u_{L-1})
 *
 * Progressive preview (`keepLevels = n`, 1 ≤ n ≤ L): decode with the top n levels only. The
 * decoder input u_l of every dropped level l < L − n is an all-zero tensor of u_l's shape
 * ([N, H/s_0, W/s_0, channels], s_0 = levels[0].stride); the upsamplers of dropped levels are not
 * run. Nothing else changes (the encode side still quantizes every level; conditioning only
 * flows downwards, so the kept levels' codes do not depend on the dropped ones). This is the
 * reference code's `decode_code` with a level range, and the ONNX decoder mirrors it exactly.
 *
 * Memory: forward/decode return tensors owned by the caller (wrap in tf.tidy); trainStep,
 * evaluate and initialiseCodebooks clean up after themselves.
 */
import * as tf from './tf.js';
import { priorContexts, type ModelConfig } from '../model/config.js';
import { allParams, buildArchitecture, tensorNames, type Architecture, type ParamSpec } from '../model/architecture.js';
import { runGraph } from './executor.js';
import { Quantizer, type WeightEntry } from './quantizer.js';
import { Rng } from './rng.js';
import type { GradientApplier } from '../train/adamw.js';

export type { WeightEntry } from './quantizer.js';

export interface ForwardOptions {
  /** Decode from the top `keepLevels` levels only (default: all); see the file comment. */
  keepLevels?: number;
}

// A type alias (not an interface) so that tf.tidy(() => model.forward(x)) type-checks.
export type ForwardResult = {
  /** [N, H, W, 3] reconstruction (not clipped). */
  recon: tf.Tensor4D;
  /** Σ over levels of mean((z_l − sg(q_l))²). */
  commitLoss: tf.Scalar;
  /** Per level, bottom first: int32 [N, h_l, w_l, M_l]. */
  indices: tf.Tensor4D[];
  /** Per level, bottom first: pre-quantization features [N, h_l, w_l, M_l·D_l]. */
  z: tf.Tensor4D[];
  /** Per level, bottom first: straight-through quantized features (same shape as z). */
  q: tf.Tensor4D[];
  /** Rate models: per level (bottom first) the code length of the chosen codes in bits; else zeros. */
  bits: number[];
  /** Rate models: Σ over levels of the soft code length (bits, differentiable w.r.t. the encoder); else null. */
  softBits: tf.Scalar | undefined;
  /** Rate models: per level (bottom first) Σ ||z − c_k*||² (latent quantization error); else zeros. */
  latentSse: number[];
  /** Rate models: per level (bottom first) the prior's context of every slice (undefined at the top). */
  contexts: (Int32Array | undefined)[];
};

export interface TrainStepResult {
  /** mse + β·commit (+ bpp / (λ·255²) for rate models). */
  loss: number;
  /** Rate models: bits per pixel of the batch under the prior (0 otherwise). */
  bpp: number;
  mse: number;
  /** Commitment loss summed over levels (before β). */
  commit: number;
  /** Per level (bottom first), per codebook perplexity of the batch's indices. */
  perplexity: number[][];
  /** Codes re-initialised this step (all levels). */
  deadResets: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export interface EvaluateResult {
  /** Reconstruction, NHWC, same layout as the input. */
  recon: Float32Array;
  mse: number;
  /** 10·log10(1/mse), images in [0, 1]. */
  psnr: number;
  perplexity: number[][];
  /** Per level, the code histogram [M·K] (codebook-major), for usage over many batches. */
  histograms: Float64Array[];
  /** Rate models: per level (bottom first), bits of the batch's codes under the prior; else zeros. */
  bits: number[];
}

export interface TrainStepOptions {
  /** Global-norm gradient clipping threshold; ≤ 0 or Infinity disables clipping. */
  clipNorm: number;
  /**
   * Reconstruct from the top `keepLevels` levels only for this step (preview training): the
   * dropped levels' upsamplers get no gradient, and the upper levels learn to carry structure.
   */
  keepLevels?: number;
  /**
   * Rate–distortion weight λ (rate models): loss = R + λ·D with R in bits per pixel and D the MSE on
   * the 8-bit scale, divided by λ·255² so that it stays on the scale of the distortion-only loss
   * (same optimizer dynamics, same minimiser). Required for rate models.
   */
  lambda?: number;
}

/** Range of the 8-bit scale the distortion λ refers to. */
const PEAK = 255;

/** Weight name of the rate model's distortion gain G (see DqAe.distortionGain). */
const GAIN_NAME = 'rate.gain';

/**
 * Context of each slice of a child level [N, h, w, M] from its parent's indices [N, hp, wp, Mp]:
 * the co-located parent index of codebook m mod Mp, position-major like the quantizer's slices.
 */
export function parentContext(parent: Int32Array | Uint8Array | Float32Array | ArrayLike<number>, parentShape: number[], childShape: number[]): Int32Array {
  const [n, hp, wp, Mp] = parentShape;
  const [, h, w, M] = childShape;
  const ry = h / hp;
  const rx = w / wp;
  if (!Number.isInteger(ry) || !Number.isInteger(rx)) throw new Error(`level sizes ${w}×${h} and ${wp}×${hp} are not integer multiples`);
  const out = new Int32Array(n * h * w * M);
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const py = Math.floor(y / ry);
      for (let x = 0; x < w; x++) {
        const base = ((b * hp + py) * wp + Math.floor(x / rx)) * Mp;
        for (let m = 0; m < M; m++) out[i++] = parent[base + (m % Mp)];
      }
    }
  }
  return out;
}

/** Initial weight scale of the image-producing layer relative to He init (see the constructor). */
export const OUTPUT_INIT_SCALE = 0.1;

/** First variable-name prefix not used by a live model in this engine (dqae/, dqae_1/, …). */
function freePrefix(names: string[]): string {
  const registered = tf.engine().registeredVariables;
  for (let i = 0; ; i++) {
    const p = i === 0 ? 'dqae/' : `dqae_${i}/`;
    if (!names.some((n) => `${p}${n}` in registered)) return p;
  }
}

export class DqAe {
  /** Trainable parameters by architecture name (`${op}.w`, `${op}.b`), in allParams order. */
  private readonly params = new Map<string, tf.Variable>();
  private readonly specs: ParamSpec[];
  readonly quantizers: Quantizer[];
  /** Prefix of this model's tfjs variable names. */
  readonly varPrefix: string;

  private constructor(
    readonly cfg: ModelConfig,
    readonly arch: Architecture,
    seed: number,
  ) {
    this.specs = allParams(arch);
    const L = cfg.levels.length;
    const qNames = cfg.levels.flatMap((_, l) => [`quant${l}/codebook`, `quant${l}/ema.N`, `quant${l}/ema.m`]);
    this.varPrefix = freePrefix([...this.specs.map((s) => s.name), ...qNames]);
    const rng = new Rng(seed);
    // He-normal weights (std √(2/fanIn)), zero biases, one seeded stream in allParams order.
    // The image-producing layer (the decoder's last conv) is scaled by OUTPUT_INIT_SCALE: with
    // plain He init the initial reconstruction has std ≈ 2 around 0.5 (MSE ≈ 4 on [0,1] images),
    // which costs hundreds of steps at lr 2e-4 just to shrink; scaled, it starts near 0.5.
    const lastOp = [...arch.decoder.ops].reverse().find((op) => op.kind === 'conv' || op.kind === 'convT');
    const outputWeight = lastOp && 'name' in lastOp ? `${lastOp.name}.w` : '';
    const weightRng = rng.fork(1);
    for (const s of this.specs) {
      const size = s.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (s.kind === 'weight') {
        const std = Math.sqrt(2 / s.fanIn) * (s.name === outputWeight ? OUTPUT_INIT_SCALE : 1);
        for (let i = 0; i < size; i++) data[i] = std * weightRng.normal();
      }
      this.params.set(s.name, tf.tidy(() => tf.variable(tf.tensor(data, s.shape), true, `${this.varPrefix}${s.name}`)));
    }
    this.quantizers = [];
    for (let l = 0; l < L; l++) {
      this.quantizers.push(new Quantizer(cfg.levels[l], cfg.quantizer, { level: l, contexts: priorContexts(cfg, l), varPrefix: `${this.varPrefix}quant${l}/`, rng: rng.fork(100 + l) }));
    }
  }

  /** A freshly initialised model; identical seeds give identical weights and training runs. */
  static create(cfg: ModelConfig, seed: number): DqAe {
    return new DqAe(cfg, buildArchitecture(cfg), seed);
  }

  get levels(): number {
    return this.cfg.levels.length;
  }

  /** The trainable variable of a parameter (architecture name, e.g. `enc/conv0.w`). */
  param(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`unknown parameter ${name}`);
    return v;
  }

  /** Every trainable variable, in a stable order. */
  get trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  private readonly lookup = (name: string): tf.Tensor => this.param(name);

  private checkKeep(keepLevels: number | undefined): number {
    const L = this.levels;
    const keep = keepLevels ?? L;
    if (!Number.isInteger(keep) || keep < 1 || keep > L) throw new RangeError(`keepLevels must be an integer in [1, ${L}] (got ${keepLevels})`);
    return keep;
  }

  private checkImage(x: tf.Tensor4D): void {
    const s = this.cfg.levels[this.levels - 1].stride;
    const [, h, w, c] = x.shape;
    if (c !== 3) throw new Error(`images must have 3 channels (got ${c})`);
    if (h % s !== 0 || w % s !== 0) throw new Error(`image size ${w}×${h} must be a multiple of the total stride ${s}`);
  }

  /**
   * Encode side of Algorithm 1. `beforeQuantize(l, z_l)` runs before level l is quantized (used
   * to initialise codebooks from data top-down).
   */
  private encode(
    x: tf.Tensor4D,
    beforeQuantize?: (l: number, z: tf.Tensor4D) => void,
    training = false,
  ): { z: tf.Tensor4D[]; q: tf.Tensor4D[]; indices: tf.Tensor4D[]; commit: tf.Scalar[]; bits: number[]; latentSse: number[]; soft: tf.Scalar[]; contexts: (Int32Array | undefined)[] } {
    this.checkImage(x);
    const L = this.levels;
    const enc = runGraph(this.arch.encoder, this.lookup, { [tensorNames.image]: x });
    const z: tf.Tensor4D[] = new Array(L);
    const q: tf.Tensor4D[] = new Array(L);
    const indices: tf.Tensor4D[] = new Array(L);
    const commit: tf.Scalar[] = [];
    const bits: number[] = new Array(L).fill(0);
    const latentSse: number[] = new Array(L).fill(0);
    const soft: tf.Scalar[] = [];
    const contexts: (Int32Array | undefined)[] = new Array(L).fill(undefined);
    let c: tf.Tensor4D | null = null; // c_l, produced by level l+1
    for (let l = L - 1; l >= 0; l--) {
      const g = this.arch.levels[l];
      const inputs: Record<string, tf.Tensor4D> = { [tensorNames.e(l)]: enc[tensorNames.e(l)] };
      if (c) inputs[tensorNames.c(l)] = c;
      z[l] = runGraph(g.preQuant, this.lookup, inputs)[tensorNames.z(l)];
      beforeQuantize?.(l, z[l]);
      const quant = this.quantizers[l];
      if (quant.prior && l + 1 < L) contexts[l] = parentContext(indices[l + 1].dataSync(), indices[l + 1].shape, [...z[l].shape.slice(0, 3), quant.M]);
      const r = quant.quantize(z[l], { context: contexts[l], training });
      q[l] = r.q;
      indices[l] = r.indices;
      commit.push(r.commitLoss);
      bits[l] = r.bits;
      latentSse[l] = r.latentSse;
      if (r.softBits) soft.push(r.softBits);
      if (g.condition) {
        const ci: Record<string, tf.Tensor4D> = { [tensorNames.q(l)]: q[l] };
        if (c) ci[tensorNames.c(l)] = c;
        c = runGraph(g.condition, this.lookup, ci)[tensorNames.c(l - 1)];
      }
    }
    return { z, q, indices, commit, bits, latentSse, soft, contexts };
  }

  /** Decode side: u_l = upsampler_l(q_l) for kept levels, zeros for dropped ones; decoder. */
  private decodeQ(q: (tf.Tensor4D | null)[], keep: number): tf.Tensor4D {
    const L = this.levels;
    const first = L - keep;
    const u: (tf.Tensor4D | null)[] = new Array(L).fill(null);
    for (let l = first; l < L; l++) {
      const ql = q[l];
      if (!ql) throw new Error(`level ${l} is kept but has no codes`);
      u[l] = runGraph(this.arch.levels[l].upsampler, this.lookup, { [tensorNames.q(l)]: ql })[tensorNames.u(l)];
    }
    const shape = u[L - 1]!.shape;
    const inputs: Record<string, tf.Tensor4D> = {};
    for (let l = 0; l < L; l++) inputs[tensorNames.u(l)] = u[l] ?? (tf.zeros(shape) as tf.Tensor4D);
    return runGraph(this.arch.decoder, this.lookup, inputs)[tensorNames.reconstruction];
  }

  /** Full forward pass (see the file comment). Tensors are the caller's to dispose. */
  forward(x: tf.Tensor4D, opts: ForwardOptions & { training?: boolean } = {}): ForwardResult {
    const keep = this.checkKeep(opts.keepLevels);
    const { z, q, indices, commit, bits, latentSse, soft, contexts } = this.encode(x, undefined, opts.training === true);
    const recon = this.decodeQ(q, keep);
    const commitLoss = (commit.length === 1 ? commit[0] : tf.addN(commit)) as tf.Scalar;
    const softBits = soft.length === 0 ? undefined : ((soft.length === 1 ? soft[0] : tf.addN(soft)) as tf.Scalar);
    return { recon, commitLoss, indices, z, q, bits, latentSse, softBits, contexts };
  }

  /**
   * Rate models: EMA of G = pixel SSE / latent SSE (images in [0, 1]), how much reconstruction
   * error a unit of latent quantization error costs. It converts λ into the assignment
   * temperature (see trainStep). It over-estimates the marginal cost (the decoder's own error is
   * counted as if quantization caused it), which errs towards the nearest code, never towards
   * collapse. 0 until the first step.
   */
  distortionGain = 0;

  /**
   * τ for λ: a slice's choice of code k costs bits(k) + λ·255²·G·||z − c_k||²/3 in the loss's
   * units (bits; the /3 because D averages over the 3 channels of a pixel), so the
   * entropy-constrained argmin is ||z − c_k||² + τ·ln2·bits(k) with τ = 3 / (ln2·λ·255²·G),
   * times the config's rateTemperature.
   */
  temperatureFor(lambda: number): number {
    if (this.distortionGain <= 0) return 0;
    return ((this.cfg.quantizer.rateTemperature ?? 1) * 3) / (Math.LN2 * lambda * PEAK * PEAK * this.distortionGain);
  }

  /** Whether this model has a learned prior and trains with a rate term. */
  get isRateModel(): boolean {
    return this.quantizers.some((q) => q.prior !== null);
  }

  /**
   * Decode from code indices (bottom first, int32 [N, h_l, w_l, M_l]); with keepLevels = n only
   * the top n entries are read and the others may be null. This is what the ONNX decoder does.
   */
  decode(indices: (tf.Tensor4D | null)[], opts: ForwardOptions = {}): tf.Tensor4D {
    const keep = this.checkKeep(opts.keepLevels);
    if (indices.length !== this.levels) throw new Error(`expected ${this.levels} index tensors (bottom first), got ${indices.length}`);
    const first = this.levels - keep;
    const q = indices.map((idx, l) => (l >= first && idx ? this.quantizers[l].lookup(idx) : null));
    return this.decodeQ(q, keep);
  }

  /**
   * Initialise every codebook not yet initialised from this batch's encoder outputs, top level
   * first (each level's z depends on the levels above, which are quantized with their fresh
   * codebooks). trainStep calls this on its first batch.
   */
  initialiseCodebooks(x: tf.Tensor4D): void {
    tf.tidy(() => {
      this.encode(x, (l, z) => {
        if (!this.quantizers[l].initialised) this.quantizers[l].initFromData(z);
      });
    });
  }

  /**
   * One optimisation step: loss = mse(recon, x) + β·commit, gradients of the trainable variables,
   * global-norm clipping, optimizer.applyGradients; then (outside the tape) the EMA codebook
   * updates and dead-code resets with this step's z and indices.
   */
  trainStep(x: tf.Tensor4D, optimizer: GradientApplier, opts: TrainStepOptions): TrainStepResult {
    if (this.quantizers.some((q) => !q.initialised)) this.initialiseCodebooks(x);
    const beta = this.cfg.quantizer.beta;
    const rate = this.isRateModel;
    if (rate && !(opts.lambda !== undefined && opts.lambda > 0 && Number.isFinite(opts.lambda))) throw new RangeError(`a rate model needs a positive lambda (got ${opts.lambda})`);
    const [n, H, W] = x.shape;
    const pixels = n * H * W;
    if (rate) for (const q of this.quantizers) q.tau = Math.fround(this.temperatureFor(opts.lambda!));
    // Tensors the step needs after the tape (kept past variableGrads' scope, disposed below).
    const kept: { z: tf.Tensor4D[]; indices: tf.Tensor4D[]; mse: tf.Scalar; commit: tf.Scalar; bits: number[]; latentSse: number[]; contexts: (Int32Array | undefined)[] }[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const out = this.forward(x, { keepLevels: opts.keepLevels, training: true });
      const mse = tf.mean(tf.squaredDifference(out.recon, x)) as tf.Scalar;
      kept.push({
        z: out.z.map((t) => tf.keep(t)),
        indices: out.indices.map((t) => tf.keep(t)),
        mse: tf.keep(mse),
        commit: tf.keep(out.commitLoss),
        bits: out.bits,
        latentSse: out.latentSse,
        contexts: out.contexts,
      });
      const loss = tf.add(mse, tf.mul(out.commitLoss, beta)) as tf.Scalar;
      // R + λ·D with D = 255²·mse, divided by λ·255²: mse + bpp / (λ·255²).
      if (!rate || !out.softBits) return loss;
      return tf.add(loss, tf.mul(out.softBits, 1 / (pixels * opts.lambda! * PEAK * PEAK))) as tf.Scalar;
    }, this.trainableVariables);
    const k = kept[0];
    const gradNorm = tf.tidy(() => {
      const names = Object.keys(grads);
      const clip = opts.clipNorm;
      const clipping = clip > 0 && Number.isFinite(clip);
      // The fused form clips and updates on one flat vector (AdamW); the loop below is for others.
      if (optimizer.applyClippedGradients) return optimizer.applyClippedGradients(grads, clip);
      const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
      if (clipping) {
        const scale = tf.div(clip, tf.maximum(norm, clip));
        const clipped: tf.NamedTensorMap = {};
        for (const n of names) clipped[n] = tf.mul(grads[n], scale);
        optimizer.applyGradients(clipped);
      } else {
        optimizer.applyGradients(grads);
      }
      return norm;
    });
    tf.dispose(grads);

    let deadResets = 0;
    const perplexity: number[][] = [];
    this.quantizers.forEach((qz, l) => {
      qz.emaUpdate(k.z[l], k.indices[l]);
      qz.priorUpdate(k.indices[l], k.contexts[l] ?? null);
      deadResets += qz.resetDeadCodes(k.z[l]);
      perplexity.push(qz.usage(k.indices[l]));
    });
    const mseValue = k.mse.dataSync()[0];
    const latent = k.latentSse.reduce((a, b) => a + b, 0);
    if (rate && latent > 0) {
      const g = mseValue * x.size / latent;
      const d = this.cfg.quantizer.decay;
      this.distortionGain = Math.fround(this.distortionGain === 0 ? g : d * this.distortionGain + (1 - d) * g);
    }
    const result: TrainStepResult = {
      bpp: k.bits.reduce((a, b) => a + b, 0) / pixels,
      loss: value.dataSync()[0],
      mse: mseValue,
      commit: k.commit.dataSync()[0],
      perplexity,
      deadResets,
      gradNorm: gradNorm.dataSync()[0],
    };
    tf.dispose([value, gradNorm, k.mse, k.commit, ...k.z, ...k.indices]);
    return result;
  }

  /** Reconstruction error and code usage of a batch; changes nothing. */
  evaluate(x: tf.Tensor4D, opts: ForwardOptions = {}): EvaluateResult {
    // Host arrays are read inside the scope; tidy only frees the tensors.
    let result: EvaluateResult | undefined;
    tf.tidy(() => {
      const out = this.forward(x, opts);
      const mse = tf.mean(tf.squaredDifference(out.recon, x)).dataSync()[0];
      result = {
        recon: Float32Array.from(out.recon.dataSync() as Float32Array),
        mse,
        psnr: 10 * Math.log10(1 / Math.max(mse, 1e-12)),
        perplexity: out.indices.map((idx, l) => this.quantizers[l].usage(idx)),
        histograms: out.indices.map((idx, l) => this.quantizers[l].histogram(idx)),
        bits: out.bits,
      };
    });
    return result!;
  }


  /**
   * Every parameter and every piece of quantizer state, by stable name: trainable params under
   * their architecture names (`enc/conv0.w`, …, tfjs layouts), and per level l `codebook${l}`
   * [M,K,D], `ema${l}.N` [M,K], `ema${l}.m` [M,K,D], `quant${l}.initialised` [1] and
   * `quant${l}.rng` [2] (the RNG state as two 16-bit halves).
   */
  getWeights(): Map<string, WeightEntry> {
    const out = new Map<string, WeightEntry>();
    for (const s of this.specs) out.set(s.name, { shape: [...s.shape], data: Float32Array.from(this.param(s.name).dataSync() as Float32Array) });
    for (const q of this.quantizers) for (const [n, e] of q.getState()) out.set(n, e);
    if (this.isRateModel) out.set(GAIN_NAME, { shape: [1], data: Float32Array.of(this.distortionGain) });
    return out;
  }

  /**
   * Restore weights saved by getWeights. Every trainable parameter and codebook is required with
   * its exact shape; EMA statistics, flags and RNG state are optional (see Quantizer.setState).
   * Unknown names are an error (they mean a different architecture).
   */
  setWeights(weights: Map<string, WeightEntry>): void {
    const get = (name: string, shape: number[]): Float32Array | undefined => {
      const e = weights.get(name);
      if (!e) return undefined;
      const size = shape.reduce((a, b) => a * b, 1);
      if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i]) || e.data.length !== size) {
        throw new Error(`weight ${name} has shape [${e.shape}] (${e.data.length} values), expected [${shape}]`);
      }
      return e.data;
    };
    const values = this.specs.map((s) => {
      const d = get(s.name, s.shape);
      if (!d) throw new Error(`missing weight ${s.name}`);
      return d;
    });
    // Validate everything before changing anything.
    const known = new Set<string>(this.specs.map((s) => s.name));
    for (const q of this.quantizers) for (const n of Object.values(q.names)) known.add(n);
    known.add(GAIN_NAME);
    for (const n of weights.keys()) if (!known.has(n)) throw new Error(`unexpected weight ${n} (a different architecture?)`);
    for (const q of this.quantizers) {
      const { M, K, D } = q;
      const n = q.names;
      if (!get(n.codebook, [M, K, D])) throw new Error(`missing weight ${n.codebook}`);
      get(n.N, [M, K]);
      get(n.m, [M, K, D]);
      get(n.initialised, [1]);
      get(n.rng, [2]);
    }
    tf.tidy(() => {
      this.specs.forEach((s, i) => this.param(s.name).assign(tf.tensor(values[i], s.shape)));
    });
    for (const q of this.quantizers) q.setState(get);
    const gain = this.isRateModel ? get(GAIN_NAME, [1]) : undefined;
    this.distortionGain = gain ? gain[0] : 0;
  }

  /**
   * Restore only the trainable trunk parameters (every one required, same shapes); codebooks, EMA
   * state and priors keep their fresh values and initialise from the first batch. Quantizer state
   * in `weights` is ignored: it may belong to another M/K/D split.
   */
  setTrunkWeights(weights: Map<string, WeightEntry>): void {
    const values = this.specs.map((s) => {
      const e = weights.get(s.name);
      if (!e) throw new Error(`missing weight ${s.name}`);
      if (e.data.length !== s.shape.reduce((a, b) => a * b, 1) || e.shape.some((d, i) => d !== s.shape[i])) {
        throw new Error(`weight ${s.name} has shape [${e.shape}], expected [${s.shape}]`);
      }
      return e.data;
    });
    tf.tidy(() => this.specs.forEach((s, i) => this.param(s.name).assign(tf.tensor(values[i], s.shape))));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    for (const q of this.quantizers) q.dispose();
  }
}
