/**
 * Convolutions with hand-written gradients.
 *
 * The tfjs wasm backend has no Conv2DBackpropFilter kernel, so tf.conv2d cannot be trained on
 * it. These wrappers compute the filter gradient as one matmul over an im2col matrix built from
 * k² strided slices (the input gradient uses the backend's own Conv2DBackpropInput / Conv2D).
 * Correctness is proven against tf.grad of the built-in ops on the cpu backend (test/conv.test.ts).
 */
import * as tf from './tf.js';

/** Explicit symmetric padding as tfjs wants it for NHWC. */
function padded(x: tf.Tensor4D, pad: number): tf.Tensor4D {
  return pad === 0 ? x : tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
}

/**
 * dL/dW of y = conv2d(input, W, stride, pad) given dy = dL/dy.
 * W has shape [k, k, Ci, Co]; returns that shape.
 */
export function conv2dFilterGrad(input: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , ci] = input.shape;
    const [, ho, wo, co] = dy.shape;
    const xp = padded(input, pad);
    const cols: tf.Tensor4D[] = [];
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        // Taps (i, j) of every output position: a strided window of the padded input.
        const end = [n, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, ci];
        cols.push(tf.stridedSlice(xp, [0, i, j, 0], end, [1, stride, stride, 1]) as tf.Tensor4D);
      }
    }
    const im2col = tf.reshape(tf.concat(cols, 3), [n * ho * wo, k * k * ci]);
    const dW = tf.matMul(im2col, tf.reshape(dy, [n * ho * wo, co]), true, false);
    return tf.reshape(dW, [k, k, ci, co]);
  });
}

function biasGrad(dy: tf.Tensor4D): tf.Tensor1D {
  return tf.sum(dy, [0, 1, 2]) as tf.Tensor1D;
}

/** y = conv2d(x, w, stride, pad) + b with custom gradients for x, w and b. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, stride: number, pad: number): tf.Tensor4D {
  const f = tf.customGrad((x, w, b, save) => {
    const xt = x as tf.Tensor4D;
    const wt = w as tf.Tensor4D;
    save([xt, wt]);
    const value = tf.add(tf.conv2d(xt, wt, stride, pad), b as tf.Tensor1D) as tf.Tensor4D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const k = ws.shape[0];
      const dx = tf.conv2dTranspose(dy4, ws, xs.shape, stride, pad);
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
    save([xt, wt]);
    const value = tf.add(tf.conv2dTranspose(xt, wt, outShape, stride, pad), b as tf.Tensor1D) as tf.Tensor4D;
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
