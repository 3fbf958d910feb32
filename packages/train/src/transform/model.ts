/**
 * A transform model in TensorFlow.js (NHWC): the fixed analysis (colour, 8×8 DCT, top-level
 * block means, grid rounding) and the learned refiner with its synthesis. Only the refiner is
 * trained; the analysis has no parameters, so the quantizer needs no gradient estimator and the
 * refiner trains on exactly the indices the codec will code (real rounding, not noise).
 */
import * as tf from '../tfjs/tf.js';
import { GraphBuilder, graphParams, type Graph, type ParamSpec } from '../model/architecture.js';
import { runGraph } from '../tfjs/executor.js';
import { Rng } from '../tfjs/rng.js';
import type { GradientApplier } from '../train/adamw.js';
import { blockDctMatrix, RGB_TO_YCC, YCC_OFFSET, YCC_TO_RGB } from './basis.js';
import { BLOCK, COEFFS, coefficientSteps, deadzoneVectors, topSteps, type TransformConfig } from './config.js';

/** The refiner sees coefficients / INPUT_SCALE and outputs corrections × OUTPUT_SCALE (absolute DCT units). */
export const REFINER_INPUT_SCALE = 64;
export const REFINER_OUTPUT_SCALE = 8;
/** Channels of the refiner's input: 192 coefficients and log2 of the step scale. */
export const REFINER_IN = 3 * COEFFS + 1;
export const refinerNames = { input: 'refinerIn', output: 'refinerOut' } as const;

export interface WeightEntry {
  shape: number[];
  data: Float32Array;
}

/** The refiner: 3×3 conv → residual stack → 3×3 conv, on the coefficient grid (stride 8). */
export function buildRefiner(cfg: TransformConfig): Graph {
  const { channels: C, resBlocks, resHidden } = cfg.refiner;
  const g = new GraphBuilder('ref');
  let x = g.conv(refinerNames.input, REFINER_IN, C, 3);
  x = g.relu(x);
  x = g.resStack(x, C, resHidden, resBlocks);
  const y = g.conv(x, C, 3 * COEFFS, 3);
  return g.finish('refiner', [{ name: refinerNames.input, channels: REFINER_IN, stride: BLOCK }], [{ spec: { name: refinerNames.output, channels: 3 * COEFFS, stride: BLOCK }, value: y }]);
}

/** What analysis gives: the indices the file stores and the dequantized coefficients. */
export interface Analysis {
  /** Integer values (index − K/2) of level 0 [N, h, w, 192] and level 1 [N, h/2, w/2, 3]. */
  q0: tf.Tensor4D;
  q1: tf.Tensor4D;
  /** Dequantized coefficients in absolute DCT units [N, h, w, 192] (level 0 dropped: the top's prediction only). */
  coef: tf.Tensor4D;
}

export class TransformModel {
  private readonly params = new Map<string, tf.Variable>();
  readonly specs: ParamSpec[];
  readonly refiner: Graph;
  private readonly F: tf.Tensor2D;
  private readonly toYcc: tf.Tensor2D;
  private readonly toRgb: tf.Tensor2D;
  private readonly dcPlace: tf.Tensor2D;
  private readonly prefix: string;

  private constructor(readonly cfg: TransformConfig, seed: number) {
    this.refiner = buildRefiner(cfg);
    this.specs = graphParams(this.refiner);
    const registered = tf.engine().registeredVariables;
    let i = 0;
    while (this.specs.some((s) => `tc_${i}/${s.name}` in registered)) i++;
    this.prefix = `tc_${i}/`;
    const rng = new Rng(seed);
    const last = this.specs[this.specs.length - 2].name; // the output conv's weight
    for (const s of this.specs) {
      const size = s.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      // He-normal, except the output conv: zero, so the untrained model is plain transform coding.
      if (s.kind === 'weight' && s.name !== last) {
        const std = Math.sqrt(2 / s.fanIn);
        for (let k = 0; k < size; k++) data[k] = std * rng.normal();
      }
      this.params.set(s.name, tf.variable(tf.tensor(data, s.shape), true, `${this.prefix}${s.name}`));
    }
    this.F = tf.tensor2d(blockDctMatrix(), [3 * COEFFS, 3 * COEFFS]);
    this.toYcc = tf.tensor2d(RGB_TO_YCC.flat(), [3, 3]).transpose();
    this.toRgb = tf.tensor2d(YCC_TO_RGB.flat(), [3, 3]).transpose();
    const place = new Float32Array(3 * 3 * COEFFS);
    for (let c = 0; c < 3; c++) place[c * 3 * COEFFS + c * COEFFS] = 1;
    this.dcPlace = tf.tensor2d(place, [3, 3 * COEFFS]);
  }

  static create(cfg: TransformConfig, seed: number): TransformModel {
    return new TransformModel(cfg, seed);
  }

  private param(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`transform model: no parameter ${name}`);
    return p;
  }

  /** [N, H, W, 3] in [0, 1] → centred YCbCr on the 0–255 scale. */
  private ycc(x: tf.Tensor4D): tf.Tensor4D {
    const [n, h, w] = x.shape;
    const flat = tf.matMul(tf.reshape(tf.mul(x, 255), [-1, 3]), this.toYcc);
    return tf.reshape(tf.add(flat, tf.tensor1d(YCC_OFFSET as number[])), [n, h, w, 3]);
  }

  /** [N, H, W, 3] centred YCbCr → [N, H/8, W/8, 192] DCT coefficients. */
  private dct(ycc: tf.Tensor4D): tf.Tensor4D {
    const [n, H, W] = ycc.shape;
    const h = H / BLOCK;
    const w = W / BLOCK;
    const rows = tf.transpose(tf.reshape(ycc, [n * h, BLOCK, w, BLOCK * 3]), [0, 2, 1, 3]);
    return tf.reshape(tf.matMul(tf.reshape(rows, [-1, 3 * COEFFS]), this.F), [n, h, w, 3 * COEFFS]);
  }

  /** Inverse of dct, then back to RGB in [0, 1] (not clipped). */
  private synthesize(coef: tf.Tensor4D): tf.Tensor4D {
    const [n, h, w] = coef.shape;
    const pix = tf.matMul(tf.reshape(coef, [-1, 3 * COEFFS]), this.F, false, true);
    const ycc = tf.reshape(tf.transpose(tf.reshape(pix, [n * h, w, BLOCK, BLOCK * 3]), [0, 2, 1, 3]), [-1, 3]);
    const rgb = tf.matMul(tf.sub(ycc, tf.tensor1d(YCC_OFFSET as number[])), this.toRgb);
    return tf.reshape(tf.div(rgb, 255), [n, h * BLOCK, w * BLOCK, 3]);
  }

  /** Fixed analysis and quantization at step scale `scale` (H, W multiples of 16). */
  analyse(x: tf.Tensor4D, scale: number, keepBottom = true): Analysis {
    const r = tf.tidy(() => {
      const half = this.cfg.K / 2;
      const grid = (t: tf.Tensor4D): tf.Tensor4D => tf.clipByValue(tf.round(t), -half, half - 1);
      const ycc = this.ycc(x);
      const [n, H, W] = x.shape;
      const tSteps = tf.tensor1d(topSteps(this.cfg, scale));
      const q1 = grid(tf.div(tf.avgPool(ycc, 2 * BLOCK, 2 * BLOCK, 'valid'), tSteps) as tf.Tensor4D);
      // DC prediction from the decoded top level: 8 × its block mean, on the DC channels.
      const means = tf.image.resizeNearestNeighbor(tf.mul(q1, tSteps) as tf.Tensor4D, [H / BLOCK, W / BLOCK]);
      const pred = tf.reshape(tf.matMul(tf.reshape(tf.mul(means, BLOCK), [-1, 3]), this.dcPlace), [n, H / BLOCK, W / BLOCK, 3 * COEFFS]);
      const steps = tf.tensor1d(coefficientSteps(this.cfg, scale));
      const dz = deadzoneVectors(this.cfg);
      const t = tf.div(tf.sub(this.dct(ycc), pred), steps);
      const q0 = tf.clipByValue(tf.mul(tf.sign(t), tf.floor(tf.add(tf.abs(t), tf.tensor1d(dz.round)))), -half, half - 1) as tf.Tensor4D;
      // Dequantize: nonzero AC values move `shrink` steps towards zero (clip(v, −1, 1) = sign(v) for integers).
      const deq = tf.sub(q0, tf.mul(tf.clipByValue(q0, -1, 1), tf.tensor1d(dz.shrink)));
      const coef = keepBottom ? tf.add(tf.mul(deq, steps), pred) : pred;
      return { q0, q1, coef };
    });
    return r as unknown as Analysis;
  }

  /** Refiner + synthesis: dequantized coefficients → RGB in [0, 1]. */
  reconstruct(coef: tf.Tensor4D, scale: number): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, h, w] = coef.shape;
      const input = tf.concat([tf.div(coef, REFINER_INPUT_SCALE), tf.fill([n, h, w, 1], Math.log2(scale))], 3);
      const out = runGraph(this.refiner, (name) => this.param(name), { [refinerNames.input]: input as tf.Tensor4D })[refinerNames.output];
      return this.synthesize(tf.add(coef, tf.mul(out, REFINER_OUTPUT_SCALE)));
    });
  }

  /** One AdamW step on MSE (0–255 scale). Returns that MSE. */
  trainStep(x: tf.Tensor4D, optimizer: GradientApplier, opts: { scale: number; keepBottom: boolean; clipNorm: number }): { mse: number; gradNorm: number } {
    const a = this.analyse(x, opts.scale, opts.keepBottom);
    const { value, grads } = tf.variableGrads(() => tf.mul(tf.mean(tf.squaredDifference(this.reconstruct(a.coef, opts.scale), x)), 255 * 255) as tf.Scalar);
    const norm = optimizer.applyClippedGradients ? optimizer.applyClippedGradients(grads, opts.clipNorm) : (optimizer.applyGradients(grads), tf.scalar(0));
    const mse = value.dataSync()[0];
    const gradNorm = norm.dataSync()[0];
    tf.dispose([a.q0, a.q1, a.coef, value, norm, ...Object.values(grads)]);
    return { mse, gradNorm };
  }

  /** Reconstruction (clipped to [0, 1]) and its MSE on the 0–1 scale; `refine` false gives plain transform coding. */
  evaluate(x: tf.Tensor4D, scale: number, opts: { keepBottom?: boolean; refine?: boolean } = {}): { recon: Float32Array; mse: number } {
    const a = this.analyse(x, scale, opts.keepBottom ?? true);
    const r = tf.tidy(() => tf.clipByValue(opts.refine === false ? this.synthesize(a.coef) : this.reconstruct(a.coef, scale), 0, 1));
    const mse = tf.tidy(() => tf.mean(tf.squaredDifference(tf.div(tf.round(tf.mul(r, 255)), 255), x)).dataSync()[0]);
    const recon = r.dataSync() as Float32Array;
    tf.dispose([a.q0, a.q1, a.coef, r]);
    return { recon: Float32Array.from(recon), mse };
  }

  getWeights(): Map<string, WeightEntry> {
    const out = new Map<string, WeightEntry>();
    for (const s of this.specs) out.set(s.name, { shape: [...s.shape], data: Float32Array.from(this.param(s.name).dataSync() as Float32Array) });
    return out;
  }

  /** Restore getWeights' output; every parameter is required with its exact shape. */
  setWeights(weights: Map<string, WeightEntry>): void {
    for (const s of this.specs) {
      const e = weights.get(s.name);
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (!e || e.data.length !== size || e.shape.join() !== s.shape.join()) throw new Error(`checkpoint: weight ${s.name} is missing or not [${s.shape}]`);
      this.param(s.name).assign(tf.tensor(e.data, s.shape));
    }
    for (const name of weights.keys()) if (!this.params.has(name)) throw new Error(`checkpoint: unknown weight ${name} (a different refiner)`);
  }

  dispose(): void {
    for (const p of this.params.values()) p.dispose();
    tf.dispose([this.F, this.toYcc, this.toRgb, this.dcPlace]);
  }
}
