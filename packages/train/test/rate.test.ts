/**
 * Rate–distortion training (quantizer.assign 'entropy'): the learned prior, the entropy-constrained
 * assignment and its export, the rate reported by training, exact resume, and the scalar grid.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '../src/tfjs/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { parseModelConfig, type ModelConfig } from '../src/model/config.js';
import { DqAe, parentContext } from '../src/tfjs/model.js';
import { CodePrior, TABLE_TOTAL } from '../src/rate/codePrior.js';
import { exportModel, onnxNames } from '../src/export/exportModel.js';
import { seededNormal } from '../src/export/randomWeights.js';
import { train, type TrainOptions } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { AdamW } from '../src/train/adamw.js';
import { makeImageDir, removeTempDirs, tempDir } from './fixtures/images.js';
import { smallRunOptions, tinyConfig } from './fixtures/configs.js';

afterAll(removeTempDirs);

/** tinyConfig as a rate model (entropy-constrained assignment, learned prior). */
function rateConfig(name: string): ModelConfig {
  return parseModelConfig({ ...tinyConfig(name), quantizer: { assign: 'entropy' } });
}

function image(n: number, h: number, w: number, seed: number): tf.Tensor4D {
  const normal = seededNormal(seed);
  const d = new Float32Array(n * h * w * 3);
  for (let i = 0; i < d.length; i++) d[i] = Math.min(1, Math.max(0, 0.5 + 0.25 * Math.sin(i / 37) + 0.1 * normal()));
  return tf.tensor4d(d, [n, h, w, 3]);
}

describe('the learned prior', () => {
  it('integer tables: every entry ≥ 1, rows sum to 2^16, frequent codes cost fewer bits', () => {
    const p = new CodePrior({ M: 2, C: 3, K: 8 });
    p.update(Int32Array.from([1, 5, 1, 5, 1, 5, 2, 5]), Int32Array.from([0, 2, 0, 2, 0, 2, 0, 2]));
    const f = p.frequencyTable();
    for (let r = 0; r < 6; r++) {
      let s = 0;
      for (let k = 0; k < 8; k++) {
        expect(f[r * 8 + k]).toBeGreaterThanOrEqual(1);
        s += f[r * 8 + k];
      }
      expect(s).toBe(TABLE_TOTAL);
    }
    const bits = p.bitsTable();
    expect(bits[p.row(0, 0) + 1]).toBeLessThan(bits[p.row(0, 0) + 2]); // code 1 seen 3×, code 2 once
    expect(bits[p.row(0, 0) + 2]).toBeLessThan(bits[p.row(0, 0) + 3]); // never seen: only the smoothing
    expect(bits[p.row(1, 2) + 5]).toBeLessThan(1); // codebook 1, context 2: always code 5
  });

  it('the context of a child slice is the co-located parent code of codebook m mod M_p', () => {
    // parent [1, 2, 2, 1] (one codebook), child [1, 4, 4, 2]
    const ctx = parentContext(Int32Array.from([3, 4, 5, 6]), [1, 2, 2, 1], [1, 4, 4, 2]);
    expect(Array.from(ctx.subarray(0, 8))).toEqual([3, 3, 3, 3, 4, 4, 4, 4]);
    expect(ctx[(3 * 4 + 3) * 2 + 1]).toBe(6);
  });
});

describe('rate–distortion training', () => {
  it('reports the predicted rate; a lower λ buys a lower rate; codes stay in use at a moderate λ', () => {
    const cfg = rateConfig('rate-step');
    const x = image(4, 16, 16, 2);
    const run = (lambda: number): { rates: number[]; perplexity: number[]; taus: number[] } => {
      const model = DqAe.create(cfg, 5);
      const opt = new AdamW({ learningRate: 3e-3, weightDecay: 0 });
      try {
        const rates: number[] = [];
        for (let i = 0; i < 20; i++) rates.push(model.trainStep(x, opt, { clipNorm: 1, lambda }).bpp);
        expect(() => model.trainStep(x, opt, { clipNorm: 1 })).toThrow(/positive lambda/);
        return { rates, perplexity: model.evaluate(x).perplexity.flat(), taus: model.quantizers.map((q) => q.tau) };
      } finally {
        model.dispose();
        opt.dispose();
      }
    };
    try {
      const low = run(0.002);
      const high = run(0.05);
      const maxBits = cfg.levels.reduce((s, l) => s + (l.M * Math.log2(l.K)) / (l.stride * l.stride), 0);
      expect(low.rates[0]).toBeGreaterThan(0);
      expect(low.rates[0]).toBeLessThanOrEqual(maxBits * 1.01);
      expect(low.rates[19]).toBeLessThan(low.rates[0]);
      expect(low.rates[19]).toBeLessThan(high.rates[19]);
      // τ = 3 / (ln2·λ·255²·G): a larger λ charges bits less in the assignment.
      expect(low.taus.every((t, i) => t > high.taus[i] && high.taus[i] > 0)).toBe(true);
      console.log(`[rate] λ 0.002: ${low.rates[19].toFixed(3)} bpp, perplexity ${low.perplexity.map((p) => p.toFixed(2))}; λ 0.05: ${high.rates[19].toFixed(3)} bpp, perplexity ${high.perplexity.map((p) => p.toFixed(2))}`);
      expect(Math.min(...high.perplexity)).toBeGreaterThan(1.2);
    } finally {
      x.dispose();
    }
  });

  it('resumes exactly: 2 + 2 steps equal 4 steps (prior counts, τ, G included); a distortion-only checkpoint starts it', async () => {
    const data = await makeImageDir(4);
    const opts = (out: string, steps: number, resume = false): TrainOptions => ({ ...smallRunOptions(rateConfig('rate-resume'), data, out, steps, resume), lambda: 0.01 });
    const straight = tempDir();
    const r = await train(opts(straight, 4));
    expect(r.validations.at(-1)!.bpp).toBeGreaterThan(0);
    const resumed = tempDir();
    await train(opts(resumed, 2));
    await train(opts(resumed, 4, true));
    const a = await loadCheckpoint(join(straight, 'checkpoint'));
    const b = await loadCheckpoint(join(resumed, 'checkpoint'));
    expect([...a.weights.keys()]).toContain('prior0.counts');
    expect([...a.weights.keys()]).toContain('rate.gain');
    for (const [name, t] of a.weights) expect(Array.from(b.weights.get(name)!.data), name).toEqual(Array.from(t.data));

    // --init from a distortion-only run of the same layout (the shipped checkpoint's situation).
    const plain = tempDir();
    const { quantizer: _q, ...rest } = rateConfig('rate-resume');
    await train({ ...opts(plain, 2), config: parseModelConfig(rest), lambda: undefined });
    const tuned = await train({ ...opts(tempDir(), 2), initFrom: join(plain, 'checkpoint') });
    expect(tuned.validations[0].bpp).toBeGreaterThan(0);
  });

  it('grid (scalar) levels keep a fixed uniform codebook and train with noise', () => {
    const cfg = parseModelConfig({
      name: 'grid',
      levels: [{ stride: 2, M: 8, K: 16, D: 1, grid: true }, { stride: 4, M: 8, K: 16, D: 1, grid: true }],
      channels: 8,
      resBlocks: 1,
      resHidden: 4,
      quantizer: { assign: 'entropy' },
    });
    const model = DqAe.create(cfg, 2);
    const opt = new AdamW({ learningRate: 1e-3, weightDecay: 0 });
    const x = image(2, 16, 16, 4);
    try {
      for (let i = 0; i < 3; i++) model.trainStep(x, opt, { clipNorm: 1, lambda: 0.01 });
      const c = model.quantizers[0].codebook.dataSync();
      const step = c[1] - c[0];
      expect(step).toBeGreaterThan(0);
      for (let k = 0; k < 16; k++) expect(c[k]).toBeCloseTo((k - 8) * step, 5);
    } finally {
      x.dispose();
      model.dispose();
      opt.dispose();
    }
    expect(() => parseModelConfig({ ...cfg, levels: [{ stride: 2, M: 2, K: 8, D: 4, grid: true }] })).toThrow(/needs D = 1/);
  });
});

describe('export of a rate model', () => {
  it('the ONNX quantizer makes the entropy-constrained choices of the tfjs model (with the parent as context)', async () => {
    const cfg = rateConfig('rate-export');
    const model = DqAe.create(cfg, 9);
    const opt = new AdamW({ learningRate: 1e-3, weightDecay: 0 });
    const x = image(2, 32, 32, 6);
    try {
      for (let i = 0; i < 12; i++) model.trainStep(x, opt, { clipNorm: 1, lambda: 0.003 });
      const dir = join(tempDir(), 'model');
      const { manifest } = await exportModel(cfg, model.getWeights(), dir);
      expect(manifest.entropy?.format).toBe('dqc-prior');
      expect(manifest.prior).toEqual(manifest.entropy);
      const tfIdx = tf.tidy(() => model.forward(x).indices.map((t) => tf.keep(tf.transpose(t, [0, 3, 1, 2]))));
      const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 };
      const enc = await ort.InferenceSession.create(join(dir, 'encoder.onnx'), opts);
      const qua = await ort.InferenceSession.create(join(dir, 'quantizer.onnx'), opts);
      const nchw = tf.tidy(() => tf.transpose(x, [0, 3, 1, 2]));
      const e = await enc.run({ [onnxNames.image]: new ort.Tensor('float32', Float32Array.from(nchw.dataSync()), nchw.shape) });
      nchw.dispose();
      const q = await qua.run(Object.fromEntries(cfg.levels.map((_, l) => [onnxNames.e(l), e[onnxNames.e(l)]])));
      let same = 0;
      let total = 0;
      tfIdx.forEach((t, l) => {
        const want = t.dataSync();
        const got = q[onnxNames.indices(l)].data as Int32Array;
        for (let i = 0; i < want.length; i++, total++) if (want[i] === got[i]) same++;
      });
      tf.dispose(tfIdx);
      expect(same / total).toBeGreaterThanOrEqual(0.99);
    } finally {
      x.dispose();
      model.dispose();
      opt.dispose();
    }
  });
});
