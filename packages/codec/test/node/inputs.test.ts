/**
 * Issue 16 in the Node API: bounded reads (inputs.ts, files.ts), format sniffing, corrupt and
 * multi-frame images, temporary names, read-only targets. The CLI side, with child-process
 * memory and time checks, is cli/test/inputs.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  crc32,
  dqcWorstCaseBytes,
  DqCodec,
  isDqcError,
  maxImageBytes,
  maxTokenJsonBytes,
  readDqcFile,
  readHeader,
  readImage,
  readInputFile,
  readTokens,
  sniffImageFormat,
  streamWorstCase,
  temporaryName,
  writeFileAtomic,
} from '../../src/index.js';
import { inputBase, runInputCases } from '../fuzz/inputs.js';
import { alphaPlane, makeModel, photoPixels, png, rejection, rgba, tmp } from './helpers.js';

let model: string;
let codec: DqCodec;
let rgbFile: Uint8Array;
let rgbaFile: Uint8Array;

beforeAll(async () => {
  model = await makeModel(1);
  codec = await DqCodec.load(model);
  rgbFile = await codec.encode(await png(photoPixels(40, 24), 40, 24, 3));
  rgbaFile = await codec.encode(await png(rgba(photoPixels(40, 24), alphaPlane(40, 24)), 40, 24, 4));
});
afterAll(async () => codec?.close());

describe('bounded reads', () => {
  it('readInputFile: regular files only, refused from the size, or at the cap while reading', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a'), Buffer.alloc(1000, 7));
    expect((await readInputFile(join(d, 'a'), { maxBytes: 1000 })).length).toBe(1000);
    expect((await rejection(readInputFile(join(d, 'a'), { maxBytes: 999 }))).message).toMatch(/a is 1\.00 kB, more than the limit of 999 B/);
    execFileSync('mkfifo', [join(d, 'fifo')]);
    const t0 = performance.now();
    expect((await rejection(readInputFile(join(d, 'fifo')))).message).toMatch(/fifo is a FIFO \(named pipe\), not a regular file/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await rejection(readInputFile('/dev/zero'))).message).toMatch(/is a character device/);
    expect((await rejection(readInputFile(d))).message).toMatch(/is a directory, not a file/);
    // /proc files claim size 0 and have content: the cap still holds while reading.
    expect((await rejection(readInputFile('/proc/self/maps', { maxBytes: 10 }))).message).toMatch(/more than the limit of 10 B/);
  });

  it('the worst case of a .dqc: header + 4 + 2 bytes per index per level (+ alpha: 8 + 1 + 4 + 38 per pixel)', () => {
    const h = readHeader(rgbFile);
    const indices = h.levels.map((l) => l.M * l.h * l.w);
    expect(dqcWorstCaseBytes(h)).toBe(h.headerLength + indices.reduce((s, n) => s + streamWorstCase(n), 0));
    expect(rgbFile.length).toBeLessThan(dqcWorstCaseBytes(h));
    const ha = readHeader(rgbaFile);
    expect(dqcWorstCaseBytes(ha) - dqcWorstCaseBytes({ ...ha, channels: 3 })).toBe(8 + 1 + 4 + 2 * 19 * 40 * 24);
  });

  it('readDqcFile: exact files read; trailing bytes, over-long streams and alpha sections refused before the body is read', async () => {
    const d = tmp();
    for (const [name, bytes] of [['rgb', rgbFile], ['rgba', rgbaFile]] as const) {
      writeFileSync(join(d, `${name}.dqc`), bytes);
      expect(Buffer.compare(await readDqcFile(join(d, `${name}.dqc`)), Buffer.from(bytes))).toBe(0);
      appendFileSync(join(d, `${name}.dqc`), Buffer.from([0]));
      const e = await rejection(readDqcFile(join(d, `${name}.dqc`)));
      expect([isDqcError(e, 'TRAILING_DATA'), e.message]).toEqual([true, 'file has 1 unexpected bytes after the last stream']);
    }
    // A prefix of a file (progressive download) reads fine; the decoder says TRUNCATED when it needs more.
    writeFileSync(join(d, 'prefix.dqc'), rgbFile.subarray(0, rgbFile.length - 10));
    expect((await readDqcFile(join(d, 'prefix.dqc'))).length).toBe(rgbFile.length - 10);
    // The alpha section's length field claims more than a 40×24 plane can need.
    const h = readHeader(rgbaFile);
    const bad = Buffer.from(rgbaFile);
    bad.writeUInt32LE(100_000, h.totalLength);
    writeFileSync(join(d, 'alpha.dqc'), bad);
    const e = await rejection(readDqcFile(join(d, 'alpha.dqc')));
    expect([isDqcError(e, 'BAD_HEADER'), e.message]).toEqual([true, `alpha section declares 100000 bytes, more than the ${1 + 4 + 2 * 19 * 960} bytes a 40×24 alpha plane can ever take`]);
    expect(isDqcError(await rejection(codec.decode(bad)), 'BAD_HEADER')).toBe(true);
    // Limits apply from the header alone.
    writeFileSync(join(d, 'rgb.dqc'), rgbFile);
    const small = await rejection(readDqcFile(join(d, 'rgb.dqc'), { limits: { maxPixels: 100 } }));
    expect(isDqcError(small, 'ABSURD_SIZE')).toBe(true);
  });

  it('DqCodec.decode(bytes) applies the stream bound too: a stream longer than 4 + 2n bytes is BAD_HEADER', async () => {
    const h = readHeader(rgbFile);
    const out = Buffer.from(rgbFile);
    const at = h.headerLength - 4 - 22 * h.levels.length + 14;
    out.writeUInt32LE(streamWorstCase(h.levels[0].M * h.levels[0].h * h.levels[0].w) + 1, at);
    out.writeUInt32LE(crc32(out, 0, h.headerLength - 4), h.headerLength - 4);
    const e = await rejection(codec.decode(out));
    expect([isDqcError(e, 'BAD_HEADER'), e.message]).toEqual([true, expect.stringMatching(/^level 0 declares a stream of \d+ bytes, more than the \d+ bytes that \d+ indices can ever take$/)]);
  });

  it('image files: at most 8 bytes per pixel of the limit plus 64 MiB, refused from the size (sparse file)', async () => {
    expect(maxImageBytes(2 ** 26)).toBe(64 * 2 ** 20 + 8 * 2 ** 26);
    const d = tmp();
    writeFileSync(join(d, 'big.png'), await png(photoPixels(8, 8), 8, 8, 3));
    truncateSync(join(d, 'big.png'), maxImageBytes(1000) + 1);
    const small = await DqCodec.load(model, { maxPixels: 1000 });
    const e = await rejection(small.encode(join(d, 'big.png')));
    expect([e.name, e.message]).toEqual(['FileError', expect.stringMatching(/big\.png is 67\.1 MB, more than an image within the limit of 1000 pixels can need/)]);
  });

  it('token files: capped by the indices the limits allow and by the longest JavaScript string', async () => {
    expect(maxTokenJsonBytes(1000)).toBe(2 ** 20 + 24_000);
    expect(maxTokenJsonBytes(2 ** 28)).toBe(2 ** 29 - 24);
    const d = tmp();
    writeFileSync(join(d, 't.json'), '{');
    truncateSync(join(d, 't.json'), 2 ** 20 + 24_001);
    expect((await rejection(readTokens(join(d, 't.json'), { maxIndices: 1000 }))).message).toMatch(/t\.json is 1\.07 MB, more than a token file of at most 1000 indices can need/);
  });

  it('inline token indices: planes and rows are checked before the output is allocated', async () => {
    const d = tmp();
    // Declares 4 × 16384 × 16384 indices (1 GiB of uint16) but holds 4 empty planes.
    const doc = {
      format: 'dqcodec-tokens',
      version: 1,
      model: { name: 'm', fingerprint: 'a'.repeat(64) },
      image: { width: 16384, height: 16384, channels: 3, paddedWidth: 16384, paddedHeight: 16384 },
      levels: [{ stride: 1, M: 1, K: 4, h: 16384, w: 16384, indices: [[]] }],
    };
    writeFileSync(join(d, 't.json'), JSON.stringify(doc));
    const before = process.memoryUsage().arrayBuffers;
    const e = await rejection(readTokens(join(d, 't.json')));
    expect(e.message).toMatch(/levels\[0\]\.indices\[0\] must be an array of h = 16384 rows \(got 0\)/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });
});

describe('image formats, damage and frames', () => {
  it('sniffing: raster formats by signature; SVG, PDF, gzip, .dqc and junk refused', async () => {
    const photo = await png(photoPixels(8, 8), 8, 8, 3);
    const img = sharp(photo);
    for (const [fmt, bytes] of [
      ['png', photo],
      ['jpeg', await img.clone().jpeg().toBuffer()],
      ['webp', await img.clone().webp().toBuffer()],
      ['gif', await img.clone().gif().toBuffer()],
      ['tiff', await img.clone().tiff().toBuffer()],
      ['heif', await img.clone().avif().toBuffer()],
    ] as const) {
      expect(sniffImageFormat(bytes), fmt).toEqual({ format: fmt });
    }
    const refused = (s: string | Uint8Array): string => {
      const r = sniffImageFormat(typeof s === 'string' ? Buffer.from(s) : s);
      return 'refused' in r ? r.refused : `accepted ${r.format}`;
    };
    expect(refused('<svg xmlns="http://www.w3.org/2000/svg"/>')).toMatch(/^an SVG document/);
    expect(refused('\ufeff  <?xml version="1.0"?><!DOCTYPE svg><svg/>')).toMatch(/^an SVG document/);
    expect(refused('<!-- x --><svg>')).toMatch(/^an SVG document/);
    expect(refused('%PDF-1.7')).toBe('a PDF document');
    expect(refused(Uint8Array.of(0x1f, 0x8b, 8, 0))).toMatch(/^gzip/);
    expect(refused(rgbFile)).toMatch(/^a \.dqc file/);
    expect(refused('')).toMatch(/the file is empty/);
    expect(refused('hello')).toMatch(/no signature of an accepted format/);
  });

  it('a truncated JPEG is refused; allowCorrupt decodes it with a note', async () => {
    const jpeg = await sharp(await png(photoPixels(64, 48), 64, 48, 3)).jpeg().toBuffer();
    const half = Buffer.concat([jpeg.subarray(0, jpeg.length >> 1), Buffer.from([0xff, 0xd9])]);
    const e = await rejection(readImage(half));
    expect([e.name, e.message]).toEqual(['ImageError', expect.stringMatching(/^input: cannot decode image, the data is damaged or truncated \(VipsJpeg: .*\); --allow-corrupt decodes what is readable$/)]);
    const ok = await readImage(half, { allowCorrupt: true });
    expect([ok.width, ok.height]).toEqual([64, 48]);
    expect(ok.notes).toEqual([expect.stringMatching(/^damaged image data decoded anyway \(VipsJpeg: /)]);
    expect((await codec.encodeImage(half, { allowCorrupt: true })).notes).toHaveLength(1);
  });

  it('multi-frame images: the first frame, with a note', async () => {
    const a = await png(photoPixels(16, 16), 16, 16, 3);
    const b = await png(photoPixels(16, 16, 3, 9), 16, 16, 3);
    const gif = await sharp([a, b, a], { join: { animated: true } }).gif().toBuffer();
    const img = await readImage(gif);
    expect([img.width, img.height, img.notes]).toEqual([16, 16, ['the image has 3 frames (an animation): only the first is encoded']]);
  });

  it('--flatten colours are checked first', async () => {
    const e = await rejection(readImage(await png(Uint8Array.of(1, 2, 3, 4), 1, 1, 4), { flatten: 'notacolour' }));
    expect([e.name, e.message]).toEqual(['ImageError', '"notacolour" is not a colour (use a CSS colour such as white, #ffffff or rgb(255, 255, 255))']);
  });
});

describe('outputs', () => {
  it('temporary names stay within 255 bytes, cut at a character boundary', () => {
    for (const name of ['a.dqc', `${'n'.repeat(251)}.dqc`, `${'é'.repeat(125)}.dqc`, `${'😀'.repeat(63)}.dqc`]) {
      const t = temporaryName(join('/x', name), 'abcd1234');
      const base = t.slice(3);
      expect(Buffer.byteLength(base), name).toBeLessThanOrEqual(255);
      expect(base.startsWith('.')).toBe(true);
      expect(base.endsWith(`.${process.pid}.abcd1234.tmp`)).toBe(true);
      expect(Buffer.from(base).toString()).toBe(base); // no broken UTF-8
    }
    expect(temporaryName('/x/a.dqc', 'abcd1234')).toBe(`/x/.a.dqc.${process.pid}.abcd1234.tmp`);
  });

  it('a read-only target is refused unless force, which keeps its permission bits; a writable one keeps its mode too', async () => {
    const d = tmp();
    const f = join(d, 'ro.bin');
    writeFileSync(f, 'old');
    chmodSync(f, 0o444);
    const e = await rejection(writeFileAtomic(f, 'new'));
    expect([e.name, e.message]).toEqual(['FileError', `${f} is read-only (mode 0444); use --force (library: the force option) to replace it`]);
    expect(readFileSync(f, 'utf8')).toBe('old');
    await writeFileAtomic(f, 'new', { force: true });
    expect([readFileSync(f, 'utf8'), statSync(f).mode & 0o777]).toEqual(['new', 0o444]);
    const g = join(d, 'group.bin');
    writeFileSync(g, 'old');
    chmodSync(g, 0o664);
    await writeFileAtomic(g, 'new');
    expect(statSync(g).mode & 0o777).toBe(0o664);
    expect(readdirSync(d).sort()).toEqual(['group.bin', 'ro.bin']);
  });
});

describe('input-type and size fuzzing (a sample of `npm run fuzz`)', () => {
  it('120 seeded cases: accepted or refused in one line, within time, nothing left behind, must-refuse kinds refused', async () => {
    const fuzzCodec = await DqCodec.load(model, { maxPixels: 1_000_000 });
    const stats = await runInputCases(fuzzCodec, await inputBase(fuzzCodec), 1, 0, 120, tmp('dq-fuzz-in-'), { limitMs: 20_000 });
    console.log(`input fuzz, seed 1: ${stats.line()}\n${stats.table()}`);
    expect(stats.cases).toBe(120);
    expect(stats.byKind.size).toBeGreaterThanOrEqual(12);
    expect(stats.slowestMs).toBeLessThan(20_000);
    await fuzzCodec.close();
  });
});
