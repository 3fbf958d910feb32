import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '../src/tfjs/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { conv2d, conv2dTranspose, convTransposeShape, transposedConv2d } from '../src/tfjs/conv.js';

// The custom gradients must equal tf.grad of the built-in ops, which the cpu backend implements.
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

const cases = [
  { k: 3, stride: 1, pad: 1, h: 7, w: 5, ci: 3, co: 4 },
  { k: 4, stride: 2, pad: 1, h: 8, w: 6, ci: 2, co: 5 },
  { k: 1, stride: 1, pad: 0, h: 4, w: 4, ci: 6, co: 3 },
];

describe('custom convolution gradients match tf.grad on cpu', () => {
  for (const c of cases) {
    it(`conv2d k=${c.k} s=${c.stride} p=${c.pad}`, () => {
      tf.tidy(() => {
        const x = tf.randomNormal([2, c.h, c.w, c.ci], 0, 1, 'float32', 1) as tf.Tensor4D;
        const w = tf.randomNormal([c.k, c.k, c.ci, c.co], 0, 1, 'float32', 2) as tf.Tensor4D;
        const b = tf.randomNormal([c.co], 0, 1, 'float32', 3) as tf.Tensor1D;
        const probe = tf.randomNormal(conv2d(x, w, b, c.stride, c.pad).shape, 0, 1, 'float32', 4);
        const ours = tf.grads((x, w, b) => tf.sum(tf.mul(conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, c.stride, c.pad), probe)));
        const ref = tf.grads((x, w, b) => tf.sum(tf.mul(tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), b), probe)));
        const g1 = ours([x, w, b]);
        const g2 = ref([x, w, b]);
        for (let i = 0; i < 3; i++) expect(maxAbsDiff(g1[i], g2[i])).toBeLessThan(1e-4);
      });
    });
  }

  it('conv2dTranspose k=4 s=2 p=1', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 3, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
      const w = tf.randomNormal([4, 4, 6, 4], 0, 1, 'float32', 6) as tf.Tensor4D;
      const b = tf.randomNormal([6], 0, 1, 'float32', 7) as tf.Tensor1D;
      const shape = convTransposeShape(x, 4, 2, 1, 6);
      expect(shape).toEqual([2, 10, 6, 6]);
      const probe = tf.randomNormal(shape, 0, 1, 'float32', 8);
      const ours = tf.grads((x, w, b) => tf.sum(tf.mul(conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 2, 1), probe)));
      const ref = tf.grads((x, w, b) =>
        tf.sum(tf.mul(tf.add(tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, shape, 2, 1), b), probe)),
      );
      const g1 = ours([x, w, b]);
      const g2 = ref([x, w, b]);
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(g1[i], g2[i])).toBeLessThan(1e-4);
    });
  });
});

describe('transposedConv2d (sub-pixel) equals tf.conv2dTranspose', () => {
  const tcases = [
    { k: 4, s: 2, p: 1, h: 5, w: 3 }, // the up/down-sampling convs
    { k: 3, s: 1, p: 1, h: 6, w: 4 }, // input gradient of a 3×3 conv
    { k: 1, s: 1, p: 0, h: 3, w: 3 },
    { k: 5, s: 1, p: 2, h: 4, w: 7 },
    { k: 3, s: 2, p: 0, h: 4, w: 4 }, // output 9×9: not a multiple of s → fallback path
    { k: 6, s: 3, p: 0, h: 3, w: 2 }, // 3 phases, no padding
    { k: 4, s: 2, p: 2, h: 4, w: 5 }, // output smaller than 2·h: the input is cropped
  ];
  for (const c of tcases) {
    it(`k=${c.k} s=${c.s} p=${c.p} on ${c.h}×${c.w}`, () => {
      tf.tidy(() => {
        const x = tf.randomNormal([2, c.h, c.w, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
        const w = tf.randomNormal([c.k, c.k, 5, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
        const shape = convTransposeShape(x, c.k, c.s, c.p, 5);
        const ours = transposedConv2d(x, w, shape, c.s, c.p);
        expect(ours.shape).toEqual(shape);
        expect(maxAbsDiff(ours, tf.conv2dTranspose(x, w, shape, c.s, c.p))).toBeLessThan(1e-4);
      });
    });
  }
});
