import { describe, it, expect, beforeAll } from 'vitest';
import { AdamW } from '../src/train/adamw.js';
import * as tf from '../src/tfjs/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { DqAe } from '../src/tfjs/model.js';
import { runGraph } from '../src/tfjs/executor.js';
import { tensorNames } from '../src/model/architecture.js';
import { parseModelConfig, type ModelConfig } from '../src/model/config.js';
import { tinyConfig } from './fixtures/configs.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const cfg: ModelConfig = tinyConfig('tiny');

/** A smooth, fixed batch in [0, 1]. */
function batch(n: number, h: number, w: number, seed = 0): tf.Tensor4D {
  const data = new Float32Array(n * h * w * 3);
  let i = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) data[i++] = 0.5 + 0.4 * Math.sin((x + 1.7 * b + seed) * 0.4 + c) * Math.cos((y - b) * 0.3 + 0.5 * c);
  return tf.tensor4d(data, [n, h, w, 3]);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('DqAe forward', () => {
  it('has the right shapes on a non-square input (2 levels)', () => {
    const model = DqAe.create(cfg, 1);
    const x = batch(2, 16, 24);
    tf.tidy(() => {
      const out = model.forward(x);
      expect(out.recon.shape).toEqual([2, 16, 24, 3]);
      expect(out.indices.map((t) => t.shape)).toEqual([
        [2, 8, 12, 2],
        [2, 4, 6, 2],
      ]);
      expect(out.indices.every((t) => t.dtype === 'int32')).toBe(true);
      expect(out.z.map((t) => t.shape)).toEqual([
        [2, 8, 12, 8],
        [2, 4, 6, 8],
      ]);
      expect(out.q.map((t) => t.shape)).toEqual(out.z.map((t) => t.shape));
      expect(out.commitLoss.shape).toEqual([]);
      expect(Number.isFinite(out.commitLoss.dataSync()[0])).toBe(true);
      // decode(indices) reproduces the forward reconstruction exactly.
      expect(maxAbsDiff(model.decode(out.indices), out.recon)).toBe(0);
    });
    expect(() => model.forward(tf.zeros([1, 10, 16, 3]) as tf.Tensor4D)).toThrow(/multiple of the total stride 4/);
    x.dispose();
    model.dispose();
  });

  it('keepLevels = 1 decodes the top level alone: lower u replaced by zeros', () => {
    const model = DqAe.create(cfg, 2);
    const x = batch(2, 16, 24);
    model.initialiseCodebooks(x);
    tf.tidy(() => {
      const full = model.forward(x);
      const top = model.forward(x, { keepLevels: 1 });
      expect(maxAbsDiff(full.recon, top.recon)).toBeGreaterThan(1e-4);
      // Same codes either way (the encode side is unchanged).
      for (let l = 0; l < 2; l++) expect(maxAbsDiff(full.indices[l], top.indices[l])).toBe(0);
      // Reference: the decoder fed u1 = upsampler1(q1) and u0 = 0.
      const lookup = (n: string): tf.Tensor => model.param(n);
      const u1 = runGraph(model.arch.levels[1].upsampler, lookup, { [tensorNames.q(1)]: top.q[1] })[tensorNames.u(1)];
      const ref = runGraph(model.arch.decoder, lookup, { [tensorNames.u(0)]: tf.zeros(u1.shape) as tf.Tensor4D, [tensorNames.u(1)]: u1 })[tensorNames.reconstruction];
      expect(maxAbsDiff(top.recon, ref)).toBe(0);
      // decode() with only the top level's indices gives the same preview.
      expect(maxAbsDiff(model.decode([null, top.indices[1]], { keepLevels: 1 }), ref)).toBe(0);
      expect(() => model.forward(x, { keepLevels: 0 })).toThrow(RangeError);
      expect(() => model.forward(x, { keepLevels: 3 })).toThrow(RangeError);
    });
    x.dispose();
    model.dispose();
  });
});

describe('DqAe training', () => {
  it('a preview step (keepLevels = 1) trains the top path and leaves the bottom upsampler untouched', () => {
    const model = DqAe.create(cfg, 5);
    const opt = new AdamW({ learningRate: 1e-2 });
    const x = batch(2, 16, 16, 4);
    model.trainStep(x, opt, { clipNorm: 1 }); // initialises codebooks and Adam state
    const up0 = model.getWeights();
    const r = model.trainStep(x, opt, { clipNorm: 1, keepLevels: 1 });
    expect(Number.isFinite(r.loss)).toBe(true);
    const after = model.getWeights();
    const changed = (prefix: string): boolean =>
      [...after].some(([n, w]) => n.startsWith(prefix) && w.data.some((v, i) => v !== up0.get(n)!.data[i]));
    expect(changed('up0/')).toBe(false);
    expect(changed('up1/')).toBe(true);
    expect(changed('dec/')).toBe(true);
    model.dispose();
    x.dispose();
  });

  it('reduces the loss on a fixed batch, without leaking tensors', () => {
    const model = DqAe.create(cfg, 3);
    const opt = new AdamW({ learningRate: 3e-3 });
    const x = batch(4, 16, 16);
    const losses: number[] = [];
    let tensorsAfter2 = 0;
    for (let i = 0; i < 20; i++) {
      const r = model.trainStep(x, opt, { clipNorm: 1 });
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.loss).toBeCloseTo(r.mse + cfg.quantizer.beta * r.commit, 5);
      expect(r.perplexity.map((p) => p.length)).toEqual([2, 2]);
      for (const lv of r.perplexity) for (const p of lv) expect(p).toBeGreaterThanOrEqual(1);
      losses.push(r.loss);
      // Adam creates its moment variables on the first step.
      if (i === 1) tensorsAfter2 = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensorsAfter2);
    if (process.env.DQ_VERBOSE) console.log('losses', losses.map((l) => l.toFixed(4)).join(' '));
    const first = losses[0];
    const last = Math.min(...losses.slice(-3));
    expect(last).toBeLessThan(0.7 * first);
    // evaluate changes nothing.
    const w0 = model.getWeights();
    const ev = model.evaluate(x);
    expect(ev.recon.length).toBe(4 * 16 * 16 * 3);
    expect(ev.psnr).toBeCloseTo(10 * Math.log10(1 / ev.mse), 6);
    const w1 = model.getWeights();
    for (const [n, e] of w0) expect(w1.get(n)!.data).toEqual(e.data);
    x.dispose();
    opt.dispose();
    model.dispose();
  });

  it('getWeights/setWeights round-trip gives identical outputs and state', () => {
    const a = DqAe.create(cfg, 4);
    const opt = new AdamW({ learningRate: 1e-3 });
    const x = batch(2, 8, 12);
    for (let i = 0; i < 2; i++) a.trainStep(x, opt, { clipNorm: 1 });
    const wa = a.getWeights();
    expect(wa.has('codebook0') && wa.has('codebook1') && wa.has('ema1.N') && wa.has('ema0.m') && wa.has('quant0.initialised')).toBe(true);
    expect(wa.get('codebook1')!.shape).toEqual([2, 8, 4]);
    expect(wa.get('quant0.initialised')!.data[0]).toBe(1);
    const b = DqAe.create(cfg, 99);
    expect(b.varPrefix).not.toBe(a.varPrefix); // both alive: distinct tfjs variable names
    b.setWeights(wa);
    const wb = b.getWeights();
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    for (const [n, e] of wa) {
      expect(wb.get(n)!.shape).toEqual(e.shape);
      expect(wb.get(n)!.data).toEqual(e.data);
    }
    tf.tidy(() => {
      const ra = a.forward(x);
      const rb = b.forward(x);
      expect(maxAbsDiff(ra.recon, rb.recon)).toBe(0);
      for (let l = 0; l < 2; l++) expect(maxAbsDiff(ra.indices[l], rb.indices[l])).toBe(0);
    });
    // Bad maps are refused with a clear message.
    const missing = new Map(wa);
    missing.delete('codebook0');
    expect(() => b.setWeights(missing)).toThrow(/missing weight codebook0/);
    const bad = new Map(wa);
    const first = [...wa.keys()][0];
    bad.set(first, { shape: [1], data: new Float32Array(1) });
    expect(() => b.setWeights(bad)).toThrow(new RegExp(`weight ${first} has shape`));
    const extra = new Map(wa);
    extra.set('nope', { shape: [1], data: new Float32Array(1) });
    expect(() => b.setWeights(extra)).toThrow(/unexpected weight nope/);
    x.dispose();
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  it('is deterministic: same seed → identical weights and losses', () => {
    const x = batch(2, 8, 8, 1);
    const run = (seed: number): { w: Map<string, { data: Float32Array }>; losses: number[] } => {
      const m = DqAe.create(cfg, seed);
      const w = m.getWeights();
      const opt = new AdamW({ learningRate: 1e-3 });
      const losses = [0, 1, 2].map(() => m.trainStep(x, opt, { clipNorm: 1 }).loss);
      opt.dispose();
      m.dispose();
      return { w, losses };
    };
    const r1 = run(5);
    const r2 = run(5);
    for (const [n, e] of r1.w) expect(r2.w.get(n)!.data).toEqual(e.data);
    expect(r2.losses).toEqual(r1.losses);
    const r3 = run(6);
    const firstW = [...r1.w.keys()].find((n) => n.endsWith('.w'))!;
    expect(r3.w.get(firstW)!.data).not.toEqual(r1.w.get(firstW)!.data);
    x.dispose();
  });

  it('works with 1 level (plain VQ) and 3 levels; variable names are reused after dispose', () => {
    for (const levels of [[{ stride: 4, M: 1, K: 8, D: 6 }], [{ stride: 2, M: 2, K: 4, D: 2 }, { stride: 4, M: 1, K: 4, D: 3 }, { stride: 8, M: 3, K: 4, D: 2 }]]) {
      const c = parseModelConfig({ name: 'n', levels, channels: 8, resBlocks: 1, resHidden: 4 });
      const m = DqAe.create(c, 1);
      expect(m.varPrefix).toBe('dqae/');
      const opt = new AdamW({ learningRate: 1e-3 });
      const x = batch(1, 16, 8);
      const r = m.trainStep(x, opt, { clipNorm: 1 });
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.perplexity.map((p) => p.length)).toEqual(levels.map((l) => l.M));
      tf.tidy(() => {
        const out = m.forward(x, { keepLevels: 1 });
        expect(out.recon.shape).toEqual([1, 16, 8, 3]);
        expect(out.indices.map((t) => t.shape[3])).toEqual(levels.map((l) => l.M));
      });
      x.dispose();
      opt.dispose();
      m.dispose();
    }
  });
});
