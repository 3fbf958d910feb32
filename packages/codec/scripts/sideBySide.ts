/**
 * A side-by-side comparison a person can look at: original | dqcodec | JPEG of the same size.
 *
 *   npx tsx packages/codec/scripts/sideBySide.ts <image> [--model models/default] [--levels n]
 *       [--crop x,y,w,h] [--scale 2] [--out docs/side-by-side/name.png]
 *
 * The whole image is encoded with dqcodec; mozjpeg (sharp) is then swept over q 1..95 and the
 * largest JPEG whose file is no bigger than the .dqc file is kept, so JPEG never gets more bytes.
 * Bits per pixel and PSNR are of the whole image; the panels show the crop, enlarged with
 * nearest-neighbour so that artefacts stay visible.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DqCodec, defaultModelDir, psnr } from '../src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    levels: { type: 'string' },
    crop: { type: 'string' },
    scale: { type: 'string', default: '2' },
    out: { type: 'string' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: sideBySide.ts <image> [--model dir] [--levels n] [--crop x,y,w,h] [--scale 2] [--out file.png]');
  process.exit(2);
}
const input = positionals[0];
const out = values.out ?? join('docs', 'side-by-side', `${basename(input).replace(/\.\w+$/, '')}.png`);
const scale = Number(values.scale);

const { data: original, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
const { width, height } = info;
const png = await sharp(original, { raw: { width, height, channels: 3 } }).png().toBuffer();

const codec = await DqCodec.load(values.model ?? defaultModelDir());
const levels = values.levels ? Number(values.levels) : undefined;
const dqc = await codec.encode(png, { levels });
const decoded = await codec.decode(dqc);
await codec.close();

// The best JPEG that is not larger than the .dqc file.
let jpeg: { q: number; bytes: Buffer; pixels: Buffer } | null = null;
for (let q = 1; q <= 95; q++) {
  const bytes = await sharp(original, { raw: { width, height, channels: 3 } }).jpeg({ quality: q, mozjpeg: true }).toBuffer();
  if (bytes.length > dqc.length) break;
  jpeg = { q, bytes, pixels: await sharp(bytes).removeAlpha().raw().toBuffer() };
}
if (!jpeg) throw new Error(`even JPEG q1 is larger than the ${dqc.length}-byte .dqc file`);

const [cx, cy, cw, ch] = values.crop ? values.crop.split(',').map(Number) : [0, 0, width, height];
const bpp = (n: number): string => ((n * 8) / (width * height)).toFixed(3);
const panels = [
  { title: 'original', pixels: original, note: `${width}×${height}` },
  { title: `dqcodec ${codec.manifest.name}${levels ? ` (top ${levels})` : ''}`, pixels: Buffer.from(decoded.pixels), note: `${bpp(dqc.length)} bpp, ${psnr(original, decoded.pixels).toFixed(2)} dB` },
  { title: `JPEG (mozjpeg q${jpeg.q})`, pixels: jpeg.pixels, note: `${bpp(jpeg.bytes.length)} bpp, ${psnr(original, jpeg.pixels).toFixed(2)} dB` },
];

const pw = cw * scale;
const ph = ch * scale;
const label = 44;
const gap = 8;
const tiles = await Promise.all(
  panels.map(async (p, i) => ({
    input: await sharp(p.pixels, { raw: { width, height, channels: 3 } })
      .extract({ left: cx, top: cy, width: cw, height: ch })
      .resize(pw, ph, { kernel: 'nearest' })
      .png()
      .toBuffer(),
    left: i * (pw + gap),
    top: label,
  })),
);
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const text = panels
  .map((p, i) => `<text x="${i * (pw + gap) + 6}" y="18" font-size="16" font-family="sans-serif" font-weight="bold">${esc(p.title)}</text><text x="${i * (pw + gap) + 6}" y="37" font-size="14" font-family="sans-serif">${esc(p.note)}</text>`)
  .join('');
const W = 3 * pw + 2 * gap;
const H = ph + label;
mkdirSync(dirname(out), { recursive: true });
await sharp({ create: { width: W, height: H, channels: 3, background: '#ffffff' } })
  .composite([...tiles, { input: Buffer.from(`<svg width="${W}" height="${label}">${text}</svg>`), left: 0, top: 0 }])
  .png()
  .toFile(out);
console.log(`${out}: ${panels.map((p) => `${p.title}: ${p.note}`).join(' | ')}; crop ${cw}×${ch} at ${cx},${cy} ×${scale}`);
