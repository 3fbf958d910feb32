/**
 * Convolutions with hand-written gradients, every product expressed as a forward tf.conv2d.
 *
 * Why: on the wasm backend only Conv2D runs through XNNPACK (SIMD, threaded). Conv2DBackpropFilter
 * does not exist there, and Conv2DBackpropInput (which tf.conv2dTranspose also uses) is a naive
 * single-threaded loop: profiled at 311 of ~590 ms in a default-config training step
 * (BENCHMARKS.md). So:
 *   - filter gradients are one dilated convolution of transposed tensors (conv2dFilterGrad);
 *   - transposed convolutions, and with them the input gradient of every conv, are sub-pixel
 *     convolutions: one stride-1 conv producing s² phases, then depthToSpace (transposedConv2d).
 * Correctness is proven against tf.grad of the built-in ops on the cpu backend, and the wasm
 * kernels against the cpu ones (test/conv.test.ts).
 */
import * as tf from './tf.js';

/** Explicit symmetric padding as tfjs wants it for NHWC. */
function padded(x: tf.Tensor4D, pad: number): tf.Tensor4D {
  return pad === 0 ? x : tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
}

/**
 * dL/dW of y = conv2d(input, W, stride, pad) given dy = dL/dy.
 * W has shape [k, k, Ci, Co]; returns that shape.
 *
 * dW[i,j,c,o] = Σ_{n,y,x} xpad[n, s·y+i, s·x+j, c] · dy[n,y,x,o] is itself a 'valid' convolution
 * over the spatial axes with the batch as the reduction axis: input xpadᵀ [Ci, Hp, Wp, N], filter
 * dyᵀ [Ho, Wo, N, Co], dilation = stride. One backend conv instead of k² strided slices, an
 * im2col concat and a matmul (measured 20–35× faster on wasm).
 */
export function conv2dFilterGrad(input: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , ci] = input.shape;
    const [, ho, wo] = dy.shape;
    // Rows/columns past the last tap of the last output position never contribute: crop them.
    const xp = tf.slice(padded(input, pad), [0, 0, 0, 0], [n, (ho - 1) * stride + k, (wo - 1) * stride + k, ci]);
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const r = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', stride); // [Ci, k, k, Co]
    return tf.transpose(r, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** Constant per (k, s, p): where each tap of the sub-pixel kernel comes from in the original. */
interface SubpixelPlan {
  /** Taps per axis of the stride-1 kernel. */
  taps: number;
  /** Zero padding before the input (rows/columns); after it is derived from the output size. */
  before: number;
  /** For [ty, tx, a, b]: index ky·k + kx into the original kernel, or k² (a zero tap). */
  gather: Int32Array;
}

const subpixelPlans = new Map<string, SubpixelPlan>();

/**
 * A transposed conv with stride s writes output row s·i + a (phase a) from input rows m with
 * kernel tap kk = s·(i − m) + a + p. For each phase that is a stride-1 correlation over d = i − m;
 * taking the union of the phases' d ranges gives one kernel of `taps` rows whose output channels
 * are the s² phases, zero where a phase has no tap.
 */
function subpixelPlan(k: number, s: number, p: number): SubpixelPlan {
  const key = `${k}/${s}/${p}`;
  let plan = subpixelPlans.get(key);
  if (plan) return plan;
  let dLo = Infinity;
  let dHi = -Infinity;
  for (let a = 0; a < s; a++) {
    dLo = Math.min(dLo, Math.ceil((-a - p) / s));
    dHi = Math.max(dHi, Math.floor((k - 1 - a - p) / s));
  }
  const taps = dHi - dLo + 1;
  const tap = (t: number, a: number): number => {
    const kk = s * (dHi - t) + a + p; // correlation tap t reads input row i − dHi + t, i.e. d = dHi − t
    return kk >= 0 && kk < k ? kk : -1;
  };
  const gather = new Int32Array(taps * taps * s * s);
  let o = 0;
  for (let ty = 0; ty < taps; ty++) {
    for (let tx = 0; tx < taps; tx++) {
      for (let a = 0; a < s; a++) {
        for (let b = 0; b < s; b++) {
          const ky = tap(ty, a);
          const kx = tap(tx, b);
          gather[o++] = ky < 0 || kx < 0 ? k * k : ky * k + kx;
        }
      }
    }
  }
  plan = { taps, before: dHi, gather };
  subpixelPlans.set(key, plan);
  return plan;
}

/**
 * tf.conv2dTranspose(x, w, outShape, s, p) for w [k, k, Co, Ci], computed as one stride-1
 * tf.conv2d with s²·Co output channels followed by depthToSpace. For the k=4 s=2 convs here that
 * costs (3·3·4)/(4·4) = 2.25× the multiply-adds of the direct form, but runs in XNNPACK instead of
 * a naive loop. Shapes whose output is not a multiple of s fall back to tf.conv2dTranspose.
 */
export function transposedConv2d(x: tf.Tensor4D, w: tf.Tensor4D, outShape: [number, number, number, number], s: number, p: number): tf.Tensor4D {
  const [k, , co, ci] = w.shape;
  const [n, outH, outW] = outShape;
  if (outH % s !== 0 || outW % s !== 0) return tf.conv2dTranspose(x, w, outShape, s, p);
  return tf.tidy(() => {
    const plan = subpixelPlan(k, s, p);
    const kernel = tf.tensor4d(subpixelKernel(w.dataSync() as Float32Array, plan, k, s, co, ci), [plan.taps, plan.taps, ci, s * s * co]);
    const [, h, wIn] = x.shape;
    const after = (size: number, outSize: number): number => outSize / s + plan.taps - 1 - size - plan.before;
    const padH = after(h, outH);
    const padW = after(wIn, outW);
    let xp = x;
    if (padH < 0 || padW < 0) xp = tf.slice(xp, [0, 0, 0, 0], [n, h + Math.min(0, padH), wIn + Math.min(0, padW), ci]);
    const b = plan.before;
    const phases =
      b === padH && b === padW
        ? tf.conv2d(xp, kernel, 1, b)
        : tf.conv2d(tf.pad(xp, [[0, 0], [b, Math.max(0, padH)], [b, Math.max(0, padW)], [0, 0]]), kernel, 1, 'valid');
    return s === 1 ? phases : depthToSpace(phases, s);
  });
}

/**
 * Rearranges w [k, k, Co, Ci] into the sub-pixel kernel [T, T, Ci, s·s·Co] (output channel
 * (a·s + b)·Co + co, depthToSpace's order). Done in JS: the weights are small, and tf.gather on
 * the wasm backend took ~5 ms per call for this.
 */
function subpixelKernel(w: Float32Array, plan: SubpixelPlan, k: number, s: number, co: number, ci: number): Float32Array {
  const out = new Float32Array(plan.taps * plan.taps * ci * s * s * co);
  const phases = s * s;
  for (let t = 0; t < plan.taps * plan.taps; t++) {
    for (let ph = 0; ph < phases; ph++) {
      const src = plan.gather[t * phases + ph];
      if (src === k * k) continue; // a zero tap
      for (let c = 0; c < ci; c++) {
        const dst = (t * ci + c) * phases * co + ph * co;
        for (let o = 0; o < co; o++) out[dst + o] = w[(src * co + o) * ci + c];
      }
    }
  }
  return out;
}

/**
 * tf.depthToSpace (NHWC, DCR order) as reshape → transpose → reshape: the wasm backend's
 * DepthToSpace kernel took ~20 ms for a [16,16,16,128] tensor, its Transpose ~1 ms.
 */
function depthToSpace(x: tf.Tensor4D, s: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const co = c / (s * s);
  const t = tf.transpose(tf.reshape(x, [n * h, w, s, s * co]), [0, 2, 1, 3]); // [n·h, s(a), w, s·co]
  return tf.reshape(t, [n, h * s, w * s, co]) as tf.Tensor4D;
}

function biasGrad(dy: tf.Tensor4D): tf.Tensor1D {
  return tf.sum(dy, [0, 1, 2]) as tf.Tensor1D;
}

/** y = conv2d(x, w, stride, pad) + b with custom gradients for x, w and b. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, stride: number, pad: number): tf.Tensor4D {
  const f = tf.customGrad((x, w, b, save) => {
    const xt = x as tf.Tensor4D;
    const wt = w as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xt, wt]);
    const value = tf.add(tf.conv2d(xt, wt, stride, pad), b as tf.Tensor1D) as tf.Tensor4D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const k = ws.shape[0];
      const dx = transposedConv2d(dy4, ws, xs.shape, stride, pad);
      return [dx, conv2dFilterGrad(xs, dy4, k, stride, pad), biasGrad(dy4)];
    };
    return { value, gradFunc };
  });
  return f(x, w, b) as tf.Tensor4D;
}

/** Output shape of a transposed convolution with symmetric padding. */
export function convTransposeShape(x: tf.Tensor4D, k: number, stride: number, pad: number, outCh: number): [number, number, number, number] {
  const [n, h, w] = x.shape;
  return [n, (h - 1) * stride - 2 * pad + k, (w - 1) * stride - 2 * pad + k, outCh];
}

/**
 * y = conv2dTranspose(x, w, stride, pad) + b, w shaped [k, k, Co, Ci] (tfjs layout).
 * A transposed conv is the adjoint of conv2d(·, w): its input gradient is that conv applied to
 * dy, and its filter gradient is conv2d's filter gradient with the roles of input and output
 * swapped.
 */
export function conv2dTranspose(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, stride: number, pad: number): tf.Tensor4D {
  const [k, , co] = w.shape;
  const outShape = convTransposeShape(x, k, stride, pad, co);
  const f = tf.customGrad((x, w, b, save) => {
    const xt = x as tf.Tensor4D;
    const wt = w as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xt, wt]);
    const value = tf.add(transposedConv2d(xt, wt, outShape, stride, pad), b as tf.Tensor1D) as tf.Tensor4D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const dx = tf.conv2d(dy4, ws, stride, pad);
      return [dx, conv2dFilterGrad(dy4, xs, k, stride, pad), biasGrad(dy4)];
    };
    return { value, gradFunc };
  });
  return f(x, w, b) as tf.Tensor4D;
}
