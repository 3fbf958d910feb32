/**
 * dqcodec tokens / detokenize / analyze through the CLI: tokens decode to exactly the pixels of
 * the .dqc file of the same image, both layouts are readable by what numpy writes, every kind of
 * bad token file is one line with exit 1, and analyze reports and draws what the tokens hold.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeIndices, defaultModelDir, familyMemberByFingerprint, isFamilyDir, loadFamilyMember, loadModelBundle, readModelFamily, readNpy, readTokens, writeNpy } from '@dqcodec/codec';
import { alphaPlane, makeModel, photoPixels, png, rgba, tmp } from '../../packages/codec/test/node/helpers.js';
import { runCli } from './run.js';
import { cli, expectUserError, type Result } from './inProcess.js';



async function ok(args: string[]): Promise<Result> {
  const r = await cli(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}


const ls = (d: string): string[] => readdirSync(d).sort();

async function raw(file: string): Promise<{ data: Buffer; channels: number; width: number; height: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels, width: info.width, height: info.height };
}

/** The first `n` channels of interleaved pixels. */
function firstChannels(data: Buffer, channels: number, n: number): Buffer {
  if (channels === n) return data;
  const out = Buffer.alloc((data.length / channels) * n);
  for (let i = 0, j = 0; i < data.length; i += channels) for (let c = 0; c < n; c++) out[j++] = data[i + c];
  return out;
}

/**
 * tokens → detokenize against encode → decode of the same image with the same flags; returns the
 * token file. Pixels must be identical (the colour channels, for images with alpha).
 */
async function expectSamePixels(image: string, m: string, extra: string[] = [], format: 'json' | 'npy' = 'json'): Promise<string> {
  const d = tmp();
  const tokens = format === 'json' ? join(d, 't.json') : join(d, 'npy');
  await ok(['tokens', image, '-o', tokens, '-m', m, '--format', format, ...extra]);
  const doc = format === 'json' ? tokens : join(tokens, `${image.replace(/^.*\//, '').replace(/\.png$/, '')}.tokens.json`);
  await ok(['encode', image, '-o', join(d, 'x.dqc'), '-m', m, ...extra]);
  for (const levels of [[], ['--levels', '1']]) {
    await ok(['detokenize', doc, '-o', join(d, 'a.png'), '-m', m, ...levels, ...extra]);
    await ok(['decode', join(d, 'x.dqc'), '-o', join(d, 'b.png'), '-m', m, ...levels, ...extra]);
    const [a, b] = [await raw(join(d, 'a.png')), await raw(join(d, 'b.png'))];
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    const colour = b.channels === 2 || b.channels === 4 ? b.channels - 1 : b.channels;
    expect(a.channels).toBe(colour);
    expect(a.data.equals(firstChannels(b.data, b.channels, colour)), `${image} ${format} ${levels.join(' ')}`).toBe(true);
  }
  // The token file holds exactly the indices that the .dqc file entropy-codes.
  const set = await readTokens(doc);
  const family = isFamilyDir(m) ? await readModelFamily(m) : null;
  const { manifest } = family ? await loadFamilyMember(m, family, familyMemberByFingerprint(family, set.model.fingerprint)!) : await loadModelBundle(m);
  const dqcLevels = decodeIndices(readFileSync(join(d, 'x.dqc')), { tables: manifest.entropy }).levels;
  expect(set.levels.map(({ M, K, h, w, indices }) => ({ M, K, h, w, indices }))).toEqual(dqcLevels);
  return doc;
}

let model: string;
let model2: string;
let dir: string;
let photo: string;
let grey: string;
let alpha: string;
/** Token files of `photo` made with `model`, both layouts. */
let json: string;
let npyDir: string;

beforeAll(async () => {
  [model, model2] = await Promise.all([makeModel(1), makeModel(2)]);
  dir = tmp('dq-tokens-');
  photo = join(dir, 'photo.png');
  grey = join(dir, 'grey.png');
  alpha = join(dir, 'alpha.png');
  writeFileSync(photo, await png(photoPixels(50, 34), 50, 34, 3));
  writeFileSync(grey, await png(photoPixels(40, 24, 1, 2), 40, 24, 1));
  writeFileSync(alpha, await png(rgba(photoPixels(37, 29, 3, 3), alphaPlane(37, 29)), 37, 29, 4));
  const out = tmp();
  json = join(out, 'photo.json');
  await ok(['tokens', photo, '-o', json, '-m', model]);
  npyDir = join(out, 'npy');
  await ok(['tokens', photo, '-o', npyDir, '-m', model, '--format', 'npy']);
});

describe('tokens → detokenize equals decode of the .dqc', () => {
  it('RGB, grey and RGBA images, both layouts, full and top-level preview', async () => {
    await expectSamePixels(photo, model);
    await expectSamePixels(photo, model, [], 'npy');
    await expectSamePixels(grey, model);
    await expectSamePixels(alpha, model, [], 'npy');
  });

  it('tiled (16 px tiles) and untiled', async () => {
    await expectSamePixels(photo, model, ['--tile', '16']);
    await expectSamePixels(photo, model, ['--tile', '0']);
  });

  it('with the shipped DQ-AE (models/dq-ae) on a crop of a sample photo', async () => {
    const crop = join(tmp(), 'crop.png');
    await sharp(join(defaultModelDir(), '../../samples/ladybird.png')).extract({ left: 300, top: 200, width: 120, height: 72 }).png().toFile(crop);
    const doc = await expectSamePixels(crop, join(defaultModelDir(), '../dq-ae'));
    const set = await readTokens(doc);
    expect(set.levels.map((l) => [l.stride, l.M, l.K, l.h, l.w])).toEqual([[16, 8, 256, 5, 8], [8, 8, 256, 10, 16]]);
  });

  it('with the shipped default model family (transform models, coefficient tables), at its default quality and at --quality 2', async () => {
    const crop = join(tmp(), 'crop.png');
    await sharp(join(defaultModelDir(), '../../samples/ladybird.png')).extract({ left: 300, top: 200, width: 120, height: 72 }).png().toFile(crop);
    const doc = await expectSamePixels(crop, defaultModelDir());
    const set = await readTokens(doc);
    expect(set.model.name).toBe('dqc-tc-q6');
    expect(set.levels.map((l) => [l.stride, l.M, l.K, l.h, l.w])).toEqual([[16, 3, 4096, 5, 8], [8, 192, 4096, 10, 16]]);
    const low = await expectSamePixels(crop, defaultModelDir(), ['--quality', '2']);
    expect((await readTokens(low)).model.name).toBe('dqc-tc-q2');
  });
});

describe('dqcodec tokens', () => {
  it('json: one document with the fingerprint and [M][h][w] arrays; npy: sidecar plus one array per level', async () => {
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const { manifest } = await loadModelBundle(model);
    expect(doc.model).toEqual({ name: manifest.name, fingerprint: manifest.fingerprint });
    expect(doc.image).toEqual({ width: 50, height: 34, channels: 3, paddedWidth: 56, paddedHeight: 40 });
    expect(doc.levels.map((l: { stride: number; M: number; h: number; w: number }) => [l.stride, l.M, l.h, l.w])).toEqual([[8, 4, 5, 7], [4, 4, 10, 14]]);
    expect([doc.levels[0].indices.length, doc.levels[0].indices[0].length, doc.levels[0].indices[0][0].length]).toEqual([4, 5, 7]);
    expect(ls(npyDir)).toEqual(['photo.level0.npy', 'photo.level1.npy', 'photo.tokens.json']);
    const side = JSON.parse(readFileSync(join(npyDir, 'photo.tokens.json'), 'utf8'));
    expect(side.levels.map((l: { file: string }) => l.file)).toEqual(['photo.level0.npy', 'photo.level1.npy']);
    const a = readNpy(readFileSync(join(npyDir, 'photo.level1.npy')));
    expect([a.shape, a.dtype]).toEqual([[4, 10, 14], '<u2']);
    expect(Array.from(a.values).slice(0, 14)).toEqual(doc.levels[1].indices[0][0]);
  });

  it('batch into a directory, bad files reported at the end', async () => {
    const src = tmp();
    writeFileSync(join(src, 'a.png'), readFileSync(photo));
    writeFileSync(join(src, 'b.png'), readFileSync(grey));
    writeFileSync(join(src, 'broken.png'), 'garbage');
    const out = join(tmp(), 'out');
    const r = await cli(['tokens', src, '-o', out, '-m', model]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 of 3 inputs failed \(2 tokenized\):\n {2}.*broken\.png: not a readable image/);
    expect(ls(out)).toEqual(['a.tokens.json', 'b.tokens.json']);
    const n = join(tmp(), 'n');
    await ok(['tokens', join(src, 'a.png'), join(src, 'b.png'), '-o', n, '-m', model, '--format', 'npy', '-q']);
    expect(ls(n)).toEqual(['a.level0.npy', 'a.level1.npy', 'a.tokens.json', 'b.level0.npy', 'b.level1.npy', 'b.tokens.json']);
  });

  it('refuses bad outputs and inputs in one line', async () => {
    const d = tmp();
    expectUserError(await cli(['tokens', photo, '-o', join(d, 'x.npy'), '-m', model]), /should end in \.json/);
    writeFileSync(join(d, 'file'), 'x');
    expectUserError(await cli(['tokens', photo, '-o', join(d, 'file'), '-m', model, '--format', 'npy']), /is a file, but --format npy needs an output directory/);
    expectUserError(await cli(['tokens', join(d, 'none.png'), '-o', join(d, 'n.json'), '-m', model]), /none\.png: no such file/);
    writeFileSync(join(d, 'fake.png'), 'not an image');
    expectUserError(await cli(['tokens', join(d, 'fake.png'), '-o', join(d, 'f.json'), '-m', model]), /fake\.png: not a readable image/);
    const csv = await cli(['tokens', photo, '-o', join(d, 'x.json'), '-m', model, '--format', 'csv']);
    expect([csv.code, csv.stderr.trim().split('\n')[0]]).toEqual([1, "error: option '--format <fmt>' argument 'csv' is invalid. Allowed choices are json, npy."]);
    expect(ls(d)).toEqual(['fake.png', 'file']);
  });
});

describe('detokenize refuses bad token files in one line (exit 1, nothing written)', () => {
  /** Copy the npy layout into a fresh directory and return its sidecar path. */
  function npyCopy(): string {
    const d = tmp();
    for (const f of ls(npyDir)) writeFileSync(join(d, f), readFileSync(join(npyDir, f)));
    return join(d, 'photo.tokens.json');
  }

  async function refused(doc: string, pattern: RegExp, m = model): Promise<void> {
    const out = join(tmp(), 'out.png');
    expectUserError(await cli(['detokenize', doc, '-o', out, '-m', m]), pattern);
    expect(readdirSync(join(out, '..'))).toEqual([]);
  }

  function edited(edit: (d: { levels: Record<string, unknown>[]; image: Record<string, unknown>; model: Record<string, unknown> }) => void): string {
    const d = JSON.parse(readFileSync(json, 'utf8'));
    edit(d);
    const p = join(tmp(), 'edited.json');
    writeFileSync(p, JSON.stringify(d));
    return p;
  }

  it('a token file from another model (fingerprint mismatch)', async () => {
    await refused(json, /photo\.json: tokens were made by another model \(test-small, fingerprint [0-9a-f]{16}…; the loaded model test-small is [0-9a-f]{16}…\)/, model2);
    await refused(npyCopy(), /tokens were made by another model/, model2);
  });

  it('out-of-range indices, in JSON and in .npy', async () => {
    await refused(edited((d) => ((d.levels[1].indices as number[][][])[3][9][13] = 64)), /edited\.json: levels\[1\]\.indices\[3\]\[9\]\[13\] = 64 is outside \[0, 64\) \(K = 64\)/);
    await refused(edited((d) => ((d.levels[0].indices as number[][][])[0][0][0] = -3)), /= -3 is outside \[0, 64\)/);
    const doc = npyCopy();
    const f = join(doc, '..', 'photo.level0.npy');
    const a = readNpy(readFileSync(f));
    const v = Uint16Array.from(a.values);
    v[5] = 999;
    writeFileSync(f, writeNpy(v, a.shape));
    await refused(doc, /photo\.level0\.npy: \[0, 0, 5\] = 999 is outside \[0, 64\)/);
  });

  it('wrong shapes', async () => {
    await refused(edited((d) => (d.levels[0].h = 4)), /field levels\[0\] is 7×4 at stride 8, but the padded image 56×40 needs 7×5/);
    await refused(edited((d) => (d.levels[0].M = 3)), /field levels\[0\]\.indices must be an array of M = 3 planes \(got 4\)/);
    await refused(edited((d) => (d.levels[1].indices as number[][][])[2].pop()), /field levels\[1\]\.indices\[2\] must be an array of h = 10 rows \(got 9\)/);
    await refused(edited((d) => (d.levels[1].indices as number[][][])[0][0].push(1)), /levels\[1\]\.indices\[0\]\[0\] must be an array of w = 14 integers \(got 15\)/);
    await refused(edited((d) => ((d.image.width = 70), (d.image.paddedWidth = 72))), /is 7×5 at stride 8, but the padded image 72×40 needs 9×5/);
    await refused(edited((d) => (d.image.paddedWidth = 64)), /is 7×5 at stride 8, but the padded image 64×40 needs 8×5/);
    await refused(edited((d) => (d.levels = [d.levels[0]])), /has 1 levels but model test-small has 2/);
    await refused(edited((d) => ((d.levels[0].K = 32), ((d.levels[0].indices as number[][][])[0][0] = [0, 0, 0, 0, 0, 0, 0]), (d.levels[0].indices = (d.levels[0].indices as number[][][]).map((p) => p.map((r) => r.map((x) => x % 32)))))), /level 0 \(M=4, K=32, stride 8\) does not fit model test-small \(M=4, K=64, stride 8\)/);
    const doc = npyCopy();
    writeFileSync(join(doc, '..', 'photo.level1.npy'), writeNpy(new Uint16Array(4 * 10 * 13), [4, 10, 13]));
    await refused(doc, /photo\.level1\.npy: shape \(4, 10, 13\) does not match levels\[1\] of .*photo\.tokens\.json: \(M, h, w\) = \(4, 10, 14\)/);
  });

  it('malformed JSON and .npy, missing arrays, files that are not token files', async () => {
    const d = tmp();
    writeFileSync(join(d, 'cut.json'), readFileSync(json).subarray(0, 300));
    await refused(join(d, 'cut.json'), /cut\.json: not valid JSON/);
    writeFileSync(join(d, 'manifest.json'), readFileSync(join(model, 'manifest.json')));
    await refused(join(d, 'manifest.json'), /field format must be "dqcodec-tokens" \(got undefined; is this a token file/);
    writeFileSync(join(d, 'photo.dqc'), readFileSync(photo));
    await refused(join(d, 'photo.dqc'), /photo\.dqc: not valid JSON/);
    await refused(join(d, 'missing.json'), /missing\.json: no such file/);
    const a = npyCopy();
    writeFileSync(join(a, '..', 'photo.level0.npy'), 'this is not numpy');
    await refused(a, /photo\.level0\.npy: not a \.npy file \(bad magic/);
    const b = npyCopy();
    const f = join(b, '..', 'photo.level1.npy');
    writeFileSync(f, readFileSync(f).subarray(0, 200));
    await refused(b, /photo\.level1\.npy: shape \(4, 10, 14\) of <u2 needs 1120 data bytes, file has 72/);
    const c = npyCopy();
    writeFileSync(join(c, '..', 'photo.level0.npy'), readFileSync(join(c, '..', 'photo.level0.npy')).subarray(0, 20));
    await refused(c, /photo\.level0\.npy: truncated \.npy header/);
    const e = npyCopy();
    const { rmSync } = await import('node:fs');
    rmSync(join(e, '..', 'photo.level1.npy'));
    await refused(e, /photo\.level1\.npy: no such file/);
    const g = npyCopy();
    const side = JSON.parse(readFileSync(g, 'utf8'));
    side.levels[0].file = '/etc/passwd';
    writeFileSync(g, JSON.stringify(side));
    await refused(g, /field levels\[0\]\.file must be the name of a \.npy file next to the document, without a directory/);
  });

  it('bad options', async () => {
    const d = tmp();
    expectUserError(await cli(['detokenize', json, '-o', join(d, 'x.png'), '-m', model, '--levels', '3']), /--levels 3: the model has only 2 levels/);
    expectUserError(await cli(['detokenize', json, '-o', join(d, 'x.bmp'), '-m', model]), /cannot tell the output image format/);
    expectUserError(await cli(['detokenize', json, '-o', join(d, 'x.png'), '-m', model, '--quality', '101']), /--quality must be 1\.\.100/);
    expect(ls(d)).toEqual([]);
  });
});

describe('dqcodec analyze', () => {
  let images: string;

  beforeAll(() => {
    images = tmp();
    writeFileSync(join(images, 'photo.png'), readFileSync(photo));
    mkdirSync(join(images, 'sub'));
    writeFileSync(join(images, 'sub', 'grey.png'), readFileSync(grey));
  });

  it('--json: per level and codebook histograms, entropies, dead codes and the MI matrix; counts add up', async () => {
    const r = await ok(['analyze', images, '-m', model, '--json']);
    const rep = JSON.parse(r.stdout);
    expect([rep.images, rep.skipped, rep.model.name]).toEqual([2, [], 'test-small']);
    // photo 56×40 padded, grey 40×24: positions at strides 8 and 4.
    const positions = [7 * 5 + 5 * 3, 14 * 10 + 10 * 6];
    expect(rep.levels.map((l: { level: number; stride: number; M: number; K: number; positions: number }) => [l.level, l.stride, l.M, l.K, l.positions])).toEqual([
      [0, 8, 4, 64, positions[0]],
      [1, 4, 4, 64, positions[1]],
    ]);
    for (const [i, lv] of rep.levels.entries()) {
      expect(lv.codebooks).toHaveLength(4);
      for (const c of lv.codebooks) {
        expect(c.histogram).toHaveLength(64);
        expect(c.histogram.reduce((a: number, b: number) => a + b, 0)).toBe(positions[i]);
        expect(c.deadCodes).toBe(c.histogram.filter((n: number) => n === 0).length);
        expect(c.perplexity).toBeCloseTo(2 ** c.entropyBits, 9);
      }
      expect(lv.mi.map((row: number[]) => row.length)).toEqual([4, 4, 4, 4]);
      for (let a = 0; a < 4; a++) {
        expect(lv.mi[a][a]).toBeCloseTo(lv.codebooks[a].entropyBits, 12);
        for (let b = 0; b < 4; b++) {
          expect(lv.mi[a][b]).toBe(lv.mi[b][a]);
          if (a !== b) expect(lv.mi[a][b]).toBeLessThanOrEqual(Math.min(lv.mi[a][a], lv.mi[b][b]) + 1e-9);
        }
      }
      expect(lv.summary.miToEntropy).toBeCloseTo(lv.summary.meanPairwiseMiBits / lv.summary.meanEntropyBits, 12);
    }
  });

  it('table and heat map (PNG or SVG)', async () => {
    const d = tmp();
    const r = await ok(['analyze', images, '-m', model, '--heatmap', join(d, 'mi.png')]);
    expect(r.stdout).toMatch(/^model test-small \([0-9a-f]{12}…, .*\), 2 images\n/);
    expect(r.stdout).toMatch(/level 0 \(top\), stride 8: M=4, K=64, 50 positions\ncodebook {2}entropy \(bits\) {2}perplexity {2}used {2}dead\n/);
    expect(r.stdout).toMatch(/pairwise MI \(bits, same position; diagonal = entropy\):\n\s+c0\s+c1\s+c2\s+c3\n\s+c0(\s+\d\.\d{3}){4}\n\s+c1(\s+\d\.\d{3}){3}\n/);
    expect(r.stdout).toMatch(/mean pairwise MI \d\.\d{3} bits \(max \d\.\d{3}\) = [\d.]+% of the mean entropy \d\.\d{3} bits\n {2}Miller–Madow corrected -?\d\.\d{3} bits; independent baseline \d\.\d{3} bits/);
    expect(r.stderr).toMatch(/heat map written to .*mi\.png/);
    const meta = await sharp(join(d, 'mi.png')).metadata();
    expect([meta.format, meta.width! > 400, meta.height! > 200]).toEqual(['png', true, true]);
    await ok(['analyze', join(images, 'photo.png'), '-m', model, '--heatmap', join(d, 'mi.svg'), '-q']);
    expect(readFileSync(join(d, 'mi.svg'), 'utf8')).toMatch(/^<svg[\s\S]*1 image[\s\S]*<\/svg>\n$/);
  });

  it('unreadable images are skipped and listed; bad inputs and options are one line', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.png'), readFileSync(photo));
    writeFileSync(join(d, 'bad.png'), 'nope');
    const r = await cli(['analyze', d, '-m', model, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped .*bad\.png: .*not a readable image/);
    const rep = JSON.parse(r.stdout);
    expect([rep.images, rep.skipped.length]).toEqual([1, 1]);
    const onlyBad = tmp();
    writeFileSync(join(onlyBad, 'bad.png'), 'nope');
    expectUserError(await cli(['analyze', onlyBad, '-m', model, '-q']), /none of the 1 images could be read/);
    expectUserError(await cli(['analyze', join(d, 'nothere'), '-m', model]), /nothere: no such file or directory/);
    expectUserError(await cli(['analyze', tmp(), '-m', model]), /no images found in/);
    expectUserError(await cli(['analyze', d, '-m', model, '--heatmap', join(d, 'mi.jpg')]), /--heatmap .*mi\.jpg: use a \.png or \.svg file name/);
    expectUserError(await cli(['analyze', d, '-m', join(d, 'no-model')]), /model directory .*no-model does not exist/);
  });
});

describe('dqcodec binary (spawned)', () => {
  it('lists the commands, documents the layouts, and a bad token file is one line with exit 1', () => {
    const help = runCli(['--help']);
    expect(help.stdout).toMatch(/tokens \[options\] <input\.\.\.>/);
    expect(help.stdout).toMatch(/detokenize \[options\] <tokens>/);
    expect(help.stdout).toMatch(/analyze \[options\] <input\.\.\.>/);
    expect(runCli(['tokens', '--help']).stdout).toMatch(/<name>\.level<i>\.npy per level: uint16, shape \(M, h, w\)/);
    const d = tmp();
    writeFileSync(join(d, 'bad.json'), '{"format": "dqcodec-tokens", "version": 1}');
    const bad = runCli(['detokenize', join(d, 'bad.json'), '-o', join(d, 'x.png'), '-m', model]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dqcodec: .*bad\.json: field model must be an object$/)]);
    expect(ls(d)).toEqual(['bad.json']);
  });
});
