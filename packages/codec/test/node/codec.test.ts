import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, cudaAvailable, decodeIndices, DqCodec, isDqcError, readHeader } from '../../src/index.js';
import { alphaPlane, makeModel, photoPixels, png, rawOf, rgba, rejection, tmp } from './helpers.js';

let model: string;
let codec: DqCodec;

beforeAll(async () => {
  model = await makeModel(1);
  codec = await DqCodec.load(model);
});
afterAll(async () => codec?.close());

async function dqcCode(p: Promise<unknown>): Promise<string> {
  const e = await rejection(p);
  if (!isDqcError(e)) throw e;
  return e.code;
}

/** Copy of `file` with the header patched through a DataView and its CRC fixed. */
function patchHeader(file: Uint8Array, patch: (v: DataView) => void): Uint8Array {
  const out = file.slice();
  const v = new DataView(out.buffer);
  patch(v);
  const hl = v.getUint16(6, true);
  v.setUint32(hl - 4, crc32(out, 0, hl - 4), true);
  return out;
}

describe('DqCodec.load', () => {
  it('refuses damaged model directories with clear errors', async () => {
    const dir = join(tmp(), 'm');
    cpSync(model, dir, { recursive: true });
    appendFileSync(join(dir, 'decoder.onnx'), Buffer.from([0]));
    const tampered = await rejection(DqCodec.load(dir));
    expect(tampered.name).toBe('ModelError');
    expect(tampered.message).toMatch(/graph files do not match the manifest fingerprint/);

    expect((await rejection(DqCodec.load(join(tmp(), 'none')))).message).toMatch(/does not exist/);
    rmSync(join(dir, 'decoder.onnx'));
    expect((await rejection(DqCodec.load(dir))).message).toMatch(/incomplete: cannot read decoder\.onnx/);
    writeFileSync(join(dir, 'manifest.json'), '{ nope');
    expect(await dqcCode(DqCodec.load(dir))).toBe('BAD_MANIFEST');
    const m = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
    m.levels[0].K = 1;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    expect((await rejection(DqCodec.load(dir))).message).toMatch(/field levels\[0\]\.K/);
  });

  it('creates sessions lazily: decoding never loads the encoder or quantizer', async () => {
    const bytes = await codec.encode(await png(photoPixels(20, 12), 20, 12, 3));
    const dec = await DqCodec.load(model);
    expect(dec.loadedGraphs).toEqual([]);
    await dec.decode(bytes);
    await dec.decode(bytes);
    expect(dec.loadedGraphs).toEqual(['decoder']);
    await dec.close();
  });

  it.skipIf(cudaAvailable())('asking for CUDA without the provider says how to install it', async () => {
    const e = await rejection(DqCodec.load(model, { ep: 'cuda' }));
    expect(e.name).toBe('ExecutionProviderError');
    expect(e.message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
  });
});

describe('encode / decode', () => {
  it('round-trips deterministically (bytes and pixels), from a path or from bytes', async () => {
    const w = 61, h = 45;
    const input = await png(photoPixels(w, h), w, h, 3);
    const a = await codec.encode(input);
    const other = await DqCodec.load(model);
    const b = await other.encode(input);
    expect(Buffer.compare(a, b)).toBe(0);
    const path = join(tmp(), 'in.png');
    writeFileSync(path, input);
    expect(Buffer.compare(await codec.encode(path), a)).toBe(0);
    const d1 = await codec.decode(a);
    const d2 = await other.decode(a);
    expect(d1).toMatchObject({ width: w, height: h, channels: 3, levels: 2, totalLevels: 2 });
    expect(d1.pixels).toHaveLength(w * h * 3);
    expect(Buffer.compare(d1.pixels, d2.pixels)).toBe(0);
    expect(readHeader(a)).toMatchObject({ width: w, height: h, paddedWidth: 64, paddedHeight: 48, fingerprint: codec.manifest.fingerprint });
    await other.close();
  });

  it('handles sizes that are not multiples of the stride, down to 1×1', async () => {
    for (const [w, h] of [[1, 1], [1, 37], [37, 1], [33, 17]]) {
      const r = await codec.encodeImage(await png(photoPixels(w, h), w, h, 3));
      expect(r).toMatchObject({ width: w, height: h, channels: 3 });
      const d = await codec.decode(r.bytes);
      expect([d.width, d.height, d.pixels.length]).toEqual([w, h, w * h * 3]);
    }
  });

  it('greyscale stays greyscale', async () => {
    const w = 30, h = 20;
    const r = await codec.encodeImage(await png(photoPixels(w, h, 1), w, h, 1));
    expect(r.channels).toBe(1);
    const d = await codec.decode(r.bytes);
    expect([d.channels, d.pixels.length]).toEqual([1, w * h]);
    const dir = tmp();
    writeFileSync(join(dir, 'g.dqc'), r.bytes);
    await codec.decodeFile(join(dir, 'g.dqc'), join(dir, 'g.png'));
    expect((await sharp(join(dir, 'g.png')).metadata()).channels).toBe(1);
  });

  it('keeps alpha exactly (RGBA and grey + alpha), in PNG, WebP and TIFF outputs', async () => {
    const w = 40, h = 28;
    const alpha = alphaPlane(w, h);
    const dir = tmp();
    const cases: [string, Buffer, 2 | 4][] = [
      ['rgba', await png(rgba(photoPixels(w, h), alpha), w, h, 4), 4],
      ['ga', await png(Uint8Array.from({ length: w * h * 2 }, (_, i) => (i % 2 ? alpha[i >> 1] : (i * 7) & 255)), w, h, 2), 2],
    ];
    for (const [name, input, channels] of cases) {
      const r = await codec.encodeImage(input);
      expect(r.channels).toBe(channels);
      const d = await codec.decode(r.bytes);
      expect(d.channels).toBe(channels);
      const back = Uint8Array.from({ length: w * h }, (_, i) => d.pixels[i * channels + channels - 1]);
      expect(back).toEqual(alpha);
      writeFileSync(join(dir, `${name}.dqc`), r.bytes);
      for (const ext of ['png', 'webp', 'tiff']) {
        await codec.decodeFile(join(dir, `${name}.dqc`), join(dir, `${name}.${ext}`));
        const raw = await rawOf(join(dir, `${name}.${ext}`));
        const c = raw.channels;
        expect(Uint8Array.from({ length: w * h }, (_, i) => raw.data[i * c + c - 1])).toEqual(alpha);
      }
      const jpg = await rejection(codec.decodeFile(join(dir, `${name}.dqc`), join(dir, `${name}.jpg`)));
      expect(jpg.message).toMatch(/JPEG cannot store the alpha channel/);
      expect(existsSync(join(dir, `${name}.jpg`))).toBe(false);
    }
  });

  it('flatten composites alpha away on request, with a note', async () => {
    const w = 16, h = 16;
    const r = await codec.encodeImage(await png(rgba(photoPixels(w, h), alphaPlane(w, h)), w, h, 4), { flatten: '#ff0000' });
    expect(r.channels).toBe(3);
    expect(r.notes.join()).toMatch(/alpha flattened onto #ff0000/);
  });

  it('reduces 16-bit images to 8 bits with a note (same tokens as the 8-bit image)', async () => {
    const w = 24, h = 16;
    const px = photoPixels(w, h);
    const eight = await png(px, w, h, 3);
    const sixteen = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(sixteen).metadata()).depth).toBe('ushort');
    const r = await codec.encodeImage(sixteen);
    expect(r.notes).toContain('16-bit samples reduced to 8 bits');
    expect(Buffer.compare(r.bytes, await codec.encode(eight))).toBe(0);
  });

  it('reads JPEG, WebP, AVIF and TIFF; converts ICC profiles and CMYK to sRGB with a note', async () => {
    const w = 20, h = 14;
    const px = photoPixels(w, h);
    const raw = () => sharp(px, { raw: { width: w, height: h, channels: 3 } });
    for (const buf of [await raw().jpeg().toBuffer(), await raw().webp().toBuffer(), await raw().avif().toBuffer(), await raw().tiff().toBuffer()]) {
      const r = await codec.encodeImage(buf);
      expect([r.width, r.height, r.channels, r.notes]).toEqual([w, h, 3, []]);
    }
    expect((await codec.encodeImage(await raw().withIccProfile('srgb').png().toBuffer())).notes).toEqual([]);
    const p3 = await codec.encodeImage(await raw().withIccProfile('p3').png().toBuffer());
    expect(p3.notes.join()).toMatch(/ICC profile applied/);
    const cmyk = await codec.encodeImage(await raw().toColourspace('cmyk').jpeg().toBuffer());
    expect([cmyk.channels, cmyk.notes.join()]).toEqual([3, expect.stringMatching(/CMYK converted to sRGB/)]);
  });

  it('applies EXIF orientation', async () => {
    const w = 40, h = 24;
    const jpg = await sharp(photoPixels(w, h), { raw: { width: w, height: h, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const r = await codec.encodeImage(jpg);
    expect([r.width, r.height]).toEqual([h, w]);
    expect(r.notes.join()).toMatch(/EXIF orientation 6 applied/);
  });

  it('levels: a preview from the top level only needs only the top stream', async () => {
    const w = 48, h = 40;
    const bytes = await codec.encode(await png(photoPixels(w, h), w, h, 3));
    const full = await codec.decode(bytes);
    const preview = await codec.decode(bytes, { levels: 1 });
    expect(preview).toMatchObject({ width: w, height: h, levels: 1, totalLevels: 2 });
    expect(Buffer.compare(preview.pixels, full.pixels)).not.toBe(0);
    const broken = bytes.slice();
    broken[broken.length - 1] ^= 0x55; // inside the bottom stream
    expect(await dqcCode(codec.decode(broken))).toBe('STREAM_CRC');
    expect(Buffer.compare((await codec.decode(broken, { levels: 1 })).pixels, preview.pixels)).toBe(0);
    for (const levels of [0, 3, 1.5]) await expect(codec.decode(bytes, { levels })).rejects.toThrow(RangeError);
  });

  it('levels at encode: a top-level-only file is smaller and decodes like the full file\'s preview', async () => {
    const [w, h] = [40, 24];
    const input = await png(photoPixels(w, h, 3), w, h, 3);
    const full = await codec.encode(input);
    const low = await codec.encode(input, { levels: 1 });
    expect(low.length).toBeLessThan(full.length);
    expect(readHeader(low).levels).toHaveLength(1);
    const d = await codec.decode(low);
    expect(d).toMatchObject({ width: w, height: h, levels: 1, totalLevels: 2 });
    expect(Buffer.compare(d.pixels, (await codec.decode(full, { levels: 1 })).pixels)).toBe(0);
    expect((await codec.decode(low, { levels: 2 })).levels).toBe(1); // asks for more than the file has: what it has
    for (const levels of [0, 3, 0.5]) await expect(codec.encode(input, { levels })).rejects.toThrow(RangeError);
  });

  it('tokens are the index maps stored in the file (top level first)', async () => {
    const w = 40, h = 32;
    const input = await png(photoPixels(w, h), w, h, 3);
    const t = await codec.tokens(input);
    expect(t.levels.map(({ M, h: lh, w: lw, K }) => [M, lh, lw, K])).toEqual([[4, 4, 5, 64], [4, 8, 10, 64]]);
    const d = decodeIndices(await codec.encode(input));
    expect(d.levels.map((l) => l.indices)).toEqual(t.levels.map((l) => l.indices));
  });

  it('bad .dqc input gets the precise error', async () => {
    const bytes = await codec.encode(await png(photoPixels(20, 20), 20, 20, 3));
    expect(await dqcCode(codec.decode(bytes.subarray(0, bytes.length - 3)))).toBe('TRUNCATED');
    expect(await dqcCode(codec.decode(bytes.subarray(0, 20)))).toBe('TRUNCATED');
    const flipped = bytes.slice();
    flipped[40] ^= 1;
    expect(await dqcCode(codec.decode(flipped))).toBe('HEADER_CRC');
    expect(await dqcCode(codec.decode(patchHeader(bytes, (v) => v.setUint16(4, 2, true))))).toBe('UNSUPPORTED_VERSION');
    expect(await dqcCode(codec.decode(patchHeader(bytes, (v) => { v.setUint32(12, 100_000, true); v.setUint32(16, 100_000, true); })))).toBe('ABSURD_SIZE');
    expect(await dqcCode(codec.decode(new TextEncoder().encode('\x89PNG\r\n\x1a\n not a dqc file')))).toBe('BAD_MAGIC');
    const other = await DqCodec.load(await makeModel(2));
    const e = await rejection(other.decode(bytes));
    expect([isDqcError(e, 'MODEL_MISMATCH'), e.message]).toEqual([true, expect.stringMatching(/encoded by another model/)]);
    await other.close();
  });

  it('bad image input: missing file, not an image, truncated image', async () => {
    const dir = tmp();
    const missing = await rejection(codec.encode(join(dir, 'nope.png')));
    expect([missing.name, missing.message]).toEqual(['FileError', expect.stringMatching(/no such file/)]);
    writeFileSync(join(dir, 'text.png'), 'hello');
    expect((await rejection(codec.encode(join(dir, 'text.png')))).name).toBe('ImageError');
    const good = await png(photoPixels(64, 64), 64, 64, 3);
    const cut = await rejection(codec.encode(good.subarray(0, good.length >> 1)));
    expect([cut.name, cut.message]).toEqual(['ImageError', expect.stringMatching(/^input: /)]);
  });
});

describe('encodeFile / decodeFile', () => {
  it('write atomically, overwrite by default, refuse when asked, leave nothing behind on failure', async () => {
    const dir = tmp();
    const input = join(dir, 'a.png');
    writeFileSync(input, await png(photoPixels(30, 30), 30, 30, 3));
    const out = join(dir, 'a.dqc');
    const r = await codec.encodeFile(input, out);
    expect(readFileSync(out).length).toBe(r.size);
    writeFileSync(out, 'old');
    await codec.encodeFile(input, out);
    expect(readFileSync(out).length).toBe(r.size);
    writeFileSync(out, 'old');
    const refused = await rejection(codec.encodeFile(input, out, { overwrite: false }));
    expect([refused.name, refused.message]).toEqual(['FileError', expect.stringMatching(/already exists/)]);
    expect(readFileSync(out, 'utf8')).toBe('old');

    await codec.encodeFile(input, out);
    const d = await codec.decodeFile(out, join(dir, 'a.webp'));
    expect(d).toMatchObject({ width: 30, height: 30, format: 'webp' });
    // Failures: corrupt input, unknown format, same file, missing directory.
    writeFileSync(join(dir, 'bad.dqc'), readFileSync(out).subarray(0, 50));
    expect(await dqcCode(codec.decodeFile(join(dir, 'bad.dqc'), join(dir, 'bad.png')))).toBe('TRUNCATED');
    expect((await rejection(codec.decodeFile(out, join(dir, 'x.bmp')))).message).toMatch(/cannot tell the output image format/);
    expect((await rejection(codec.encodeFile(input, input))).message).toMatch(/is the input file/);
    expect((await rejection(codec.encodeFile(input, join(dir, 'no', 'x.dqc')))).message).toMatch(/does not exist/);
    expect(readdirSync(dir).sort()).toEqual(['a.dqc', 'a.png', 'a.webp', 'bad.dqc']);
  });
});
