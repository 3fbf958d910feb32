/**
 * Adam with decoupled weight decay (AdamW; the DQ paper trains with "Adam with weight decay
 * regularization"). Written here rather than using tf.train.adam because a resumed run must be
 * bit-identical: tfjs' Adam accumulates β^t by repeated multiplication while training but
 * recomputes it with pow() when restored. Here the bias correction is computed in float64 from
 * the step count, and moments are keyed by variable name (not by order).
 */
import * as tf from '../tfjs/tf.js';
import type { OptimizerTensor } from './checkpoint.js';

export interface AdamWOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay per step, relative to the learning rate (0 = plain Adam). */
  weightDecay?: number;
}

/** What DqAe.trainStep needs of an optimizer (tf.Optimizer satisfies it too). */
export interface GradientApplier {
  applyGradients(grads: tf.NamedTensorMap): void;
  /**
   * Optional fused form: global-norm clipping to `clipNorm` (0 or ∞: none), then the update.
   * Returns the gradient norm before clipping (a scalar the caller disposes).
   */
  applyClippedGradients?(grads: tf.NamedTensorMap, clipNorm: number): tf.Scalar;
}

export class AdamW implements GradientApplier {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /**
   * While training, the moments of the variables being updated live here as two flat vectors
   * (in `names` order) instead of in the maps; checkpoints and setState go through the maps.
   */
  private flat: { names: string[]; shapes: number[][]; sizes: number[]; m: tf.Variable; v: tf.Variable } | null = null;
  private t = 0;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly wd: number;
  private lr: number;

  constructor(opts: AdamWOptions) {
    this.lr = opts.learningRate;
    this.b1 = opts.beta1 ?? 0.9;
    this.b2 = opts.beta2 ?? 0.999;
    this.eps = opts.epsilon ?? 1e-8;
    this.wd = opts.weightDecay ?? 0;
  }

  get step(): number {
    return this.t;
  }

  /** The rate of the next update (schedules change it between steps). */
  get learningRate(): number {
    return this.lr;
  }

  set learningRate(lr: number) {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`AdamW: learning rate must be a finite number ≥ 0, got ${lr}`);
    this.lr = lr;
  }

  applyGradients(grads: tf.NamedTensorMap): void {
    this.applyClippedGradients(grads, 0).dispose();
  }

  /**
   * Global-norm clipping to `clipNorm` (0 or ∞: none), then the update; returns the norm before
   * clipping. All variables are updated as ONE flat vector: the per-element arithmetic is that of
   * a per-variable loop, but a step costs ~15 kernels instead of ~12 per variable (840 for the
   * default config), which on the wasm backend was most of the step's bookkeeping time.
   */
  applyClippedGradients(grads: tf.NamedTensorMap, clipNorm: number): tf.Scalar {
    this.t++;
    const lr = this.lr;
    // Bias-corrected step size, in float64.
    const alpha = (lr * Math.sqrt(1 - this.b2 ** this.t)) / (1 - this.b1 ** this.t);
    const names = Object.keys(grads);
    if (names.length === 0) return tf.scalar(0);
    const variables = names.map((name) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`AdamW: no variable named ${name}`);
      return variable;
    });
    const st = this.flatState(names, grads);
    return tf.tidy(() => {
      const flat = (ts: tf.Tensor[]): tf.Tensor1D => (ts.length === 1 ? tf.reshape(ts[0], [-1]) : tf.concat(ts.map((t) => tf.reshape(t, [-1])))) as tf.Tensor1D;
      let g = flat(names.map((n) => grads[n]));
      const norm = tf.sqrt(tf.sum(tf.square(g))) as tf.Scalar;
      if (clipNorm > 0 && Number.isFinite(clipNorm)) g = tf.mul(g, tf.div(clipNorm, tf.maximum(norm, clipNorm)));
      const w = flat(variables);
      const m = tf.add(tf.mul(st.m, this.b1), tf.mul(g, 1 - this.b1));
      const v = tf.add(tf.mul(st.v, this.b2), tf.mul(tf.square(g), 1 - this.b2));
      let next = tf.sub(w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.eps)), alpha));
      if (this.wd > 0) next = tf.sub(next, tf.mul(w, lr * this.wd));
      st.m.assign(m);
      st.v.assign(v);
      // Back to one tensor per variable through JS: tfjs-wasm's SplitV took ~18 ms per call here,
      // reading the flat result and uploading the pieces ~1 ms.
      const data = next.dataSync() as Float32Array;
      let at = 0;
      variables.forEach((variable, i) => {
        variable.assign(tf.tensor(data.subarray(at, at + st.sizes[i]), variable.shape));
        at += st.sizes[i];
      });
      return norm;
    });
  }

  /** The flat moments for these variables, built from the maps (zeros where new) when needed. */
  private flatState(names: string[], grads: tf.NamedTensorMap): NonNullable<AdamW['flat']> {
    if (this.flat && this.flat.names.length === names.length && this.flat.names.every((n, i) => n === names[i])) return this.flat;
    this.unflatten();
    const shapes = names.map((n) => grads[n].shape.slice());
    const sizes = names.map((n) => grads[n].size);
    const build = (map: Map<string, tf.Variable>): tf.Variable =>
      tf.tidy(() => tf.variable(tf.concat(names.map((n, i) => tf.reshape(map.get(n) ?? tf.zeros(shapes[i]), [-1]))), false));
    const m = build(this.m);
    const v = build(this.v);
    for (const n of names) {
      for (const map of [this.m, this.v]) {
        map.get(n)?.dispose();
        map.delete(n);
      }
    }
    this.flat = { names, shapes, sizes, m, v };
    return this.flat;
  }

  /** Move flat moments back into the per-variable maps (for checkpoints and setState). */
  private unflatten(): void {
    if (!this.flat) return;
    const { names, shapes, sizes } = this.flat;
    for (const [map, vec] of [[this.m, this.flat.m], [this.v, this.flat.v]] as const) {
      const data = vec.dataSync() as Float32Array;
      let at = 0;
      names.forEach((n, i) => {
        map.set(n, tf.variable(tf.tensor(data.slice(at, at + sizes[i]), shapes[i]), false));
        at += sizes[i];
      });
      vec.dispose();
    }
    this.flat = null;
  }

  /** State for checkpoints: the step and both moments of every variable seen so far. */
  async getState(): Promise<OptimizerTensor[]> {
    this.unflatten();
    const out: OptimizerTensor[] = [{ name: 'step', shape: [1], data: Float32Array.of(this.t) }];
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) out.push({ name: `${kind}:${name}`, shape: t.shape.slice(), data: Float32Array.from(await t.data()) });
    }
    return out;
  }

  setState(tensors: OptimizerTensor[]): void {
    this.unflatten();
    for (const t of tensors) {
      const [slot, name] = stateSlot(t.name);
      if (slot === 'step') {
        this.t = t.data[0];
        continue;
      }
      const map = slot === 'm' ? this.m : this.v;
      map.get(name)?.dispose();
      map.set(name, tf.variable(tf.tensor(t.data, t.shape), false));
    }
  }

  dispose(): void {
    this.flat?.m.dispose();
    this.flat?.v.dispose();
    this.flat = null;
    for (const v of [...this.m.values(), ...this.v.values()]) v.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Which state a saved tensor holds. Ours are `step`, `m:<var>`, `v:<var>`; checkpoints written
 * with tf.train.adam (before this optimizer existed) use `iter`, `<var>/m`, `<var>/v`.
 */
function stateSlot(saved: string): ['step' | 'm' | 'v', string] {
  if (saved === 'step' || saved === 'iter') return ['step', ''];
  const ours = /^([mv]):(.+)$/.exec(saved);
  if (ours) return [ours[1] as 'm' | 'v', ours[2]];
  const tfjs = /^(.+)\/([mv])$/.exec(saved);
  if (tfjs) return [tfjs[2] as 'm' | 'v', tfjs[1]];
  throw new Error(`AdamW: unknown state tensor ${saved}`);
}
