/**
 * Predicted rate against real file sizes, for rate models (a learned prior in manifest.entropy):
 *
 *   npm run bench:rate -- data/photos/heldout --model runs/my-rate-model
 *
 * For every image: the code length the model predicts for its codes (Σ −log2 p(k | m, c) under
 * the prior the model was trained with: the rate term of its training loss) and the size of the
 * `.dqc` file `dqcodec encode --method conditional` writes (header, streams, CRCs and all), both
 * in bits per pixel, and their ratio. Prints a table, or JSON with --json. (A model with fitted
 * 'context' tables as well writes smaller files by default; see BENCHMARKS.md.)
 */
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { compilePriorTables, decodeIndices, isPriorTables, priorLevelBits } from '@dqcodec/core';
import { DqCodec, listImages } from '@dqcodec/codec';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', short: 'm', default: 'models/default' }, json: { type: 'boolean', default: false } },
});
if (positionals.length !== 1) {
  console.error('usage: npm run bench:rate -- <image dir> [--model <dir>] [--json]');
  process.exit(1);
}
const codec = await DqCodec.load(values.model!);
const tables = codec.manifest.prior ?? codec.manifest.entropy;
if (!isPriorTables(tables)) {
  console.error(`bench:rate: ${values.model} is not a rate model (its manifest has no learned prior)`);
  process.exit(1);
}
const prior = compilePriorTables(tables);
const rows: { image: string; pixels: number; predictedBpp: number; fileBpp: number; ratio: number }[] = [];
try {
  for (const file of await listImages(positionals[0])) {
    // One encode per image: the indices are read back from the file (entropy decoding only).
    const bytes = await codec.encode(file, { method: 'conditional' });
    const { header, levels } = decodeIndices(bytes, { prior: tables });
    let bits = 0;
    levels.forEach((lv, i) => (bits += priorLevelBits(lv, i > 0 ? levels[i - 1] : null, prior[i])));
    const pixels = header.width * header.height;
    rows.push({ image: basename(file), pixels, predictedBpp: bits / pixels, fileBpp: (bytes.length * 8) / pixels, ratio: (bytes.length * 8) / bits });
  }
} finally {
  await codec.close();
}
const total = rows.reduce((a, r) => ({ pred: a.pred + r.predictedBpp * r.pixels, file: a.file + r.fileBpp * r.pixels }), { pred: 0, file: 0 });
if (values.json) {
  console.log(JSON.stringify({ model: values.model, images: rows, ratio: total.file / total.pred }, null, 2));
} else {
  console.log(`model ${values.model} (${codec.manifest.name}), ${rows.length} images`);
  console.log('image                      predicted bpp   file bpp   file / predicted');
  for (const r of rows) console.log(`${r.image.padEnd(26)} ${r.predictedBpp.toFixed(4).padStart(13)} ${r.fileBpp.toFixed(4).padStart(10)} ${r.ratio.toFixed(4).padStart(18)}`);
  console.log(`all                        ${' '.repeat(13)} ${' '.repeat(10)} ${(total.file / total.pred).toFixed(4).padStart(18)}`);
}
