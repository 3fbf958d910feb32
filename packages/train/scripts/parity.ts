/**
 * Parity of an exported model with its TensorFlow.js checkpoint on real photos:
 * onnxruntime-node (CPU EP, all graph optimisations) against the tfjs model, at several sizes
 * (multiples of the total stride, not of 64).
 *
 *   npx tsx packages/train/scripts/parity.ts <checkpoint|run dir> [--data data/photos/heldout] [--sizes 144x208,240x336,480x752]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import * as tf from '../src/tfjs/tf.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { parseModelConfig } from '../src/model/config.js';
import { DqAe } from '../src/tfjs/model.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { exportModel } from '../src/export/exportModel.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { data: { type: 'string', default: 'data/photos/heldout' }, sizes: { type: 'string', default: '144x208,240x336,480x752' } },
});
await selectBackend('cpu');
const ck = await loadCheckpoint(positionals[0] ?? 'runs/default');
const cfg = parseModelConfig(ck.config);
const model = DqAe.create(cfg, 1);
model.setWeights(ck.weights);
const dir = join(mkdtempSync(join(tmpdir(), 'dq-parity-')), 'model');
const exp = await exportModel(cfg, ck.weights, dir);
const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionProviders: ['cpu'] };
const enc = await ort.InferenceSession.create(join(dir, 'encoder.onnx'), opts);
const qnt = await ort.InferenceSession.create(join(dir, 'quantizer.onnx'), opts);
const dec = await ort.InferenceSession.create(join(dir, 'decoder.onnx'), opts);
const L = cfg.levels.length;

let worst = 0;
let same = 0;
let total = 0;
console.log(`checkpoint step ${ck.step}; export ${exp.ms.toFixed(0)} ms`);
console.log('| image | size | max abs diff (recon, [0,1]) | identical indices |');
console.log('|---|---|---|---|');
for (const f of readdirSync(values.data!).sort()) {
  for (const size of values.sizes!.split(',')) {
    const [h, w] = size.split('x').map(Number);
    const { data } = await sharp(join(values.data!, f)).resize(w, h, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const nhwc = Float32Array.from(data, (v) => v / 255);
    const nchw = new Float32Array(3 * h * w);
    for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) nchw[c * h * w + i] = nhwc[i * 3 + c];
    // tfjs reference.
    const x = tf.tensor4d(nhwc, [1, h, w, 3]);
    const ref = tf.tidy(() => {
      const out = model.forward(x);
      return { recon: out.recon.dataSync().slice(), indices: out.indices.map((t) => t.dataSync().slice()) };
    });
    x.dispose();
    // onnxruntime.
    const e = await enc.run({ image: new ort.Tensor('float32', nchw, [1, 3, h, w]) });
    const q = await qnt.run(e);
    const mask = new ort.Tensor('float32', new Float32Array(L).fill(1), [L]);
    const d = await dec.run({ ...q, levelMask: mask });
    const recon = d.reconstruction.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < h * w; i++) {
      for (let c = 0; c < 3; c++) maxDiff = Math.max(maxDiff, Math.abs(recon[c * h * w + i] - ref.recon[i * 3 + c]));
    }
    let s = 0;
    let n = 0;
    for (let l = 0; l < L; l++) {
      const { M, stride } = cfg.levels[l];
      const hl = h / stride;
      const wl = w / stride;
      const onnxIdx = q[`indices${l}`].data as Int32Array; // [1, M, h, w]
      for (let m = 0; m < M; m++) for (let i = 0; i < hl * wl; i++, n++) if (onnxIdx[m * hl * wl + i] === ref.indices[l][i * M + m]) s++;
    }
    worst = Math.max(worst, maxDiff);
    same += s;
    total += n;
    console.log(`| ${f} | ${h}×${w} | ${maxDiff.toExponential(2)} | ${((100 * s) / n).toFixed(3)}% (${s}/${n}) |`);
  }
}
console.log(`\nworst max abs diff ${worst.toExponential(2)}; identical indices ${((100 * same) / total).toFixed(4)}% (${same}/${total})`);
rmSync(dir, { recursive: true, force: true });
