/**
 * Parity of the exported ONNX graphs (onnxruntime-node, CPU EP, graphOptimizationLevel 'all')
 * with the tfjs reference: the IR executor (tfjs/executor.ts) for the networks and a
 * straightforward nearest-code quantizer written here (direct ||z − C||², first minimum).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '../src/tfjs/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { runGraph } from '../src/tfjs/executor.js';
import { buildArchitecture, codebookSpec, tensorNames, type Architecture } from '../src/model/architecture.js';
import { parseModelConfig, type ModelConfig } from '../src/model/config.js';
import { exportModel, onnxNames, type Weights } from '../src/export/exportModel.js';
import { randomWeights, seededNormal } from '../src/export/randomWeights.js';

/**
 * Weight std gain/sqrt(fanIn). Gain 1 shrinks activations through the ReLUs (recon within 0.5 ± 0.1,
 * too easy for absolute tolerances); 1.3 gives |e| ~ 1.5 and recon in about [-3, 4], the scale of a
 * trained model or larger.
 */
const GAIN = 1.3;
const work = mkdtempSync(join(tmpdir(), 'dqc-export-test-'));
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------- tfjs reference

function paramLookup(weights: Weights): (name: string) => tf.Tensor {
  const cache = new Map<string, tf.Tensor>();
  return (name) => {
    let t = cache.get(name);
    if (!t) {
      const w = weights.get(name);
      if (!w) throw new Error(`test: no weight ${name}`);
      t = tf.keep(tf.tensor(w.data, w.shape, 'float32'));
      cache.set(name, t);
    }
    return t;
  };
}

/** Nearest code per slice by direct ||z_m − C[m,k]||²; tf.argMin returns the first minimum. */
function refQuantize(z: tf.Tensor4D, codebook: Float32Array, M: number, K: number, D: number): { idx: tf.Tensor4D; q: tf.Tensor4D } {
  const [n, h, w] = z.shape;
  const P = n * h * w;
  const C = tf.tensor(codebook, [1, M, K, D]);
  const zr = tf.reshape(z, [P, M, 1, D]);
  const dist = tf.sum(tf.square(tf.sub(zr, C)), 3); // [P, M, K]
  const idx = tf.argMin(dist, 2) as tf.Tensor2D; // [P, M] int32
  const flat = tf.add(idx, tf.range(0, M * K, K, 'int32').reshape([1, M]));
  const q = tf.gather(tf.tensor(codebook, [M * K, D]), flat.reshape([P * M]));
  return { idx: tf.reshape(idx, [n, h, w, M]) as tf.Tensor4D, q: tf.reshape(q, [n, h, w, M * D]) as tf.Tensor4D };
}

/** Algorithm 1 in tfjs: e (NHWC) → indices (NHWC int32) and q per level. */
function refEncodeIndices(arch: Architecture, weights: Weights, e: tf.Tensor4D[]): { idx: tf.Tensor4D[]; q: tf.Tensor4D[] } {
  const cfg = arch.config;
  const p = paramLookup(weights);
  const L = cfg.levels.length;
  const idx: tf.Tensor4D[] = new Array(L);
  const q: tf.Tensor4D[] = new Array(L);
  let c: tf.Tensor4D | null = null;
  for (let l = L - 1; l >= 0; l--) {
    const { M, K, D } = cfg.levels[l];
    const inputs: Record<string, tf.Tensor4D> = { [tensorNames.e(l)]: e[l] };
    if (c) inputs[tensorNames.c(l)] = c;
    const z = runGraph(arch.levels[l].preQuant, p, inputs)[tensorNames.z(l)];
    ({ idx: idx[l], q: q[l] } = refQuantize(z, weights.get(codebookSpec(cfg, l).name)!.data, M, K, D));
    const cond = arch.levels[l].condition;
    if (cond) {
      const ci: Record<string, tf.Tensor4D> = { [tensorNames.q(l)]: q[l] };
      if (c) ci[tensorNames.c(l)] = c;
      c = runGraph(cond, p, ci)[tensorNames.c(l - 1)];
    }
  }
  return { idx, q };
}

function refDecode(arch: Architecture, weights: Weights, q: tf.Tensor4D[], mask: number[]): tf.Tensor4D {
  const p = paramLookup(weights);
  const u: Record<string, tf.Tensor4D> = {};
  q.forEach((ql, l) => {
    const ul = runGraph(arch.levels[l].upsampler, p, { [tensorNames.q(l)]: ql })[tensorNames.u(l)];
    u[tensorNames.u(l)] = mask[l] ? ul : tf.zerosLike(ul);
  });
  return runGraph(arch.decoder, p, u)[tensorNames.reconstruction];
}

/**
 * Data-dependent codebooks (as the trainer initialises them): each code is the slice vector of a
 * random latent position of a calibration image, plus a little noise, chosen top-down so that the
 * conditioning chain sees realistic q. Makes code usage non-trivial and near-ties plausible.
 */
function calibrateCodebooks(arch: Architecture, weights: Weights, image: tf.Tensor4D, seed: number): void {
  const cfg = arch.config;
  const normal = seededNormal(seed);
  tf.tidy(() => {
    const p = paramLookup(weights);
    const e = runGraph(arch.encoder, p, { [tensorNames.image]: image });
    let c: tf.Tensor4D | null = null;
    for (let l = cfg.levels.length - 1; l >= 0; l--) {
      const { M, K, D } = cfg.levels[l];
      const inputs: Record<string, tf.Tensor4D> = { [tensorNames.e(l)]: e[tensorNames.e(l)] };
      if (c) inputs[tensorNames.c(l)] = c;
      const z = runGraph(arch.levels[l].preQuant, p, inputs)[tensorNames.z(l)];
      const zd = z.dataSync();
      const P = zd.length / (M * D);
      let ss = 0;
      for (let i = 0; i < zd.length; i++) ss += zd[i] * zd[i];
      const std = Math.sqrt(ss / zd.length);
      const cb = new Float32Array(M * K * D);
      for (let m = 0; m < M; m++) {
        for (let k = 0; k < K; k++) {
          const pos = Math.floor(Math.abs(normal() * 1e6)) % P;
          for (let d = 0; d < D; d++) cb[(m * K + k) * D + d] = zd[pos * M * D + m * D + d] + 0.2 * std * normal();
        }
      }
      weights.set(codebookSpec(cfg, l).name, { shape: [M, K, D], data: cb });
      const { q } = refQuantize(z, cb, M, K, D);
      const cond = arch.levels[l].condition;
      if (cond) {
        const ci: Record<string, tf.Tensor4D> = { [tensorNames.q(l)]: q };
        if (c) ci[tensorNames.c(l)] = c;
        c = runGraph(cond, p, ci)[tensorNames.c(l - 1)];
      }
    }
  });
}

/** A smooth-ish random image in [0, 1], NHWC. */
function testImage(n: number, h: number, w: number, seed: number): tf.Tensor4D {
  const normal = seededNormal(seed);
  const data = new Float32Array(n * h * w * 3);
  const f = Array.from({ length: 9 }, () => normal());
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < 3; ch++) {
          const v = 0.5 + 0.3 * Math.sin(f[ch] * 0.3 * x + f[ch + 3] * 0.2 * y + f[ch + 6] + b) + 0.15 * normal();
          data[i++] = Math.min(1, Math.max(0, v));
        }
      }
    }
  }
  return tf.tensor4d(data, [n, h, w, 3]);
}

// ---------------------------------------------------------------- ORT helpers

const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1 };

async function sessions(dir: string): Promise<Record<'encoder' | 'quantizer' | 'decoder', ort.InferenceSession>> {
  return {
    encoder: await ort.InferenceSession.create(join(dir, 'encoder.onnx'), sessionOptions),
    quantizer: await ort.InferenceSession.create(join(dir, 'quantizer.onnx'), sessionOptions),
    decoder: await ort.InferenceSession.create(join(dir, 'decoder.onnx'), sessionOptions),
  };
}

function toNchw(t: tf.Tensor4D): ort.Tensor {
  const nchw = tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]));
  const data = nchw.dataSync();
  const dims = nchw.shape;
  nchw.dispose();
  return t.dtype === 'int32' ? new ort.Tensor('int32', Int32Array.from(data), dims) : new ort.Tensor('float32', Float32Array.from(data), dims);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function nchwData(t: tf.Tensor4D): Float32Array | Int32Array {
  return tf.tidy(() => tf.transpose(t, [0, 3, 1, 2])).dataSync() as Float32Array | Int32Array;
}

// ---------------------------------------------------------------- parity

interface Case {
  label: string;
  config: Omit<ModelConfig, 'quantizer' | 'name'>;
  /** [N, H, W] per run. */
  sizes: [number, number, number][];
}

const cases: Case[] = [
  {
    label: 'DQ M=4, 2 levels, strides 4/8',
    config: { levels: [{ stride: 4, M: 4, K: 32, D: 4 }, { stride: 8, M: 4, K: 32, D: 4 }], channels: 16, resBlocks: 1, resHidden: 8 },
    sizes: [[1, 40, 24], [2, 24, 56], [1, 8, 16], [1, 72, 136]],
  },
  {
    label: 'VQ M=1, 3 levels, strides 4/8/16',
    config: { levels: [{ stride: 4, M: 1, K: 64, D: 16 }, { stride: 8, M: 1, K: 64, D: 16 }, { stride: 16, M: 1, K: 32, D: 16 }], channels: 16, resBlocks: 1, resHidden: 8 },
    sizes: [[1, 48, 80], [1, 16, 32], [1, 112, 144]],
  },
  {
    label: 'DQ M=8, 2 levels, strides 8/16',
    config: { levels: [{ stride: 8, M: 8, K: 16, D: 2 }, { stride: 16, M: 4, K: 64, D: 4 }], channels: 24, resBlocks: 2, resHidden: 12 },
    sizes: [[1, 80, 48], [1, 16, 16], [1, 144, 208]],
  },
];

interface Tally {
  same: number;
  total: number;
}

describe('exported graphs match the tfjs reference', () => {
  cases.forEach((tc, ci) => {
    it(tc.label, async () => {
      const cfg = parseModelConfig({ name: `parity${ci}`, ...tc.config });
      const arch = buildArchitecture(cfg);
      const weights = randomWeights(cfg, 100 + ci, { gain: GAIN });
      const calib = testImage(1, 96, 96, 7 + ci);
      calibrateCodebooks(arch, weights, calib, 11 + ci);
      calib.dispose();
      const dir = join(work, `parity${ci}`);
      await exportModel(cfg, weights, dir);
      const s = await sessions(dir);
      const L = cfg.levels.length;
      const tallies: Tally[] = cfg.levels.map(() => ({ same: 0, total: 0 }));
      const used: Set<number>[] = cfg.levels.map(() => new Set());
      let encDiff = 0;
      let decDiff = 0;
      let maskDiff = 0;
      let encAbs = 0;
      let recAbs = 0;

      for (const [n, h, w] of tc.sizes) {
        const image = testImage(n, h, w, 1000 * ci + h + w);
        const p = paramLookup(weights);
        // Encoder.
        const eRef = tf.tidy(() => Object.values(runGraph(arch.encoder, p, { [tensorNames.image]: image })).map((t) => tf.keep(t)));
        const eOut = await s.encoder.run({ [onnxNames.image]: toNchw(image) });
        eRef.forEach((t, l) => {
          const o = eOut[onnxNames.e(l)];
          expect(o.dims).toEqual([n, cfg.channels, h / cfg.levels[l].stride, w / cfg.levels[l].stride]);
          encDiff = Math.max(encDiff, maxAbsDiff(o.data as Float32Array, nchwData(t)));
          encAbs = Math.max(encAbs, maxAbs(o.data as Float32Array));
        });

        // Quantizer, fed the same e as the reference.
        const ref = tf.tidy(() => {
          const r = refEncodeIndices(arch, weights, eRef);
          return { idx: r.idx.map((t) => tf.keep(t)), q: r.q.map((t) => tf.keep(t)) };
        });
        const qFeeds = Object.fromEntries(eRef.map((t, l) => [onnxNames.e(l), toNchw(t)]));
        const qOut = await s.quantizer.run(qFeeds);
        ref.idx.forEach((t, l) => {
          const o = qOut[onnxNames.indices(l)];
          const lv = cfg.levels[l];
          expect(o.type).toBe('int32');
          expect(o.dims).toEqual([n, lv.M, h / lv.stride, w / lv.stride]);
          const want = nchwData(t);
          const got = o.data as Int32Array;
          for (let i = 0; i < want.length; i++) {
            tallies[l].total++;
            if (want[i] === got[i]) tallies[l].same++;
            const m = Math.floor(i / (want.length / n / lv.M)) % lv.M; // NCHW [n, M, h, w]
            used[l].add(m * lv.K + want[i]);
          }
        });

        // Decoder, fed the reference indices; all levels, then each "top levels only" preview.
        const dFeeds: Record<string, ort.Tensor> = Object.fromEntries(ref.idx.map((t, l) => [onnxNames.indices(l), toNchw(t)]));
        const masks: number[][] = [Array(L).fill(1)];
        for (let drop = 1; drop < L; drop++) masks.push(Array.from({ length: L }, (_, l) => (l < drop ? 0 : 1)));
        for (const mask of masks) {
          dFeeds[onnxNames.levelMask] = new ort.Tensor('float32', Float32Array.from(mask), [L]);
          const out = (await s.decoder.run(dFeeds))[onnxNames.reconstruction];
          expect(out.dims).toEqual([n, 3, h, w]);
          const want = tf.tidy(() => refDecode(arch, weights, ref.q, mask));
          const d = maxAbsDiff(out.data as Float32Array, nchwData(want));
          recAbs = Math.max(recAbs, maxAbs(out.data as Float32Array));
          want.dispose();
          if (mask.every((m) => m === 1)) decDiff = Math.max(decDiff, d);
          else maskDiff = Math.max(maskDiff, d);
        }
        [...eRef, ...ref.idx, ...ref.q, image].forEach((t) => t.dispose());
      }
      const totals = tallies.reduce((a, t) => ({ same: a.same + t.same, total: a.total + t.total }), { same: 0, total: 0 });
      const rate = totals.same / totals.total;
      console.log(
        `[export parity] ${tc.label}: encoder max|Δ| ${encDiff.toExponential(2)} (max|e| ${encAbs.toFixed(2)}), indices identical ${(100 * rate).toFixed(3)}% ` +
          `(${totals.same}/${totals.total}; per level bottom first ${tallies.map((t) => `${t.same}/${t.total}`).join(', ')}; ` +
          `distinct codes used ${used.map((u, l) => `${u.size}/${cfg.levels[l].M * cfg.levels[l].K}`).join(', ')}), ` +
          `decoder max|Δ| ${decDiff.toExponential(2)} (max|recon| ${recAbs.toFixed(2)}), preview (masked) max|Δ| ${maskDiff.toExponential(2)}`,
      );
      expect(encDiff).toBeLessThan(1e-4);
      expect(rate).toBeGreaterThanOrEqual(0.999);
      expect(decDiff).toBeLessThan(1e-3);
      expect(maskDiff).toBeLessThan(1e-3);
      // The test must exercise the quantizer: many codes in use, not a collapsed codebook.
      used.forEach((u, l) => expect(u.size).toBeGreaterThan(Math.min(8, cfg.levels[l].K)));
      await Promise.all(Object.values(s).map((x) => x.release()));
    });
  });
});

describe('quantizer details', () => {
  it('exact ties go to the lowest index (duplicated codes)', async () => {
    const cfg = parseModelConfig({ name: 'ties', ...cases[0].config });
    const arch = buildArchitecture(cfg);
    const weights = randomWeights(cfg, 5);
    calibrateCodebooks(arch, weights, testImage(1, 64, 64, 3), 4);
    // Codes 2j and 2j+1 identical in every slice: the argmin must always be even.
    cfg.levels.forEach((lv, l) => {
      const cb = weights.get(codebookSpec(cfg, l).name)!.data;
      for (let mk = 0; mk < lv.M * lv.K; mk += 2) cb.copyWithin((mk + 1) * lv.D, mk * lv.D, (mk + 1) * lv.D);
    });
    const dir = join(work, 'ties');
    await exportModel(cfg, weights, dir);
    const s = await ort.InferenceSession.create(join(dir, 'quantizer.onnx'), sessionOptions);
    const image = testImage(1, 64, 48, 9);
    const e = tf.tidy(() => Object.values(runGraph(arch.encoder, paramLookup(weights), { [tensorNames.image]: image })).map((t) => tf.keep(t)));
    const out = await s.run(Object.fromEntries(e.map((t, l) => [onnxNames.e(l), toNchw(t)])));
    const ref = tf.tidy(() => refEncodeIndices(arch, weights, e).idx.map((t) => tf.keep(t)));
    cfg.levels.forEach((_, l) => {
      const got = out[onnxNames.indices(l)].data as Int32Array;
      expect(got.every((v) => v % 2 === 0)).toBe(true);
      expect(Array.from(got)).toEqual(Array.from(nchwData(ref[l])));
    });
    [...e, ...ref, image].forEach((t) => t.dispose());
    await s.release();
  });

  it('decoder.onnx holds only decode-side weights', async () => {
    const cfg = parseModelConfig({ name: 'slim', ...cases[1].config });
    const dir = join(work, 'slim');
    await exportModel(cfg, randomWeights(cfg, 3), dir);
    const bytes = readFileSync(join(dir, 'decoder.onnx')).toString('latin1');
    expect(bytes).not.toContain('enc/');
    expect(bytes).not.toContain('cond');
    expect(bytes).not.toContain('pre0/');
    expect(bytes).toContain('up0/');
    expect(bytes).toContain('dec/');
    const qbytes = readFileSync(join(dir, 'quantizer.onnx')).toString('latin1');
    expect(qbytes).not.toContain('up0/');
    expect(qbytes).not.toContain('dec/');
  });
});

describe('export artefacts', () => {
  it('are deterministic and described by the manifest', async () => {
    const cfg = parseModelConfig({ name: 'det', ...cases[0].config });
    const w = randomWeights(cfg, 42);
    const a = await exportModel(cfg, w, join(work, 'det-a'));
    const b = await exportModel(cfg, randomWeights(cfg, 42), join(work, 'det-b'));
    for (const f of ['encoder.onnx', 'quantizer.onnx', 'decoder.onnx', 'manifest.json']) {
      expect(readFileSync(join(a.outDir, f)).equals(readFileSync(join(b.outDir, f)))).toBe(true);
    }
    const m = JSON.parse(readFileSync(join(a.outDir, 'manifest.json'), 'utf8'));
    expect(m).toEqual(a.manifest);
    expect(m.formatVersion).toBe(1);
    expect(m.config).toEqual(cfg);
    expect(m.totalStride).toBe(8);
    expect(m.levels).toEqual([{ M: 4, K: 32, D: 4, stride: 4 }, { M: 4, K: 32, D: 4, stride: 8 }]);
    expect(m.io.decoder).toEqual({ inputs: ['indices0', 'indices1', 'levelMask'], outputs: ['reconstruction'] });
    expect(m.io.quantizer).toEqual({ inputs: ['e0', 'e1'], outputs: ['indices0', 'indices1'] });
    expect(m.io.encoder).toEqual({ inputs: ['image'], outputs: ['e0', 'e1'] });
    expect(m.createdAt).toBeUndefined();
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256');
    for (const f of ['encoder.onnx', 'quantizer.onnx', 'decoder.onnx']) h.update(readFileSync(join(a.outDir, f)));
    expect(m.fingerprint).toBe(h.digest('hex'));
    // A different weight changes the fingerprint.
    [...w.entries()].find(([k]) => k.startsWith('dec/'))![1].data[0] += 1;
    const c = await exportModel(cfg, w, join(work, 'det-c'));
    expect(c.manifest.fingerprint).not.toBe(a.manifest.fingerprint);
  });

  it("the codec's manifest parser accepts the manifest", async () => {
    const cfg = parseModelConfig({ name: 'codec-compat', ...cases[2].config });
    const r = await exportModel(cfg, randomWeights(cfg, 1), join(work, 'codec-compat'));
    const { parseManifest } = await import('@dqcodec/codec/core');
    const m = parseManifest(JSON.parse(readFileSync(join(r.outDir, 'manifest.json'), 'utf8')));
    expect(m.fingerprint).toBe(r.manifest.fingerprint);
    expect(m.levels).toEqual(r.manifest.levels);
    expect(m.totalStride).toBe(16);
  });

  it('export time and graph sizes (channels 64, strides 8/16, K 256)', async () => {
    const cfg = parseModelConfig({
      name: 'size-probe',
      levels: [{ stride: 8, M: 8, K: 256, D: 8 }, { stride: 16, M: 4, K: 256, D: 8 }],
      channels: 64,
      resBlocks: 2,
      resHidden: 32,
    });
    const weights = randomWeights(cfg, 9);
    const r = await exportModel(cfg, weights, join(work, 'size-probe'));
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
    const s = await sessions(r.outDir);
    const N = 256;
    const t0 = performance.now();
    const e = await s.encoder.run({ image: new ort.Tensor('float32', new Float32Array(3 * N * N).fill(0.5), [1, 3, N, N]) });
    const t1 = performance.now();
    const idx = await s.quantizer.run(e);
    const t2 = performance.now();
    const rec = await s.decoder.run({ ...idx, levelMask: new ort.Tensor('float32', Float32Array.from([1, 1]), [2]) });
    const t3 = performance.now();
    console.log(
      `[export size] export ${r.ms.toFixed(0)} ms; encoder ${kib(r.manifest.sizes.encoder)}, quantizer ${kib(r.manifest.sizes.quantizer)}, ` +
        `decoder ${kib(r.manifest.sizes.decoder)}; ORT CPU 1 thread ${N}x${N}: encoder ${(t1 - t0).toFixed(0)} ms, ` +
        `quantizer ${(t2 - t1).toFixed(0)} ms, decoder ${(t3 - t2).toFixed(0)} ms`,
    );
    expect(rec.reconstruction.dims).toEqual([1, 3, N, N]);
    expect(r.ms).toBeLessThan(10_000);
    await Promise.all(Object.values(s).map((x) => x.release()));
  });
});
