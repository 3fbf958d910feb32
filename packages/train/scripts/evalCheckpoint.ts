/**
 * Evaluates a training checkpoint on whole photos with TensorFlow.js: PSNR per image and the
 * perplexity of every codebook over all latent positions of all images.
 *
 *   npx tsx packages/train/scripts/evalCheckpoint.ts <checkpoint|run dir> [--data data/photos/heldout] [--max-side 768]
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '../src/tfjs/tf.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { parseModelConfig, totalStride } from '../src/model/config.js';
import { DqAe } from '../src/tfjs/model.js';
import { perplexities } from '../src/tfjs/quantizer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { decodeRgb } from '../src/data/dataset.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { data: { type: 'string', default: 'data/photos/heldout' }, 'max-side': { type: 'string', default: '768' }, backend: { type: 'string', default: 'auto' } },
});
if (positionals.length !== 1) {
  console.error('usage: evalCheckpoint.ts <checkpoint dir> [--data dir] [--max-side px]');
  process.exit(2);
}
await selectBackend(values.backend as 'auto');
const ck = await loadCheckpoint(positionals[0]);
const cfg = parseModelConfig(ck.config);
const model = DqAe.create(cfg, 1);
model.setWeights(ck.weights);
const s = totalStride(cfg);
const hist = cfg.levels.map((lv) => new Float64Array(lv.M * lv.K));
let sqSum = 0;
let sqPreview = 0;
let pixSum = 0;
console.log(`checkpoint step ${ck.step}, config ${cfg.name}, images from ${values.data}`);
for (const f of readdirSync(values.data!).sort()) {
  const im = await decodeRgb(join(values.data!, f), Number(values['max-side']));
  // Crop to a multiple of the total stride (evaluation only; the codec pads instead).
  const w = Math.floor(im.width / s) * s;
  const h = Math.floor(im.height / s) * s;
  const px = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w * 3; x++) px[y * w * 3 + x] = im.data[y * im.width * 3 + x] / 255;
  const x = tf.tensor4d(px, [1, h, w, 3]);
  const r = model.evaluate(x);
  // The progressive preview: decoded from the top level alone.
  const preview = cfg.levels.length > 1 ? model.evaluate(x, { keepLevels: 1 }) : r;
  x.dispose();
  sqPreview += preview.mse * w * h;
  r.histograms.forEach((hg, l) => hg.forEach((v, i) => (hist[l][i] += v)));
  sqSum += r.mse * w * h;
  pixSum += w * h;
  console.log(`${f}: ${w}×${h} PSNR ${r.psnr.toFixed(2)} dB, top level only ${preview.psnr.toFixed(2)} dB`);
}
const mse = sqSum / pixSum;
console.log(`mean MSE ${mse.toExponential(3)} → PSNR ${(10 * Math.log10(1 / mse)).toFixed(2)} dB over ${(pixSum / 1e6).toFixed(2)} MP; top level only ${(10 * Math.log10(pixSum / sqPreview)).toFixed(2)} dB`);
cfg.levels.forEach((lv, l) => {
  const p = perplexities(hist[l], lv.M, lv.K);
  const min = Math.min(...p);
  console.log(`level ${l} (stride ${lv.stride}, K=${lv.K}): perplexity per codebook ${p.map((v) => v.toFixed(1)).join(' ')}; min ${min.toFixed(1)} = ${((100 * min) / lv.K).toFixed(1)}% of K`);
});
