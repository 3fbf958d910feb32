/**
 * Held-out learning curve of a transform model: PSNR (8-bit, mean over images) of each saved
 * checkpoint at fixed operating points — the rate of a point is fixed by the analysis, so this
 * is quality at a fixed rate against training steps — next to plain transform coding (refiner
 * off) and the top-level preview.
 *
 *   tsx packages/train/scripts/evalTransform.ts --data data/photos/heldout --quality 1,6,11 <checkpoint-dir>...
 */
import { parseArgs } from 'node:util';
import * as tf from '../src/tfjs/tf.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { decodeRgb } from '../src/data/dataset.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { parseTransformConfig } from '../src/transform/config.js';
import { TransformModel } from '../src/transform/model.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const { values: a, positionals } = parseArgs({ allowPositionals: true, options: { data: { type: 'string', default: 'data/photos/heldout' }, quality: { type: 'string', default: '1,6,11' } } });
await selectBackend('wasm');
const files = (await readdir(a.data!)).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort();
const images = await Promise.all(files.map((f) => decodeRgb(join(a.data!, f))));
const qualities = a.quality!.split(',').map(Number);
const psnr = (mse: number): number => -10 * Math.log10(mse);
let printedPlain = false;
for (const dir of positionals) {
  const ck = await loadCheckpoint(dir);
  const cfg = parseTransformConfig(ck.config);
  const m = TransformModel.create(cfg, 1);
  m.setWeights(ck.weights);
  const row: string[] = [];
  const plainRow: string[] = [];
  for (const q of qualities) {
    let s = 0;
    let sp = 0;
    let sv = 0;
    for (const im of images) {
      const H = im.height - (im.height % 16);
      const W = im.width - (im.width % 16);
      const px = new Float32Array(H * W * 3);
      for (let y = 0; y < H; y++) for (let x = 0; x < W * 3; x++) px[y * W * 3 + x] = im.data[y * im.width * 3 + x] / 255;
      const x = tf.tensor4d(px, [1, H, W, 3]);
      const scale = cfg.qualities[q - 1];
      s += psnr(m.evaluate(x, scale).mse);
      if (!printedPlain) sp += psnr(m.evaluate(x, scale, { refine: false }).mse);
      sv += psnr(m.evaluate(x, scale, { keepBottom: false }).mse);
      x.dispose();
    }
    row.push(`q${q} ${(s / images.length).toFixed(2)} (preview ${(sv / images.length).toFixed(2)})`);
    plainRow.push(`q${q} ${(sp / images.length).toFixed(2)}`);
  }
  if (!printedPlain) console.log(`plain transform coding (refiner off): ${plainRow.join(' | ')}`);
  printedPlain = true;
  console.log(`step ${ck.step}: ${row.join(' | ')}`);
  m.dispose();
}
