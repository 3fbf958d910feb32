/**
 * Training on the wasm backend, which has no Conv2DBackpropFilter kernel (tfjs 4.22): the custom
 * convolution gradients (conv.ts) and the quantizer's ops must all run there.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { AdamW } from '../src/train/adamw.js';
import * as tf from '../src/tfjs/tf.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { DqAe } from '../src/tfjs/model.js';
import { DEFAULT_QUANTIZER } from '../src/model/config.js';
import { Quantizer } from '../src/tfjs/quantizer.js';
import { Rng } from '../src/tfjs/rng.js';
import { tinyConfig } from './fixtures/configs.js';

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  expect(await tf.setBackend('wasm')).toBe(true);
  expect(tf.getBackend()).toBe('wasm');
});

const cfg = tinyConfig('tiny-wasm');

describe('training on the wasm backend', () => {
  it('runs train steps that reduce the loss, without leaks', () => {
    const model = DqAe.create(cfg, 1);
    const opt = new AdamW({ learningRate: 3e-3 });
    const x = tf.randomUniform([2, 16, 12, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const losses: number[] = [];
    let tensors = 0;
    for (let i = 0; i < 8; i++) {
      const r = model.trainStep(x, opt, { clipNorm: 1 });
      expect(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm) && r.gradNorm > 0).toBe(true);
      losses.push(r.loss);
      if (i === 1) tensors = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(Math.min(...losses.slice(-2))).toBeLessThan(losses[0]);
    const ev = model.evaluate(x, { keepLevels: 1 });
    expect(Number.isFinite(ev.mse)).toBe(true);
    x.dispose();
    opt.dispose();
    model.dispose();
  });

  it('argMin ties go to the lowest index on wasm too', () => {
    const model = DqAe.create(cfg, 2);
    const qz = model.quantizers[0];
    // Codes 1 and 5 identical; z equal to them.
    const cb = new Float32Array(2 * 8 * 4).map((_, i) => (i % 7) - 3);
    for (let m = 0; m < 2; m++) for (let d = 0; d < 4; d++) cb[(m * 8 + 5) * 4 + d] = cb[(m * 8 + 1) * 4 + d];
    tf.tidy(() => {
      qz.codebook.assign(tf.tensor3d(cb, [2, 8, 4]));
      const z = tf.tensor4d([...cb.slice(4, 8), ...cb.slice(36, 40)], [1, 1, 1, 8]);
      expect(Array.from(qz.quantize(z).indices.dataSync())).toEqual([1, 1]);
    });
    model.dispose();
  });
});

describe('quantizer EMA on the wasm backend', () => {
  // Regression: tfjs-wasm's oneHot(…, 'float32') returns integer bit patterns (1 → 1.4e-45),
  // which silently zeroed the EMA counts and collapsed every codebook.
  it('counts assignments exactly like the hand computation', () => {
    const q = new Quantizer({ stride: 2, M: 1, K: 2, D: 1 }, { ...DEFAULT_QUANTIZER, decay: 0.5, eps: 0 }, { level: 0, varPrefix: 'wasmq/', rng: new Rng(1) });
    q.codebook.assign(tf.tensor3d([0, 10], [1, 2, 1]));
    q.emaN.assign(tf.tensor2d([1, 1], [1, 2]));
    q.emaM.assign(tf.tensor3d([0, 10], [1, 2, 1]));
    const z = tf.tensor4d([1, 2, 3, 12], [1, 2, 2, 1]);
    const idx = tf.tensor4d([0, 0, 0, 1], [1, 2, 2, 1], 'int32');
    q.emaUpdate(z, idx);
    // N = 0.5·1 + 0.5·[3, 1] = [2, 1];  m = 0.5·[0, 10] + 0.5·[6, 12] = [3, 11]
    expect(Array.from(q.emaN.dataSync())).toEqual([2, 1]);
    expect(Array.from(q.emaM.dataSync())).toEqual([3, 11]);
    q.dispose();
  });
});
