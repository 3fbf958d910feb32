/**
 * The CLI with a model family (the shipped models/default: transform models, qualities 1–11):
 * --quality picks the member, decode/info/detokenize find it from the file, bad qualities and
 * damaged families are one-line errors that leave no output, and the DQ-AE (models/dq-ae)
 * keeps its high/low meaning.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDir } from '@dqcodec/codec';
import { tmp } from '../../packages/codec/test/node/helpers.js';
import { cli, expectUserError, type Result } from './inProcess.js';

const FAMILY = defaultModelDir();
const DQ_AE = join(FAMILY, '../dq-ae');
const ls = (d: string): string[] => readdirSync(d).sort();

async function ok(args: string[]): Promise<Result> {
  const r = await cli(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

let dir: string;
let photo: string;

beforeAll(async () => {
  dir = tmp('dq-cli-family-');
  photo = join(dir, 'photo.png');
  await sharp(join(FAMILY, '../../samples/ladybird.png')).extract({ left: 300, top: 200, width: 120, height: 72 }).png().toFile(photo);
});

describe('dqcodec encode --quality with the default model family', () => {
  it('file sizes grow with the quality; decode and info need no quality', async () => {
    const d = tmp();
    const sizes: number[] = [];
    for (const q of ['1', '3', '5', '7', '9', '10', '11']) {
      const out = join(d, `q${q}.dqc`);
      const r = await ok(['encode', photo, '-o', out, '--quality', q]);
      expect(r.stdout).toMatch(/bpp \(120×72 RGB\)/);
      sizes.push(readFileSync(out).length);
      const back = await ok(['decode', out, '-o', join(d, `q${q}.png`)]);
      expect(back.stdout).toMatch(/120×72 RGB/);
      expect(back.stdout).not.toMatch(/preview/);
      const info = await ok(['info', out, '-m', FAMILY]);
      expect(info.stdout).toMatch(new RegExp(`matches dqc-tc-q${q}: quality ${q} of model family dqc-tc`));
    }
    for (let i = 1; i < sizes.length; i++) expect(sizes[i], sizes.join(' ')).toBeGreaterThan(sizes[i - 1]);
    // No --quality = the default quality 6; aliases name qualities.
    await ok(['encode', photo, '-o', join(d, 'def.dqc')]);
    await ok(['encode', photo, '-o', join(d, 'q6.dqc'), '--quality', '6']);
    await ok(['encode', photo, '-o', join(d, 'high.dqc'), '--quality', 'high']);
    expect(readFileSync(join(d, 'def.dqc')).equals(readFileSync(join(d, 'q6.dqc')))).toBe(true);
    expect(readFileSync(join(d, 'high.dqc')).equals(readFileSync(join(d, 'q10.dqc')))).toBe(true);
    const j = JSON.parse((await ok(['info', join(d, 'def.dqc'), '--json', '-m', FAMILY])).stdout);
    expect(j.model).toMatchObject({ name: 'dqc-tc-q6', matches: true, family: 'dqc-tc', quality: 6 });
  });

  it('a bad quality is a one-line error, exit 1, and leaves no output', async () => {
    for (const q of ['0', '12', 'foo']) {
      const d = tmp();
      expectUserError(await cli(['encode', photo, '-o', join(d, 'x.dqc'), '--quality', q]), new RegExp(`--quality ${q}: model family dqc-tc has qualities 1–11 .*low = 2, medium = 6, high = 10`));
      expect(ls(d)).toEqual([]);
      // Several inputs: the same error before any file is written.
      expectUserError(await cli(['encode', dir, '-o', join(d, 'out'), '--quality', q]), /model family dqc-tc has qualities 1–11/);
      expect(ls(d)).toEqual([]);
    }
  });

  it('--levels 1 writes a preview-only file at any quality', async () => {
    const d = tmp();
    await ok(['encode', photo, '-o', join(d, 'p.dqc'), '--quality', '3', '--levels', '1']);
    const j = JSON.parse((await ok(['info', join(d, 'p.dqc'), '--json'])).stdout);
    expect(j.levels.map((l: { stride: number }) => l.stride)).toEqual([16]);
    expect((await ok(['decode', join(d, 'p.dqc'), '-o', join(d, 'p.png')])).stdout).toMatch(/preview from 1 of 2 levels/);
    expectUserError(await cli(['encode', photo, '-o', join(d, 'x.dqc'), '--levels', '3']), /--levels 3: model dqc-tc-q6 has 2 levels/);
  });

  it('a file of the DQ-AE decoded with the family is a clear error', async () => {
    const d = tmp();
    await ok(['encode', photo, '-o', join(d, 'ae.dqc'), '-m', DQ_AE]);
    expectUserError(await cli(['decode', join(d, 'ae.dqc'), '-o', join(d, 'ae.png')]), /ae\.dqc: file was encoded by another model .*not by any of the 11 qualities of model family dqc-tc/);
    expect(ls(d)).toEqual(['ae.dqc']);
    expect((await ok(['info', join(d, 'ae.dqc'), '-m', FAMILY])).stdout).toMatch(/NOT a model of family dqc-tc/);
  });

  it('tokens --quality and detokenize (which needs no quality) equal decoding the .dqc', async () => {
    const d = tmp();
    await ok(['tokens', photo, '-o', join(d, 't.json'), '--quality', '4']);
    expect(JSON.parse(readFileSync(join(d, 't.json'), 'utf8')).model.name).toBe('dqc-tc-q4');
    await ok(['detokenize', join(d, 't.json'), '-o', join(d, 'a.png')]);
    await ok(['encode', photo, '-o', join(d, 'x.dqc'), '--quality', '4']);
    await ok(['decode', join(d, 'x.dqc'), '-o', join(d, 'b.png')]);
    const [a, b] = await Promise.all([sharp(join(d, 'a.png')).raw().toBuffer(), sharp(join(d, 'b.png')).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
    expectUserError(await cli(['tokens', photo, '-o', join(d, 'u.json'), '--quality', '12']), /--quality 12: model family dqc-tc has qualities 1–11/);
    expectUserError(await cli(['tokens', photo, '-o', join(d, 'u.json'), '-m', DQ_AE, '--quality', '2']), /is a single model, not a model family/);
    expect(ls(d)).toEqual(['a.png', 'b.png', 't.json', 'x.dqc']);
  });

  it('fit-entropy on the family says why not', async () => {
    expectUserError(await cli(['fit-entropy', '-d', dir]), /model family dqc-tc holds transform models; they code with the adaptive 'coefficient' method, which has no tables to fit \(fit-entropy is for DQ-AE models/);
  });

  it('--help explains the qualities', async () => {
    const r = await cli(['encode', '--help']);
    expect(r.stdout).toMatch(/qualities 1–11, from about 0\.09 bpp/);
    expect(r.stdout).toMatch(/quality 6/);
    expect(r.stdout).toMatch(/low = 2, medium = 6, high = 10/);
    expect(r.stdout).toMatch(/high \(default\) stores every level; low/);
  });
});

describe('a single model directory (models/dq-ae) keeps --quality high|low', () => {
  it('low stores the top level only; numbers are refused with a clear message', async () => {
    const d = tmp();
    await ok(['encode', photo, '-o', join(d, 'hi.dqc'), '-m', DQ_AE]);
    await ok(['encode', photo, '-o', join(d, 'lo.dqc'), '-m', DQ_AE, '--quality', 'low']);
    expect(readFileSync(join(d, 'lo.dqc')).length).toBeLessThan(readFileSync(join(d, 'hi.dqc')).length);
    expect((await ok(['decode', join(d, 'lo.dqc'), '-o', join(d, 'lo.png'), '-m', DQ_AE])).stdout).toMatch(/preview from 1 of 2 levels/);
    expectUserError(await cli(['encode', photo, '-o', join(d, 'n.dqc'), '-m', DQ_AE, '--quality', '5']), /--quality 5: model default \(.*dq-ae\) is a single model, not a model family: numbered qualities need a family/);
    expectUserError(await cli(['encode', photo, '-o', join(d, 'n.dqc'), '-m', DQ_AE, '--quality', 'best']), /its qualities are high \(every level\) and low \(the top level only\)/);
    expect(ls(d)).toEqual(['hi.dqc', 'lo.dqc', 'lo.png']);
  });
});

describe('a damaged model family is a one-line error', () => {
  function family(write: (dir: string) => void): string {
    const d = join(tmp('dq-cli-fam-'), 'fam');
    mkdirSync(d);
    for (const m of ['dqc-tc-q1', 'dqc-tc-q2']) cpSync(join(FAMILY, m), join(d, m), { recursive: true });
    write(d);
    return d;
  }
  const json = (edit: (j: { defaultQuality: number; aliases: object; qualities: { dir: string; fingerprint: string }[] }) => void) => (d: string): void => {
    const j = JSON.parse(readFileSync(join(FAMILY, 'family.json'), 'utf8'));
    j.qualities = j.qualities.slice(0, 2);
    j.defaultQuality = 1;
    j.aliases = {};
    edit(j);
    writeFileSync(join(d, 'family.json'), JSON.stringify(j));
  };

  it('bad JSON, a missing member directory, a member with another fingerprint', async () => {
    const out = tmp();
    const bad = family((d) => writeFileSync(join(d, 'family.json'), '{ "format": "dqc-family", oops'));
    expectUserError(await cli(['encode', photo, '-o', join(out, 'a.dqc'), '-m', bad]), /family\.json in .*fam is not valid JSON/);
    const missing = family(json((j) => (j.qualities[1].dir = 'dqc-tc-q7')));
    expectUserError(await cli(['encode', photo, '-o', join(out, 'b.dqc'), '-m', missing, '--quality', '2']), /model family dqc-tc \(.*fam\), quality 2: model directory .*dqc-tc-q7 does not exist/);
    const other = family(json((j) => (j.qualities[1].fingerprint = j.qualities[0].fingerprint)));
    expectUserError(await cli(['encode', photo, '-o', join(out, 'c.dqc'), '-m', other, '--quality', '2']), /quality 2: dqc-tc-q2 has fingerprint .* but family\.json says .*modified or damaged/);
    expectUserError(await cli(['info', join(out, 'none.dqc'), '-m', bad]), /none\.dqc/);
    expect(ls(out)).toEqual([]);
    // The intact copy works.
    const good = family(json(() => {}));
    await ok(['encode', photo, '-o', join(out, 'ok.dqc'), '-m', good, '--quality', '2']);
    expect((await ok(['decode', join(out, 'ok.dqc'), '-o', join(out, 'ok.png'), '-m', good])).stdout).toMatch(/120×72 RGB/);
  });
});
