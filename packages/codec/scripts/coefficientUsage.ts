/**
 * Code usage and bits per index of a transform-model family on a directory of photos (issue #15,
 * "code usage per codebook and bits per index"): per quality, the file's bits per pixel, each
 * level's bits per index (its stream bytes × 8 / indices, against log2 K = 12), the share of
 * zero values, and per colour and zigzag band the share of nonzero values and of the level-0
 * bits (estimated from the static entropy of the band's values; the stream is coded as a whole).
 *
 *   npx tsx packages/codec/scripts/coefficientUsage.ts [--model models/default] [--data data/photos/heldout] [--quality 1,6,11]
 */
import { parseArgs } from 'node:util';
import { DqCodec, defaultModelDir, listImages, readHeader, levelStream } from '../src/index.js';

const { values: a } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', default: 'data/photos/heldout' }, quality: { type: 'string' } } });
const codec = await DqCodec.load(a.model ?? defaultModelDir(), { threads: 1 });
const family = codec.family;
if (!family) throw new Error('coefficientUsage: the model is not a model family of transform models');
const qualities = a.quality ? a.quality.split(',').map(Number) : family.qualities.map((m) => m.quality);
const images = await listImages(a.data!);
const BANDS: [string, number, number][] = [['DC', 0, 1], ['AC 1–5', 1, 6], ['AC 6–14', 6, 15], ['AC 15–27', 15, 28], ['AC 28–63', 28, 64]];
const COLOURS = ['Y', 'Cb', 'Cr'];

console.log('| quality | bpp | level 1 (top) bits/index | level 0 bits/index | level 0 zero share | top share of file |');
console.log('|---:|---:|---:|---:|---:|---:|');
const bandRows: string[] = [];
for (const q of qualities) {
  let px = 0;
  let fileBits = 0;
  const lvBits = [0, 0];
  const lvCount = [0, 0];
  let zeros = 0;
  const hist = new Map<string, Map<number, number>>();
  for (const path of images) {
    const enc = await codec.encodeImage(path, { quality: q });
    const header = readHeader(enc.bytes);
    fileBits += enc.bytes.length * 8;
    px += enc.width * enc.height;
    const t = await codec.tokens(path, { quality: q });
    t.levels.forEach((lv, i) => {
      lvBits[i] += levelStream(enc.bytes, header, i).length * 8;
      lvCount[i] += lv.indices.length;
    });
    const b = t.levels[1];
    const hw = b.h * b.w;
    const half = 2048;
    for (let m = 0; m < b.M; m++) {
      const j = m % 64;
      const band = BANDS.find(([, lo, hi]) => j >= lo && j < hi)![0];
      const key = `${COLOURS[Math.floor(m / 64)]} ${band}`;
      let h = hist.get(key);
      if (!h) hist.set(key, (h = new Map()));
      for (let p = 0; p < hw; p++) {
        const v = b.indices[m * hw + p] - half;
        if (v === 0) zeros++;
        h.set(v, (h.get(v) ?? 0) + 1);
      }
    }
  }
  console.log(`| ${q} | ${(fileBits / px).toFixed(3)} | ${(lvBits[0] / lvCount[0]).toFixed(3)} | ${(lvBits[1] / lvCount[1]).toFixed(3)} | ${((100 * zeros) / lvCount[1]).toFixed(1)} % | ${((100 * lvBits[0]) / fileBits).toFixed(1)} % |`);
  const ent = new Map<string, { nz: number; n: number; bits: number }>();
  let totalEnt = 0;
  for (const [key, h] of hist) {
    let n = 0;
    for (const c of h.values()) n += c;
    let bits = 0;
    for (const c of h.values()) bits -= c * Math.log2(c / n);
    ent.set(key, { nz: n - (h.get(0) ?? 0), n, bits });
    totalEnt += bits;
  }
  bandRows.push(`| ${q} | ${[...ent].map(([k, e]) => `${k}: ${((100 * e.nz) / e.n).toFixed(0)} % / ${((100 * e.bits) / totalEnt).toFixed(0)} %`).join('; ')} |`);
}
console.log('\nPer colour and zigzag band of level 0: nonzero share / share of the bits (static entropy of the band):\n');
console.log('| quality | bands |\n|---:|---|');
for (const r of bandRows) console.log(r);
await codec.close();
