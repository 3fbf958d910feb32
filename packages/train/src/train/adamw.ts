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
  /** Optional fused form: every gradient times `scale` (clipping), then the update. */
  applyScaledGradients?(grads: tf.NamedTensorMap, scale: tf.Scalar | null): void;
}

export class AdamW implements GradientApplier {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
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

  private moment(map: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let s = map.get(name);
    if (!s) {
      s = tf.variable(tf.zerosLike(like), false);
      map.set(name, s);
    }
    return s;
  }

  applyGradients(grads: tf.NamedTensorMap): void {
    this.applyScaledGradients(grads, null);
  }

  /**
   * The update with every gradient multiplied by `scale` (global-norm clipping) first. All
   * variables are updated as ONE flat vector: the per-element arithmetic is exactly that of a
   * per-variable loop, but a step costs ~15 kernels instead of ~12 per variable (840 for the
   * default config), which on the wasm backend was most of the step's bookkeeping time.
   */
  applyScaledGradients(grads: tf.NamedTensorMap, scale: tf.Scalar | null): void {
    this.t++;
    const lr = this.lr;
    // Bias-corrected step size, in float64.
    const alpha = (lr * Math.sqrt(1 - this.b2 ** this.t)) / (1 - this.b1 ** this.t);
    const names = Object.keys(grads);
    if (names.length === 0) return;
    const variables = names.map((name) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`AdamW: no variable named ${name}`);
      return variable;
    });
    const ms = names.map((n) => this.moment(this.m, n, grads[n]));
    const vs = names.map((n) => this.moment(this.v, n, grads[n]));
    const sizes = variables.map((v) => v.size);
    tf.tidy(() => {
      const flat = (ts: tf.Tensor[]): tf.Tensor1D => (ts.length === 1 ? tf.reshape(ts[0], [-1]) : tf.concat(ts.map((t) => tf.reshape(t, [-1])))) as tf.Tensor1D;
      let g = flat(names.map((n) => grads[n]));
      if (scale) g = tf.mul(g, scale);
      const w = flat(variables);
      const m = tf.add(tf.mul(flat(ms), this.b1), tf.mul(g, 1 - this.b1));
      const v = tf.add(tf.mul(flat(vs), this.b2), tf.mul(tf.square(g), 1 - this.b2));
      let next = tf.sub(w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.eps)), alpha));
      if (this.wd > 0) next = tf.sub(next, tf.mul(w, lr * this.wd));
      // Back to one tensor per variable through JS: tfjs-wasm's SplitV took ~18 ms per call here,
      // reading the flat result and uploading the pieces ~1 ms.
      const assignParts = (t: tf.Tensor, targets: tf.Variable[]): void => {
        const data = t.dataSync() as Float32Array;
        let at = 0;
        targets.forEach((target, i) => {
          target.assign(tf.tensor(data.subarray(at, at + sizes[i]), target.shape));
          at += sizes[i];
        });
      };
      assignParts(m, ms);
      assignParts(v, vs);
      assignParts(next, variables);
    });
  }

  /** State for checkpoints: the step and both moments of every variable seen so far. */
  async getState(): Promise<OptimizerTensor[]> {
    const out: OptimizerTensor[] = [{ name: 'step', shape: [1], data: Float32Array.of(this.t) }];
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) out.push({ name: `${kind}:${name}`, shape: t.shape.slice(), data: Float32Array.from(await t.data()) });
    }
    return out;
  }

  setState(tensors: OptimizerTensor[]): void {
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
