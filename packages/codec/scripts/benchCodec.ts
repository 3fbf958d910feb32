/**
 * Codec benchmark: dqcodec against sharp's AVIF (effort 4, quality 50) and mozjpeg JPEG
 * (quality 75) on a directory of photos, in one run on one machine.
 *
 *   npm run bench:codec -- [--model <dir>] [--data data/photos/heldout] [--ep cpu|cuda]
 *                          [--threads n] [--tile px] [--repeat n] [--max-images n] [--no-rss]
 *
 * Per image and in total: bits per pixel, PSNR (RGB, or grey for grey images), encode and decode
 * milliseconds per megapixel. dqcodec times are with warm sessions and start from / end at 8-bit
 * pixels (model + entropy coding; no PNG decoding), like sharp's encode from raw pixels and
 * decode to raw pixels. Also: the progressive preview (top level only: byte fraction and PSNR)
 * and the peak RSS of encoding + decoding a 24 MP image (an upscaled photo), measured in a
 * separate process so that nothing else in this run inflates it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { colourSamples, defaultModelDir, DqCodec, listImages, readHeader, readImage, type ExecutionProvider, type SourceImage } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string', default: 'data/photos/heldout' },
    ep: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
    tile: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'max-images': { type: 'string', default: '50' },
    'no-rss': { type: 'boolean', default: false },
    'rss-child': { type: 'string' },
  },
});

const modelDir = args.model ?? process.env.DQCODEC_MODEL ?? defaultModelDir();
const codecOptions = {
  ep: args.ep as ExecutionProvider,
  threads: args.threads ? Number(args.threads) : undefined,
  tileSize: args.tile ? Number(args.tile) : undefined,
};
const repeat = Math.max(1, Number(args.repeat));

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return se === 0 ? 99 : 10 * Math.log10((255 * 255) / (se / a.length));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    value = await fn();
    best = Math.min(best, performance.now() - t);
  }
  return { value, ms: best };
}

interface Row {
  image: string;
  codec: string;
  pixels: number;
  bytes: number;
  psnr: number;
  encMs: number;
  decMs: number;
}

async function sharpCodec(img: SourceImage, name: string, kind: 'avif' | 'jpeg'): Promise<Row> {
  const raw = { raw: { width: img.width, height: img.height, channels: img.colourChannels } };
  const enc = await timed(() => {
    const s = sharp(img.colour, raw);
    return kind === 'avif' ? s.avif({ quality: 50, effort: 4 }).toBuffer() : s.jpeg({ quality: 75, mozjpeg: true }).toBuffer();
  });
  const dec = await timed(() => sharp(enc.value).toColourspace(img.colourChannels === 1 ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true }));
  const back = colourSamples(dec.value.data, dec.value.info.channels, img.colourChannels);
  return {
    image: name,
    codec: kind === 'avif' ? 'AVIF q50 e4' : 'mozjpeg q75',
    pixels: img.width * img.height,
    bytes: enc.value.length,
    psnr: psnr(img.colour, back),
    encMs: enc.ms,
    decMs: dec.ms,
  };
}

const f = (v: number, d = 2): string => v.toFixed(d);

/** Child process: encode + decode one big image and report timings and peak RSS as JSON. */
async function rssChild(path: string): Promise<void> {
  const rss0 = process.resourceUsage().maxRSS;
  const codec = await DqCodec.load(modelDir, codecOptions);
  const t0 = performance.now();
  const r = await codec.encodeImage(path);
  const t1 = performance.now();
  const d = await codec.decode(r.bytes);
  const t2 = performance.now();
  process.stdout.write(
    JSON.stringify({
      width: r.width,
      height: r.height,
      bytes: r.bytes.length,
      encMs: t1 - t0,
      encModelMs: r.timings.infer + r.timings.entropy,
      decMs: t2 - t1,
      decModelMs: d.timings.infer + d.timings.entropy,
      baselineMB: rss0 / 1024,
      peakMB: process.resourceUsage().maxRSS / 1024,
      tile: codec.tileSize,
      margins: codec.margins,
    }),
  );
  await codec.close();
}

async function main(): Promise<void> {
  if (args['rss-child']) return rssChild(args['rss-child']);
  const codec = await DqCodec.load(modelDir, codecOptions);
  const m = codec.manifest;
  const files = (await listImages(args.data as string)).slice(0, Number(args['max-images']));
  if (files.length === 0) throw new Error(`no images in ${args.data}`);
  const out: string[] = [];
  const log = (s = ''): void => {
    out.push(s);
    process.stdout.write(`${s}\n`);
  };
  log(`# dqcodec benchmark`);
  log();
  log(`model \`${m.name}\` (${modelDir}), fingerprint ${m.fingerprint.slice(0, 16)}…, levels ${m.levels.map((l) => `s${l.stride} M${l.M} K${l.K}`).join(' / ')}, ` +
    `entropy tables: ${m.entropy ? 'fitted' : 'NONE (defaults; run fit-entropy)'}; EP ${codecOptions.ep}, threads ${codecOptions.threads ?? 'default'}, tile ${codec.tileSize} px, margins ${codec.margins.encoder}/${codec.margins.decoder} px; best of ${repeat}`);
  log();

  // Warm the sessions (first runs allocate and optimise).
  const warm = await readImage(files[0]);
  await codec.decode(await codec.encode(await sharp(warm.colour, { raw: { width: warm.width, height: warm.height, channels: warm.colourChannels } }).png().toBuffer()));

  const rows: Row[] = [];
  const previews: { image: string; fraction: number; psnr: number; full: number }[] = [];
  for (const file of files) {
    const name = basename(file);
    const img = await readImage(file);
    const input = await sharp(img.colour, { raw: { width: img.width, height: img.height, channels: img.colourChannels } }).png({ compressionLevel: 1 }).toBuffer();
    let encMs = Infinity;
    let bytes!: Uint8Array;
    for (let i = 0; i < repeat; i++) {
      const r = await codec.encodeImage(input);
      encMs = Math.min(encMs, r.timings.infer + r.timings.entropy);
      bytes = r.bytes;
    }
    const dec = await timed(() => codec.decode(bytes));
    const full = psnr(img.colour, colourSamples(dec.value.pixels, dec.value.channels, img.colourChannels));
    rows.push({ image: name, codec: 'dqcodec', pixels: img.width * img.height, bytes: bytes.length, psnr: full, encMs, decMs: dec.ms });
    const h = readHeader(bytes);
    const prev = await codec.decode(bytes, { levels: 1 });
    previews.push({
      image: name,
      fraction: (h.headerLength + h.levels[0].streamLength) / bytes.length,
      psnr: psnr(img.colour, colourSamples(prev.pixels, prev.channels, img.colourChannels)),
      full,
    });
    rows.push(await sharpCodec(img, name, 'avif'));
    rows.push(await sharpCodec(img, name, 'jpeg'));
    process.stderr.write(`  ${name} done\n`);
  }
  await codec.close();

  log('| image | size | codec | bpp | PSNR dB | encode ms/MP | decode ms/MP |');
  log('|---|---|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const mp = r.pixels / 1e6;
    log(`| ${r.image} | ${f(mp, 2)} MP | ${r.codec} | ${f((r.bytes * 8) / r.pixels, 3)} | ${f(r.psnr)} | ${f(r.encMs / mp, 0)} | ${f(r.decMs / mp, 0)} |`);
  }
  for (const c of ['dqcodec', 'AVIF q50 e4', 'mozjpeg q75']) {
    const rs = rows.filter((r) => r.codec === c);
    const px = rs.reduce((s, r) => s + r.pixels, 0);
    const mp = px / 1e6;
    const bits = rs.reduce((s, r) => s + r.bytes * 8, 0);
    log(`| **total** (${rs.length}) | ${f(mp, 2)} MP | **${c}** | ${f(bits / px, 3)} | ${f(rs.reduce((s, r) => s + r.psnr, 0) / rs.length)} (mean) | ${f(rs.reduce((s, r) => s + r.encMs, 0) / mp, 0)} | ${f(rs.reduce((s, r) => s + r.decMs, 0) / mp, 0)} |`);
  }
  log();
  log('Progressive preview (top level only):');
  log();
  log('| image | bytes needed | preview PSNR dB | full PSNR dB |');
  log('|---|---:|---:|---:|');
  for (const p of previews) log(`| ${p.image} | ${f(p.fraction * 100, 1)} % | ${f(p.psnr)} | ${f(p.full)} |`);
  log();

  if (!args['no-rss']) {
    const dir = mkdtempSync(join(tmpdir(), 'dq-bench-'));
    try {
      const big = join(dir, 'big24mp.png');
      await sharp(files[0]).removeAlpha().resize(6000, 4000, { fit: 'fill' }).png({ compressionLevel: 1 }).toFile(big);
      const script = fileURLToPath(import.meta.url);
      const forward = Object.entries({ model: modelDir, ep: codecOptions.ep, threads: args.threads, tile: args.tile }).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, String(v)]));
      const child = spawnSync(process.execPath, [...process.execArgv, script, '--rss-child', big, ...forward], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (child.status !== 0) throw new Error(`24 MP run failed: ${child.stderr}`);
      const r = JSON.parse(child.stdout.trim().split('\n').pop() as string);
      const mp = (r.width * r.height) / 1e6;
      log(`24 MP (${r.width}×${r.height}, upscaled ${basename(files[0])}) in a fresh process, tile ${r.tile} px (margins ${r.margins.encoder}/${r.margins.decoder} px):`);
      log();
      log('| encode ms/MP (incl. PNG read) | encode ms/MP (model + entropy) | decode ms/MP | bpp | peak RSS MB | RSS after loading modules MB |');
      log('|---:|---:|---:|---:|---:|---:|');
      log(`| ${f(r.encMs / mp, 0)} | ${f(r.encModelMs / mp, 0)} | ${f(r.decMs / mp, 0)} | ${f((r.bytes * 8) / (r.width * r.height), 3)} | ${f(r.peakMB, 0)} | ${f(r.baselineMB, 0)} |`);
      log();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

await main();
