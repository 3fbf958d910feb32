/**
 * Transform models: the fixed analysis (colour, orthonormal 8×8 DCT, top-level means), the grid
 * quantizer with the top level's DC prediction, the refiner, the ONNX export of every operating
 * point (ORT against tfjs: identical indices, pixels within float error), the family manifest,
 * and the trainer's exact resume.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import * as tf from '../src/tfjs/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { parseFamily, parseManifest } from '@dqcodec/core';
import { blockDctMatrix } from '../src/transform/basis.js';
import { coefficientSteps, parseTransformConfig, topSteps, ZIGZAG, type TransformConfig } from '../src/transform/config.js';
import { TransformModel } from '../src/transform/model.js';
import { buildTransformExport, exportTransformFamily } from '../src/transform/exportTransform.js';
import { trainTransform, type TransformTrainOptions } from '../src/transform/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import type { Weights } from '../src/export/onnxGraph.js';
import { makeImageDir, removeTempDirs, tempDir } from './fixtures/images.js';

afterAll(removeTempDirs);

function tinyTransform(overrides: Partial<TransformConfig> = {}): TransformConfig {
  return parseTransformConfig({
    name: 'tc-test',
    kind: 'transform',
    K: 4096,
    lumaStep: 10,
    chromaStep: 16,
    tilt: 0.3,
    topStep: 2,
    topMaxStep: 8,
    deadzone: 0.35,
    shrink: 0.1,
    qualities: [4, 1, 0.25],
    refiner: { channels: 4, resBlocks: 1, resHidden: 2 },
    ...overrides,
  });
}

/** A smooth image with some texture, NHWC in [0, 1]. */
function photoLike(h: number, w: number, seed: number): Float32Array {
  const d = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 0.5 + 0.3 * Math.sin((x + seed) / 9 + c) * Math.cos(y / 13) + 0.05 * Math.sin(x * y * 0.37 + seed);
        d[(y * w + x) * 3 + c] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return d;
}

const psnr = (mse: number): number => -10 * Math.log10(mse);

describe('transform config', () => {
  it('rejects bad fields by name and keeps qualities decreasing', () => {
    expect(() => parseTransformConfig({ ...tinyTransform(), qualities: [1, 2] })).toThrow(/qualities must decrease/);
    expect(() => parseTransformConfig({ ...tinyTransform(), K: 7.5 })).toThrow(/config\.K/);
    expect(() => parseTransformConfig({ ...tinyTransform(), kind: 'dq' })).toThrow(/kind/);
    expect(() => parseTransformConfig({ ...tinyTransform(), refiner: null })).toThrow(/refiner/);
  });

  it('zigzag is a permutation starting at DC; steps grow with frequency and scale', () => {
    expect([...ZIGZAG].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(ZIGZAG.slice(0, 4)).toEqual([0, 1, 8, 16]);
    const cfg = tinyTransform();
    const s1 = coefficientSteps(cfg, 1);
    expect(s1[0]).toBe(10);
    expect(s1[63]).toBeCloseTo(10 * (1 + 0.3 * 14), 4);
    expect(s1[64]).toBe(16);
    expect(coefficientSteps(cfg, 2)[5]).toBeCloseTo(2 * s1[5], 5);
    expect(Array.from(topSteps(cfg, 100))).toEqual([8, 8, 8]);
  });

  it('the block DCT matrix is orthogonal', () => {
    const F = blockDctMatrix();
    const n = 192;
    let worst = 0;
    for (let a = 0; a < n; a += 7) {
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let p = 0; p < n; p++) s += F[p * n + a] * F[p * n + b];
        worst = Math.max(worst, Math.abs(s - (a === b ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('transform model (tfjs)', () => {
  it('untrained = plain transform coding; finer steps, higher PSNR; near lossless at tiny steps; the preview is coarser', async () => {
    await tf.setBackend('cpu');
    const cfg = tinyTransform();
    const m = TransformModel.create(cfg, 1);
    const x = tf.tensor4d(photoLike(32, 48, 1), [1, 32, 48, 3]);
    const coarse = m.evaluate(x, 4);
    expect(m.evaluate(x, 4, { refine: false }).mse).toBe(coarse.mse);
    const fine = m.evaluate(x, 0.25);
    expect(psnr(fine.mse)).toBeGreaterThan(psnr(coarse.mse) + 3);
    expect(psnr(m.evaluate(x, 0.02).mse)).toBeGreaterThan(50);
    expect(psnr(m.evaluate(x, 1, { keepBottom: false }).mse)).toBeLessThan(psnr(m.evaluate(x, 1).mse));
    x.dispose();
    m.dispose();
  });
});

async function runOnnx(graphs: Record<'encoder' | 'quantizer' | 'decoder', Uint8Array>, nhwc: Float32Array, h: number, w: number, mask: number[]) {
  const nchw = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) nchw[c * h * w + i] = nhwc[i * 3 + c];
  const enc = await ort.InferenceSession.create(graphs.encoder);
  const qua = await ort.InferenceSession.create(graphs.quantizer);
  const dec = await ort.InferenceSession.create(graphs.decoder);
  const e = await enc.run({ image: new ort.Tensor('float32', nchw, [1, 3, h, w]) });
  const q = await qua.run({ e0: e.e0, e1: e.e1 });
  const d = await dec.run({ indices0: q.indices0, indices1: q.indices1, levelMask: new ort.Tensor('float32', Float32Array.from(mask), [2]) });
  return { indices0: q.indices0.data as Int32Array, indices1: q.indices1.data as Int32Array, recon: d.reconstruction.data as Float32Array };
}

describe('transform export', () => {
  it('ONNX graphs give the tfjs indices exactly and its pixels within float error, preview included', async () => {
    await tf.setBackend('cpu');
    const cfg = tinyTransform();
    const m = TransformModel.create(cfg, 2);
    // Non-zero output layer so the refiner path is exercised.
    const w = m.getWeights();
    for (const [, t] of w) for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i] || 0.02 * Math.sin(i + 1);
    m.setWeights(w);
    const [h, wd] = [32, 48];
    const img = photoLike(h, wd, 3);
    const x = tf.tensor4d(img, [1, h, wd, 3]);
    for (const quality of [1, 3]) {
      const scale = cfg.qualities[quality - 1];
      const { graphs, manifest } = buildTransformExport(cfg, m.getWeights() as Weights, quality);
      expect(() => parseManifest(manifest)).not.toThrow();
      const a = m.analyse(x, scale);
      const q0 = a.q0.dataSync();
      const q1 = a.q1.dataSync();
      tf.dispose([a.q0, a.q1, a.coef]);
      for (const mask of [[1, 1], [0, 1]]) {
        const o = await runOnnx(graphs, img, h, wd, mask);
        const hw0 = (h / 8) * (wd / 8);
        for (let c = 0; c < 192; c++) for (let p = 0; p < hw0; p++) expect(o.indices0[c * hw0 + p] - cfg.K / 2 === q0[p * 192 + c]).toBe(true);
        const hw1 = (h / 16) * (wd / 16);
        for (let c = 0; c < 3; c++) for (let p = 0; p < hw1; p++) expect(o.indices1[c * hw1 + p] - cfg.K / 2 === q1[p * 3 + c]).toBe(true);
        const ref = m.evaluate(x, scale, { keepBottom: mask[0] === 1 }).recon;
        let worst = 0;
        for (let i = 0; i < h * wd; i++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(Math.min(1, Math.max(0, o.recon[c * h * wd + i])) - ref[i * 3 + c]));
        expect(worst).toBeLessThan(1e-4);
      }
    }
    x.dispose();
    m.dispose();
  });

  it('exports a family: one valid model per quality, fingerprints in family.json', async () => {
    await tf.setBackend('cpu');
    const cfg = tinyTransform();
    const m = TransformModel.create(cfg, 3);
    const out = join(tempDir(), 'fam');
    const r = await exportTransformFamily(cfg, m.getWeights() as Weights, out, { defaultQuality: 2 });
    m.dispose();
    expect(r.dirs).toHaveLength(3);
    const fam = parseFamily(JSON.parse(await readFile(join(out, 'family.json'), 'utf8')));
    expect(fam.defaultQuality).toBe(2);
    const fps = new Set<string>();
    for (const member of fam.qualities) {
      const man = parseManifest(JSON.parse(await readFile(join(out, member.dir, 'manifest.json'), 'utf8')));
      expect(man.fingerprint).toBe(member.fingerprint);
      fps.add(man.fingerprint);
    }
    expect(fps.size).toBe(3);
  });
});

describe('transform trainer', () => {
  it('lowers the error over plain transform coding and resumes exactly', async () => {
    const data = await makeImageDir(4, 48, 48);
    const cfg = tinyTransform();
    const opts = (outDir: string, steps: number, resume = false): TransformTrainOptions => ({
      config: cfg,
      dataDir: data,
      outDir,
      steps,
      batchSize: 2,
      cropSize: 32,
      learningRate: 3e-3,
      clipNorm: 1,
      previewDropout: 0.3,
      seed: 5,
      validateEvery: 2,
      validationCrops: 2,
      maxSide: 0,
      resume,
      backend: 'cpu',
    });
    const straight = tempDir();
    const r = await trainTransform(opts(straight, 4));
    expect(r.validations[0].points.map((p) => p.quality)).toEqual([1, 2, 3]);
    for (const p of r.validations[0].points) expect(p.psnr).toBeCloseTo(p.plainPsnr, 6);
    const resumed = tempDir();
    await trainTransform(opts(resumed, 2));
    await trainTransform(opts(resumed, 4, true));
    const a = await loadCheckpoint(join(straight, 'checkpoint'));
    const b = await loadCheckpoint(join(resumed, 'checkpoint'));
    expect(b.step).toBe(4);
    for (const [name, t] of a.weights) expect(Array.from(b.weights.get(name)!.data), name).toEqual(Array.from(t.data));
    await expect(trainTransform({ ...opts(resumed, 6, true), config: tinyTransform({ tilt: 0.1 }) })).rejects.toThrow(/different config/);
  });
});
