import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { crc32, cudaAvailable, defaultModelDir, isModelDir } from '@dqcodec/codec';
import { alphaPlane, makeModel, photoPixels, png, rgba, tmp } from '../../packages/codec/test/node/helpers.js';
import { runCli } from './run.js';
import { cli, expectUserError, type Result } from './inProcess.js';




/** Files in a directory, temp files included. */
const ls = (dir: string): string[] => readdirSync(dir).sort();

let model: string;
let model2: string;
let dir: string;
let photo: string;
let dqc: string;

beforeAll(async () => {
  [model, model2] = await Promise.all([makeModel(1), makeModel(2)]);
  dir = tmp('dq-cli-');
  photo = join(dir, 'photo.png');
  writeFileSync(photo, await png(photoPixels(50, 34), 50, 34, 3));
  dqc = join(dir, 'photo.dqc');
  const r = await cli(['encode', photo, '-o', dqc, '-m', model]);
  expect(r.code, r.stderr).toBe(0);
});

afterEach(() => {
  delete process.env.DQCODEC_MODEL;
});

function patched(patch: (v: DataView) => void): string {
  const b = readFileSync(dqc);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  patch(v);
  const hl = v.getUint16(6, true);
  v.setUint32(hl - 4, crc32(b, 0, hl - 4), true);
  const p = join(tmp(), 'patched.dqc');
  writeFileSync(p, b);
  return p;
}

describe('dqcodec encode / decode / info (in-process)', () => {
  it('encodes, inspects and decodes one file', async () => {
    const out = join(tmp(), 'x.dqc');
    const e = await cli(['encode', photo, '-o', out, '-m', model]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/photo\.png → .*x\.dqc: \d+ B, [\d.]+ bpp \(50×34 RGB\)/);
    const i = await cli(['info', out]);
    expect(i.stdout).toMatch(/50×34 RGB \(padded 56×40\)/);
    expect(i.stdout).toMatch(/bits\/index\s+log2 K/);
    const j = JSON.parse((await cli(['info', out, '--json', '-m', model])).stdout);
    expect(j.levels.map((l: { stride: number; M: number; h: number; w: number; log2K: number }) => [l.stride, l.M, l.h, l.w, l.log2K])).toEqual([[8, 4, 5, 7, 6], [4, 4, 10, 14, 6]]);
    expect(j.levels[0].bitsPerIndex).toBeGreaterThan(0);
    expect(j.model.matches).toBe(true);
    expect(j.bpp).toBeCloseTo((readFileSync(out).length * 8) / (50 * 34));
    const png1 = join(tmp(), 'x.png');
    const d = await cli(['decode', out, '-o', png1, '-m', model, '--levels', '1']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/50×34 RGB, .* png, preview from 1 of 2 levels/);
    expectUserError(await cli(['decode', out, '-o', join(tmp(), 'z.png'), '-m', model, '--format', 'webp']), /--format webp contradicts the extension/);
    const q = await cli(['decode', out, '-o', join(tmp(), 'y.jpg'), '-m', model, '--quiet']);
    expect([q.code, q.stdout, q.stderr]).toEqual([0, '', '']);
  });

  it('--quality low stores only the top level; --levels is checked against the model', async () => {
    const hi = join(tmp(), 'hi.dqc');
    const lo = join(tmp(), 'lo.dqc');
    expect((await cli(['encode', photo, '-o', hi, '-m', model])).code).toBe(0);
    const e = await cli(['encode', photo, '-o', lo, '-m', model, '--quality', 'low']);
    expect(e.code, e.stderr).toBe(0);
    expect(readFileSync(lo).length).toBeLessThan(readFileSync(hi).length);
    const j = JSON.parse((await cli(['info', lo, '--json', '-m', model])).stdout);
    expect(j.levels.map((l: { stride: number }) => l.stride)).toEqual([8]);
    const d = await cli(['decode', lo, '-o', join(tmp(), 'lo.png'), '-m', model]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/1 of 2 levels/);
    expect((await cli(['encode', photo, '-o', join(tmp(), 'l2.dqc'), '-m', model, '--quality', 'low', '--levels', '2'])).code).toBe(0); // --levels wins
    expectUserError(await cli(['encode', photo, '-o', join(tmp(), 'l3.dqc'), '-m', model, '--levels', '3']), /--levels 3: model .* has 2 levels/);
    expect((await cli(['encode', photo, '-o', join(tmp(), 'q.dqc'), '-m', model, '--quality', 'best'])).code).not.toBe(0);
  });

  it('notes (16-bit) are printed unless --quiet', async () => {
    const { default: sharp } = await import('sharp');
    const p = join(tmp(), 'deep.png');
    writeFileSync(p, await sharp(photoPixels(16, 16), { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
    const r = await cli(['encode', p, '-o', join(tmp(), 'deep.dqc'), '-m', model]);
    expect(r.stderr).toMatch(/note: .*deep\.png: 16-bit samples reduced to 8 bits/);
    const q = await cli(['encode', p, '-o', join(tmp(), 'deep.dqc'), '-m', model, '-q']);
    expect(q.stderr).toBe('');
  });

  it('missing input, non-image, existing output with --no-overwrite', async () => {
    const d = tmp();
    expectUserError(await cli(['encode', join(d, 'nope.png'), '-o', join(d, 'o.dqc'), '-m', model]), /nope\.png: no such file/);
    writeFileSync(join(d, 'fake.png'), 'this is text');
    expectUserError(await cli(['encode', join(d, 'fake.png'), '-o', join(d, 'o.dqc'), '-m', model]), /fake\.png: not a readable image/);
    writeFileSync(join(d, 'o.dqc'), 'keep me');
    expectUserError(await cli(['encode', photo, '-o', join(d, 'o.dqc'), '-m', model, '--no-overwrite']), /o\.dqc already exists/);
    expect(readFileSync(join(d, 'o.dqc'), 'utf8')).toBe('keep me');
    expect((await cli(['encode', photo, '-o', join(d, 'o.dqc'), '-m', model])).code).toBe(0); // default: replace atomically
    expect(ls(d)).toEqual(['fake.png', 'o.dqc']);
  });

  it('truncated, corrupted, foreign, future-version and absurd .dqc files', async () => {
    const d = tmp();
    const bytes = readFileSync(dqc);
    const cases: [string, Uint8Array | string, RegExp][] = [
      ['trunc.dqc', bytes.subarray(0, bytes.length - 5), /truncated/],
      ['short.dqc', bytes.subarray(0, 10), /truncated/],
      ['flip.dqc', Uint8Array.from(bytes, (b, i) => (i === bytes.length - 2 ? b ^ 0x10 : b)), /corrupt/],
      ['text.dqc', 'hello world, not a dqc', /not a \.dqc file/],
      ['version.dqc', readFileSync(patched((v) => v.setUint16(4, 7, true))), /version 7 is not supported/],
      ['huge.dqc', readFileSync(patched((v) => { v.setUint32(12, 90_000, true); v.setUint32(16, 90_000, true); })), /exceeds the limit/],
    ];
    for (const [name, content, pattern] of cases) {
      writeFileSync(join(d, name), content);
      expectUserError(await cli(['decode', join(d, name), '-o', join(d, `${name}.png`), '-m', model]), pattern);
      expectUserError(await cli(['info', join(d, name)]), pattern);
    }
    expectUserError(await cli(['decode', dqc, '-o', join(d, 'other.png'), '-m', model2]), /encoded by another model/);
    expectUserError(await cli(['decode', join(d, 'none.dqc'), '-o', join(d, 'x.png'), '-m', model]), /none\.dqc: no such file/);
    expect(ls(d).filter((f) => !f.endsWith('.dqc'))).toEqual([]); // no partial outputs, no temp files
  });

  it('model and provider problems', async () => {
    const d = tmp();
    expectUserError(await cli(['encode', photo, '-o', join(d, 'a.dqc'), '-m', join(d, 'nomodel')]), /model directory .*nomodel does not exist/);
    process.env.DQCODEC_MODEL = join(d, 'env-model');
    expectUserError(await cli(['decode', dqc, '-o', join(d, 'a.png')]), /env-model does not exist/);
    expectUserError(await cli(['decode', dqc, '-o', join(d, 'a.png'), '-m', model, '--levels', '3']), /--levels 3: the model has only 2 levels/);
    const bad = await cli(['decode', dqc, '-o', join(d, 'a.png'), '-m', model, '--ep', 'tpu']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Allowed choices are cpu, cuda/);
    expect(ls(d)).toEqual([]);
  });

  it.skipIf(isModelDir(defaultModelDir()))('without --model and without a default model, says how to get one', async () => {
    expectUserError(await cli(['encode', photo, '-o', join(tmp(), 'a.dqc')]), /default model .*models\/default is missing: pass --model <dir>.*dqcodec export/);
  });

  it.skipIf(!isModelDir(defaultModelDir()))('without --model, the shipped default model round-trips a photo', async () => {
    const d = tmp();
    const saved = process.env.DQCODEC_MODEL;
    delete process.env.DQCODEC_MODEL;
    try {
      expect((await cli(['encode', photo, '-o', join(d, 'a.dqc')])).code).toBe(0);
      expect((await cli(['decode', join(d, 'a.dqc'), '-o', join(d, 'a.png')])).code).toBe(0);
      expect(ls(d)).toEqual(['a.dqc', 'a.png']);
    } finally {
      if (saved !== undefined) process.env.DQCODEC_MODEL = saved;
    }
  });

  it.skipIf(cudaAvailable())('--ep cuda without the CUDA provider gives the install hint', async () => {
    expectUserError(await cli(['encode', photo, '-o', join(tmp(), 'a.dqc'), '-m', model, '--ep', 'cuda']), /ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
  });

  it('alpha: kept losslessly, refused for JPEG output, flattened on request', async () => {
    const d = tmp();
    const src = join(d, 'logo.png');
    writeFileSync(src, await png(rgba(photoPixels(24, 20), alphaPlane(24, 20)), 24, 20, 4));
    expect((await cli(['encode', src, '-o', join(d, 'logo.dqc'), '-m', model])).stdout).toMatch(/24×20 RGBA/);
    expect((await cli(['info', join(d, 'logo.dqc')])).stdout).toMatch(/alpha\s+adaptive \d+ bytes/);
    expectUserError(await cli(['decode', join(d, 'logo.dqc'), '-o', join(d, 'logo.jpg'), '-m', model]), /JPEG cannot store the alpha channel/);
    expect((await cli(['decode', join(d, 'logo.dqc'), '-o', join(d, 'back.png'), '-m', model])).code).toBe(0);
    expect((await cli(['encode', src, '-o', join(d, 'flat.dqc'), '-m', model, '--flatten'])).stdout).toMatch(/24×20 RGB\)/);
    expect(ls(d)).toEqual(['back.png', 'flat.dqc', 'logo.dqc', 'logo.png']);
  });

  it('batch: directories and quoted globs, outputs mirrored, bad files reported at the end', async () => {
    const src = tmp();
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'a.png'), await png(photoPixels(20, 12, 3, 4), 20, 12, 3));
    writeFileSync(join(src, 'sub', 'b.png'), await png(photoPixels(12, 20, 1, 5), 12, 20, 1));
    writeFileSync(join(src, 'broken.png'), 'garbage');
    writeFileSync(join(src, 'readme.txt'), 'skipped: not an image extension');
    const out = join(tmp(), 'out');
    const r = await cli(['encode', src, '-o', out, '-m', model]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 of 3 inputs failed \(2 encoded\):\n {2}.*broken\.png: not a readable image/);
    expect(ls(out)).toEqual(['a.dqc', 'sub']);
    expect(ls(join(out, 'sub'))).toEqual(['b.dqc']);
    const pngs = join(tmp(), 'pngs');
    const dec = await cli(['decode', `${out}/**/*.dqc`, '-o', pngs, '-m', model, '--format', 'webp']);
    expect(dec.code, dec.stderr).toBe(0);
    expect([ls(pngs), ls(join(pngs, 'sub'))]).toEqual([['a.webp', 'sub'], ['b.webp']]);
    const clash = join(tmp(), 'clash');
    mkdirSync(clash);
    writeFileSync(join(clash, 'x.png'), readFileSync(join(src, 'a.png')));
    writeFileSync(join(clash, 'x.jpg'), readFileSync(join(src, 'a.png')));
    expectUserError(await cli(['encode', clash, '-o', join(tmp(), 'o'), '-m', model]), /would both be written to/);
    const two = await cli(['encode', photo, join(src, 'nothere.png'), '-o', join(tmp(), 'two'), '-m', model]);
    expect(two.code).toBe(1);
    expect(two.stderr).toMatch(/nothere\.png: no such file/);
  });

  it('fit-entropy writes tables into the manifest', async () => {
    const { cpSync } = await import('node:fs');
    const m = join(tmp(), 'm');
    cpSync(model, m, { recursive: true });
    const r = await cli(['fit-entropy', '-m', m, '--data', dir, '--max-images', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fitted entropy tables on 1 images/);
    expect(JSON.parse(readFileSync(join(m, 'manifest.json'), 'utf8')).entropy.format).toBe('dqc-entropy');
    expectUserError(await cli(['fit-entropy', '-m', m, '--data', join(dir, 'none')]), /no such directory/);
  });
});

describe('dqcodec binary (spawned)', () => {
  it('end to end, and a bad file is one line with exit 1', () => {
    const d = tmp();
    const e = runCli(['encode', photo, '-o', join(d, 'p.dqc'), '-m', model]);
    expect(e.code, e.stderr).toBe(0);
    const x = runCli(['decode', join(d, 'p.dqc'), '-o', join(d, 'p.png'), '-m', model]);
    expect(x.code, x.stderr).toBe(0);
    writeFileSync(join(d, 'cut.dqc'), readFileSync(join(d, 'p.dqc')).subarray(0, 30));
    const bad = runCli(['decode', join(d, 'cut.dqc'), '-o', join(d, 'cut.png'), '-m', model]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dqcodec: .*cut\.dqc: file is truncated/)]);
    expect(ls(d)).toEqual(['cut.dqc', 'p.dqc', 'p.png']);
  });

  it('batch with a bad file keeps going and exits 1', () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.png'), 'nope');
    const r = runCli(['encode', photo, join(d, 'bad.png'), '-o', join(d, 'out'), '-m', model]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 of 2 inputs failed \(1 encoded\)/);
    expect(ls(join(d, 'out'))).toEqual(['photo.dqc']);
  });
});
