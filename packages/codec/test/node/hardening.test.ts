/**
 * Hardening of the Node API (issue 7): fuzzed files through the whole decoder, resource bombs,
 * extreme sizes, concurrency and determinism, failed outputs, damaged model directories.
 * Write failures (full disk) are in files.test.ts, which mocks the file system.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, DEFAULT_MAX_PIXELS, DqCodec, fitEntropy, isDqcError, readHeader } from '../../src/index.js';
import { runCases } from '../../../core/test/fuzz/harness.js';
import { nodeCorpus, runNodeCase } from '../fuzz/node.js';
import { alphaPlane, makeModel, photoPixels, png, rgba, rejection, tmp } from './helpers.js';

let model: string;
let codec: DqCodec;

beforeAll(async () => {
  model = await makeModel(1);
  codec = await DqCodec.load(model);
});
afterAll(async () => codec?.close());

/** Copy of `file` with its header edited through a DataView and its CRC fixed. */
function patchHeader(file: Uint8Array, patch: (v: DataView, level: (i: number) => number) => void): Uint8Array {
  const out = file.slice();
  const v = new DataView(out.buffer);
  patch(v, (i) => 32 + out[11] + 22 * i);
  const hl = v.getUint16(6, true);
  v.setUint32(hl - 4, crc32(out, 0, hl - 4), true);
  return out;
}

/** The header claims a side × side image, with level maps consistent with strides (top first; the model's are 8 and 4). */
function claimSize(file: Uint8Array, side: number, strides = [8, 4]): Uint8Array {
  return patchHeader(file, (v, level) => {
    for (const off of [12, 16, 20, 24]) v.setUint32(off, side, true);
    strides.forEach((stride, i) => {
      v.setUint32(level(i) + 2, side / stride, true);
      v.setUint32(level(i) + 6, side / stride, true);
    });
  });
}

const oneLine = (e: Error): void => expect(e.message).toMatch(/^[^\n]{1,500}$/);

describe('fuzzing DqCodec.decode (onnxruntime included)', () => {
  it('1000 seeded mutations of real files: no crash, no hang, clean rejections', async () => {
    // A lower limit keeps the "grown" files fast while still crossing it.
    const fuzzCodec = await DqCodec.load(model, { maxPixels: 2 ** 20 });
    const corpus = await nodeCorpus(fuzzCodec);
    const stats = await runCases(corpus, 1, 0, 1000, (c) => runNodeCase(fuzzCodec, c), { caseLimitMs: 20_000 });
    console.log(`DqCodec fuzz, seed 1: ${stats.line()}`);
    expect(stats.decoded).toBeGreaterThan(100);
    for (const code of ['TRUNCATED', 'HEADER_CRC', 'STREAM_CRC', 'BAD_HEADER', 'MODEL_MISMATCH']) expect(stats.outcomes.get(code) ?? 0, code).toBeGreaterThan(0);
    await fuzzCodec.close();
  });
});

describe('resource bombs are refused before anything is allocated', () => {
  let file: Uint8Array;
  beforeAll(async () => {
    file = await codec.encode(await png(photoPixels(32, 24), 32, 24, 3));
  });

  it('a tiny file claiming a huge image (consistent shapes, valid CRC): ABSURD_SIZE at once, naming the flag', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    for (const side of [16384, 65536, 2 ** 31]) {
      const e = await rejection(codec.decode(claimSize(file, side)));
      expect(isDqcError(e, 'ABSURD_SIZE'), e.message).toBe(true);
      expect(e.message).toMatch(/exceeds the limit of 67108864 pixels; raise it with --max-pixels \(library: the maxPixels option\)/);
      oneLine(e);
    }
    expect(performance.now() - t0).toBeLessThan(500);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
    // decodeFile reads the header first too.
    const dir = tmp();
    writeFileSync(join(dir, 'bomb.dqc'), claimSize(file, 16384));
    expect(isDqcError(await rejection(codec.decodeFile(join(dir, 'bomb.dqc'), join(dir, 'bomb.png'))), 'ABSURD_SIZE')).toBe(true);
    expect(readdirSync(dir)).toEqual(['bomb.dqc']);
  });

  it('the limit is DEFAULT_MAX_PIXELS (2^26) by default and an option', async () => {
    expect(DEFAULT_MAX_PIXELS).toBe(2 ** 26);
    expect(codec.limits.maxPixels).toBe(2 ** 26);
    // 8192² is exactly the limit: it passes the size check (and is refused as another model's file
    // without decoding anything); 8200² is over it.
    const foreign = (b: Uint8Array): Uint8Array => patchHeader(b, (v) => v.setUint8(32, 0x21));
    expect(isDqcError(await rejection(codec.decode(foreign(claimSize(file, 8192)))), 'MODEL_MISMATCH')).toBe(true);
    expect(isDqcError(await rejection(codec.decode(foreign(claimSize(file, 8200)))), 'ABSURD_SIZE')).toBe(true);
    const big = await DqCodec.load(model, { maxPixels: 2 ** 28 });
    expect(isDqcError(await rejection(big.decode(foreign(claimSize(file, 16384)))), 'MODEL_MISMATCH')).toBe(true);
    const small = await DqCodec.load(model, { maxPixels: 500 });
    const e = await rejection(small.decode(file));
    expect([isDqcError(e, 'ABSURD_SIZE'), e.message]).toEqual([true, expect.stringMatching(/32×24 exceeds the limit of 500 pixels/)]);
    await expect(DqCodec.load(model, { maxPixels: 0 })).rejects.toThrow(RangeError);
  });

  it('encoding checks the padded size against the limit before decoding any pixel', async () => {
    const small = await DqCodec.load(model, { maxPixels: 1000 });
    // 30×30 = 900 pixels, but 32×32 = 1024 once padded to the model's stride of 8.
    const e = await rejection(small.encode(await png(photoPixels(30, 30), 30, 30, 3)));
    expect([e.name, e.message]).toEqual(['ImageError', 'input: image is 30×30 (32×32 once padded to a multiple of 8), more than the limit of 1000 pixels; raise it with --max-pixels (library: the maxPixels option) if you have the memory']);
    expect((await small.encodeImage(await png(photoPixels(24, 24), 24, 24, 3))).width).toBe(24);
  });

  it('a PNG that claims 100000×100000 pixels is refused from its header, without decoding', async () => {
    const bomb = await png(photoPixels(8, 8), 8, 8, 3);
    // IHDR data starts at byte 16 (width, height); its CRC covers type + data (bytes 12..29).
    bomb.writeUInt32BE(100_000, 16);
    bomb.writeUInt32BE(100_000, 20);
    bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
    const t0 = performance.now();
    const e = await rejection(codec.encode(bomb));
    expect([e.name, e.message]).toEqual(['ImageError', expect.stringMatching(/^input: image is 100000×100000, more than the limit of 67108864 pixels; raise it with --max-pixels/)]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('level shapes that do not fit the model are BAD_HEADER, with the model named', async () => {
    const cases: [string, Uint8Array][] = [
      ['M', patchHeader(file, (v, level) => v.setUint16(level(0), 5, true))],
      ['K', patchHeader(file, (v, level) => v.setUint32(level(1) + 10, 128, true))],
      // A consistent container at strides 16 and 8, but this model's are 8 and 4.
      ['strides', claimSize(file, 64, [16, 8])],
    ];
    for (const [what, bad] of cases) {
      const e = await rejection(codec.decode(bad));
      expect([what, isDqcError(e, 'BAD_HEADER'), e.message]).toEqual([what, true, expect.stringMatching(/does not fit model test-small/)]);
      oneLine(e);
    }
  });
});

describe('extreme sizes', () => {
  it('1×1, 1×8000 and 8000×1 round-trip (tiled), in every channel layout for 1×1', async () => {
    for (const [w, h] of [[1, 8000], [8000, 1]]) {
      const r = await codec.encodeImage(await png(photoPixels(w, h), w, h, 3));
      expect(readHeader(r.bytes)).toMatchObject({ width: w, height: h, paddedWidth: Math.ceil(w / 8) * 8, paddedHeight: Math.ceil(h / 8) * 8 });
      const d = await codec.decode(r.bytes);
      expect([d.width, d.height, d.pixels.length]).toEqual([w, h, w * h * 3]);
    }
    const one: [Buffer, 1 | 2 | 3 | 4][] = [
      [await png(Uint8Array.of(77), 1, 1, 1), 1],
      [await png(Uint8Array.of(77, 9), 1, 1, 2), 2],
      [await png(Uint8Array.of(1, 2, 3), 1, 1, 3), 3],
      [await png(Uint8Array.of(1, 2, 3, 4), 1, 1, 4), 4],
    ];
    for (const [input, channels] of one) {
      const d = await codec.decode(await codec.encode(input));
      expect([d.width, d.height, d.channels, d.pixels.length]).toEqual([1, 1, channels, channels]);
      if (channels % 2 === 0) expect(d.pixels[channels - 1]).toBe(channels === 2 ? 9 : 4);
    }
  });

  it('an image too large for the output format is an ImageError, and no file is written', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'strip.dqc'), await codec.encode(await png(photoPixels(20000, 1), 20000, 1, 3)));
    const e = await rejection(codec.decodeFile(join(dir, 'strip.dqc'), join(dir, 'strip.webp')));
    expect([e.name, e.message]).toEqual(['ImageError', expect.stringMatching(/^cannot write a 20000×1 image as webp \(/)]);
    oneLine(e);
    expect(readdirSync(dir)).toEqual(['strip.dqc']);
  });
});

describe('concurrency and determinism', () => {
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  let inputs: Buffer[];
  beforeAll(async () => {
    inputs = [
      await png(photoPixels(61, 45, 3, 1), 61, 45, 3),
      await png(photoPixels(130, 70, 3, 2), 130, 70, 3),
      await png(photoPixels(33, 90, 1, 3), 33, 90, 1),
      await png(rgba(photoPixels(40, 28, 3, 4), alphaPlane(40, 28)), 40, 28, 4),
      await png(photoPixels(1, 1, 3, 5), 1, 1, 3),
      await png(photoPixels(200, 9, 3, 6), 200, 9, 3),
    ];
  });

  it('parallel encodes and decodes on one shared codec equal sequential ones, byte for byte', async () => {
    const seqFiles: Uint8Array[] = [];
    for (const x of inputs) seqFiles.push(await codec.encode(x));
    const seqPixels: string[] = [];
    for (const f of seqFiles) seqPixels.push(sha((await codec.decode(f)).pixels));
    // Everything at once, three rounds of encodes interleaved with decodes.
    const jobs = [0, 1, 2].flatMap(() => [
      ...inputs.map(async (x) => sha(await codec.encode(x))),
      ...seqFiles.map(async (f) => sha((await codec.decode(f)).pixels)),
    ]);
    const results = await Promise.all(jobs);
    const expected = [0, 1, 2].flatMap(() => [...seqFiles.map(sha), ...seqPixels]);
    expect(results).toEqual(expected);
  });

  it('thread count and tile size do not change the bytes or the pixels', async () => {
    const results: string[] = [];
    for (const [threads, tileSize] of [[1, 1024], [2, 1024], [1, 64], [2, 0]]) {
      const c = await DqCodec.load(model, { threads, tileSize });
      const files = await Promise.all(inputs.slice(0, 3).map((x) => c.encode(x)));
      const pixels = await Promise.all(files.map(async (f) => sha((await c.decode(f)).pixels)));
      results.push([...files.map(sha), ...pixels].join());
      await c.close();
    }
    expect(new Set(results).size).toBe(1);
  });

  it('separate codec instances running in parallel agree with each other', async () => {
    const codecs = await Promise.all([1, 2, 3].map(() => DqCodec.load(model)));
    const all = await Promise.all(codecs.map((c) => Promise.all(inputs.map(async (x) => sha(await c.encode(x))))));
    expect(all[1]).toEqual(all[0]);
    expect(all[2]).toEqual(all[0]);
    await Promise.all(codecs.map((c) => c.close()));
  });
});

describe('model directory validation', () => {
  function copyModel(): string {
    const dir = join(tmp(), 'm');
    cpSync(model, dir, { recursive: true });
    return dir;
  }
  const manifestOf = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

  it('a manifest from a newer format version says to upgrade', async () => {
    const dir = copyModel();
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifestOf(dir), formatVersion: 2 }));
    const e = await rejection(DqCodec.load(dir));
    expect([isDqcError(e, 'BAD_MANIFEST'), e.message]).toEqual([true, expect.stringMatching(/formatVersion is 2: the model was exported by a newer dqcodec .*upgrade dqcodec/)]);
    oneLine(e);
  });

  it('tampered, missing and undecodable graphs', async () => {
    const dir = copyModel();
    const graph = readFileSync(join(dir, 'quantizer.onnx'));
    graph[graph.length >> 1] ^= 1;
    writeFileSync(join(dir, 'quantizer.onnx'), graph);
    const tampered = await rejection(DqCodec.load(dir));
    expect([tampered.name, tampered.message]).toEqual(['ModelError', expect.stringMatching(/do not match the manifest fingerprint .* re-export the model$/)]);
    oneLine(tampered);

    const missing = copyModel();
    rmSync(join(missing, 'encoder.onnx'));
    expect((await rejection(DqCodec.load(missing))).message).toMatch(/is incomplete: cannot read encoder\.onnx/);

    // Garbage whose fingerprint was updated to match: loads, then fails on first use, in one line.
    const garbage = copyModel();
    writeFileSync(join(garbage, 'decoder.onnx'), 'not an onnx graph');
    const h = createHash('sha256');
    for (const g of ['encoder.onnx', 'quantizer.onnx', 'decoder.onnx']) h.update(readFileSync(join(garbage, g)));
    writeFileSync(join(garbage, 'manifest.json'), JSON.stringify({ ...manifestOf(garbage), fingerprint: h.digest('hex') }));
    const c = await DqCodec.load(garbage);
    const e = await rejection(c.decode(await c.encode(await png(photoPixels(16, 16), 16, 16, 3))));
    expect([e.name, e.message]).toEqual(['ModelError', expect.stringMatching(/cannot load decoder\.onnx/)]);
    oneLine(e);
  });

  it('a graph changed after loading is refused when its session is created', async () => {
    const dir = copyModel();
    const c = await DqCodec.load(dir);
    writeFileSync(join(dir, 'decoder.onnx'), Buffer.concat([readFileSync(join(dir, 'decoder.onnx')), Buffer.from([0])]));
    const e = await rejection(c.decode(await codec.encode(await png(photoPixels(16, 16), 16, 16, 3))));
    expect([e.name, e.message]).toEqual(['ModelError', expect.stringMatching(/decoder\.onnx changed after the model was loaded/)]);
  });

  it('edited entropy tables make existing files MODEL_MISMATCH instead of garbage', async () => {
    const dir = copyModel();
    const photos = join(tmp(), 'photos');
    mkdirSync(photos);
    writeFileSync(join(photos, 'a.png'), await png(photoPixels(48, 40), 48, 40, 3));
    await fitEntropy(dir, photos);
    const fitted = await DqCodec.load(dir);
    const bytes = await fitted.encode(await png(photoPixels(24, 24), 24, 24, 3));
    expect((await fitted.decode(bytes)).width).toBe(24);
    const m = manifestOf(dir) as { entropy: { levelsTopFirst: { literal: string }[] } };
    const lit = Buffer.from(m.entropy.levelsTopFirst[0].literal, 'base64');
    lit[0] = lit[0] === 7 ? 8 : 7; // a valid table, but not the one the file was coded with
    m.entropy.levelsTopFirst[0].literal = lit.toString('base64');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    const e = await rejection((await DqCodec.load(dir)).decode(bytes));
    expect([isDqcError(e, 'MODEL_MISMATCH'), e.message]).toEqual([true, expect.stringMatching(/different tables/)]);
    oneLine(e);
  });
});
