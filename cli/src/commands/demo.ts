/**
 * `dqcodec demo`: the main job end to end with the shipped model. Encodes the sample photos,
 * decodes them fully and as a top-level preview, and compares with mozjpeg JPEG at the same
 * file size; writes everything to --out and prints a table.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import sharp from 'sharp';
import { addCodecOptions, openCodec, type CodecFlags } from './codecCommon.js';
import { printable } from '../printable.js';

const SAMPLES = fileURLToPath(new URL('../../../samples/', import.meta.url));

async function rgb(input: string | Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** PSNR in dB between two 8-bit RGB images of the same size. */
function psnr(a: Uint8Array, b: Uint8Array): number {
  let sq = 0;
  for (let i = 0; i < a.length; i++) sq += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / Math.max(sq / a.length, 1e-10));
}

/** The largest-quality mozjpeg JPEG no bigger than `bytes` (binary search over quality). */
async function jpegAtSize(input: Buffer, width: number, height: number, bytes: number): Promise<Buffer | null> {
  let lo = 1;
  let hi = 100;
  let best: Buffer | null = null;
  while (lo <= hi) {
    const q = (lo + hi) >> 1;
    const buf = await sharp(input, { raw: { width, height, channels: 3 } }).jpeg({ quality: q, mozjpeg: true }).toBuffer();
    if (buf.length <= bytes) {
      best = buf;
      lo = q + 1;
    } else hi = q - 1;
  }
  return best;
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description('Encode and decode the sample photos with the default model; compare with JPEG at the same size.')
    .argument('[images...]', 'images to use instead of the bundled samples')
    .option('-o, --out <dir>', 'where to write .dqc files, decoded PNGs and comparisons', 'demo-output');
  addCodecOptions(cmd).action(async (images: string[], o: CodecFlags & { out: string }) => {
    const codec = await openCodec(o);
    const inputs = images.length > 0 ? images : (await readdir(SAMPLES)).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).map((f) => join(SAMPLES, f));
    await mkdir(o.out, { recursive: true });
    const rows: string[] = [];
    for (const input of inputs) {
      const name = basename(input, extname(input));
      const orig = await rgb(input);
      const t0 = performance.now();
      const dqc = await codec.encode(input);
      const t1 = performance.now();
      const full = await codec.decode(dqc);
      const t2 = performance.now();
      const preview = await codec.decode(dqc, { levels: 1 });
      const pixels = orig.width * orig.height;
      const fullPx = (await rgb(await sharp(full.pixels, { raw: { width: full.width, height: full.height, channels: full.channels as 3 } }).png().toBuffer())).data;
      const prevPx = (await rgb(await sharp(preview.pixels, { raw: { width: preview.width, height: preview.height, channels: preview.channels as 3 } }).png().toBuffer())).data;
      const jpeg = await jpegAtSize(orig.data, orig.width, orig.height, dqc.length);
      const jpegPsnr = jpeg ? psnr(orig.data, (await rgb(jpeg)).data) : NaN;
      const topBytes = full.header.levels[0].streamLength;
      await writeFile(join(o.out, `${name}.dqc`), dqc);
      await sharp(fullPx, { raw: { width: orig.width, height: orig.height, channels: 3 } }).png().toFile(join(o.out, `${name}.decoded.png`));
      await sharp(prevPx, { raw: { width: orig.width, height: orig.height, channels: 3 } }).png().toFile(join(o.out, `${name}.preview.png`));
      if (jpeg) {
        // Side by side: original | dqcodec | JPEG of the same size.
        const w = orig.width;
        const h = orig.height;
        await sharp({ create: { width: 3 * w + 8, height: h, channels: 3, background: '#ffffff' } })
          .composite([
            { input: await sharp(orig.data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(), left: 0, top: 0 },
            { input: await sharp(fullPx, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(), left: w + 4, top: 0 },
            { input: jpeg, left: 2 * w + 8, top: 0 },
          ])
          .png()
          .toFile(join(o.out, `${name}.compare.png`));
      }
      rows.push(
        `| ${name} | ${orig.width}×${orig.height} | ${dqc.length} | ${((8 * dqc.length) / pixels).toFixed(3)} | ${psnr(orig.data, fullPx).toFixed(2)} | ` +
          `${jpeg ? jpegPsnr.toFixed(2) : 'n/a'} | ${((100 * topBytes) / dqc.length).toFixed(1)}% → ${psnr(orig.data, prevPx).toFixed(2)} | ${(t1 - t0).toFixed(0)} / ${(t2 - t1).toFixed(0)} |`,
      );
    }
    await codec.close();
    if (!o.quiet) {
      process.stdout.write(`${printable(codec.family ? `model family ${codec.familyDir} (${codec.family.name}), quality ${codec.quality} of ${codec.family.qualities.length}` : `model ${codec.modelDir} (${codec.manifest.name})`)}\n\n`);
      process.stdout.write('| image | size | .dqc bytes | bpp | PSNR dB | JPEG same size, PSNR dB | top level only: bytes → PSNR dB | encode / decode ms |\n');
      process.stdout.write('|---|---|---|---|---|---|---|---|\n');
      process.stdout.write(rows.join('\n') + '\n');
      process.stdout.write(`\nwrote .dqc, decoded, preview and compare (original | dqcodec | JPEG) images to ${o.out}/\n`);
    }
  });
}
