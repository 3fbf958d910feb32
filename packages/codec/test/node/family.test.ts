/**
 * Model families through the Node API, on the shipped models/default (a family of transform
 * models, qualities 1–11) and copies of it: quality picks the member when encoding, decoding
 * finds the member from the file's fingerprint, members load lazily, tokens round-trip, and a
 * damaged family is a clear one-line error.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDir, detokenize, DqCodec, fitEntropy, imageTokens, isDqcError, isFamilyDir, ModelError, readModelFamily } from '../../src/index.js';
import { rejection, tmp } from './helpers.js';

const FAMILY = defaultModelDir();
const DQ_AE = join(FAMILY, '../dq-ae');
let codec: DqCodec;
let photo: Buffer;

beforeAll(async () => {
  codec = await DqCodec.load(FAMILY);
  photo = await sharp(join(FAMILY, '../../samples/ladybird.png')).extract({ left: 300, top: 200, width: 120, height: 72 }).png().toBuffer();
});
afterAll(async () => codec?.close());

/** The error a promise rejects with, as one line (the message must not span lines). */
async function oneLine(p: Promise<unknown>): Promise<Error> {
  const e = (await rejection(p)) as Error;
  expect(e).toBeInstanceOf(Error);
  expect(e.message).not.toMatch(/\n/);
  return e;
}

describe('a model family (models/default)', () => {
  it('loads family.json and only its default member; other members on first use, once', async () => {
    const c = await DqCodec.load(FAMILY);
    expect(isFamilyDir(FAMILY)).toBe(true);
    expect(c.family?.name).toBe('dqc-tc');
    expect(c.family?.qualities).toHaveLength(11);
    expect([c.quality, c.manifest.name, c.familyDir]).toEqual([6, 'dqc-tc-q6', join(FAMILY)]);
    expect(c.loadedQualities).toEqual([6]);
    expect(c.loadedGraphs).toEqual([]);
    const [a, b] = await Promise.all([c.member(3), c.member('3')]);
    expect(a).toBe(b);
    expect(a.quality).toBe(3);
    expect(await c.member('high')).toBe(await c.member(10));
    expect(await c.member()).toBe(c);
    expect(c.loadedQualities).toEqual([3, 6, 10]);
    expect(a.loadedGraphs).toEqual([]);
    await c.close();
  });

  it('file sizes grow with the quality; each file decodes without naming its quality', async () => {
    const sizes: number[] = [];
    for (const q of [1, 3, 5, 7, 9, 10]) {
      const bytes = await codec.encode(photo, { quality: q });
      sizes.push(bytes.length);
      const d = await codec.decode(bytes);
      expect([d.width, d.height, d.levels, d.totalLevels]).toEqual([120, 72, 2, 2]);
      // The same pixels as the member itself decodes.
      expect(Buffer.from(d.pixels).equals(Buffer.from((await (await codec.member(q)).decode(bytes)).pixels))).toBe(true);
    }
    for (let i = 1; i < sizes.length; i++) expect(sizes[i], sizes.join(' ')).toBeGreaterThan(sizes[i - 1]);
    // The default is defaultQuality; aliases are qualities.
    expect(Buffer.from(await codec.encode(photo)).equals(Buffer.from(await codec.encode(photo, { quality: 6 })))).toBe(true);
    expect(Buffer.from(await codec.encode(photo, { quality: 'low' })).equals(Buffer.from(await codec.encode(photo, { quality: 2 })))).toBe(true);
  });

  it('encodeFile/decodeFile and a preview-only file (levels 1)', async () => {
    const d = tmp();
    const src = join(d, 'p.png');
    writeFileSync(src, photo);
    const r = await codec.encodeFile(src, join(d, 'p.dqc'), { quality: 2, levels: 1 });
    expect(r.size).toBeGreaterThan(0);
    const back = await codec.decodeFile(join(d, 'p.dqc'), join(d, 'p.png.png'));
    expect([back.levels, back.totalLevels]).toEqual([1, 2]);
    expect(back.header.fingerprint).toBe((await codec.member(2)).manifest.fingerprint);
  });

  it('refuses a quality it does not have, before any work', async () => {
    for (const q of [0, 12, 'foo', '1.5', -1]) {
      const e = await oneLine(codec.encode(photo, { quality: q }));
      expect(isDqcError(e, 'BAD_MANIFEST'), e.message).toBe(true);
      expect(e.message).toMatch(/not one of model family dqc-tc's: 1–11 or low, medium, high/);
    }
  });

  it('a file of another model (the DQ-AE) is a MODEL_MISMATCH naming the family', async () => {
    const ae = await DqCodec.load(DQ_AE);
    const bytes = await ae.encode(photo);
    await ae.close();
    const e = await oneLine(codec.decode(bytes));
    expect(isDqcError(e, 'MODEL_MISMATCH')).toBe(true);
    expect(e.message).toMatch(/not by any of the 11 qualities of model family dqc-tc/);
    const d = tmp();
    writeFileSync(join(d, 'ae.dqc'), bytes);
    expect((await oneLine(codec.decodeFile(join(d, 'ae.dqc'), join(d, 'ae.png')))).message).toMatch(/model family dqc-tc/);
    expect((await oneLine(codec.readDqcFile(join(d, 'ae.dqc')))).message).toMatch(/model family dqc-tc/);
  });

  it('tokens round-trip: detokenize finds the member and equals decoding the .dqc', async () => {
    for (const q of [undefined, 4]) {
      const set = await imageTokens(codec, photo, { quality: q });
      expect(set.model.name).toBe(`dqc-tc-q${q ?? 6}`);
      const a = await detokenize(codec, set);
      const b = await codec.decode(await codec.encode(photo, { quality: q }));
      expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
      const pa = await detokenize(codec, set, { levels: 1 });
      const pb = await codec.decode(await codec.encode(photo, { quality: q }), { levels: 1 });
      expect(Buffer.from(pa.pixels).equals(Buffer.from(pb.pixels))).toBe(true);
    }
    const ae = await DqCodec.load(DQ_AE);
    const foreign = await imageTokens(ae, photo);
    await ae.close();
    expect((await oneLine(detokenize(codec, foreign, { name: 'x.json' }))).message).toMatch(/^x\.json: tokens were made by another model .*model family dqc-tc/);
  });

  it('fit-entropy refuses a family of transform models clearly', async () => {
    const e = await oneLine(fitEntropy(FAMILY, tmp()));
    expect(isDqcError(e, 'BAD_TABLES')).toBe(true);
    expect(e.message).toMatch(/model family dqc-tc holds transform models; .*no tables to fit \(fit-entropy is for DQ-AE models/);
  });
});

describe('a single model directory (models/dq-ae) keeps its qualities', () => {
  it('high = every level, low = the top level; numbers are refused', async () => {
    const ae = await DqCodec.load(DQ_AE);
    try {
      expect([ae.family, ae.quality, ae.loadedQualities]).toEqual([null, null, []]);
      const hi = await ae.encode(photo, { quality: 'high' });
      const lo = await ae.encode(photo, { quality: 'low' });
      expect(lo.length).toBeLessThan(hi.length);
      expect((await ae.decode(lo)).levels).toBe(1);
      expect(Buffer.from(await ae.encode(photo)).equals(Buffer.from(hi))).toBe(true);
      const e = await oneLine(ae.encode(photo, { quality: 3 }));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toMatch(/is a single model, not a model family/);
    } finally {
      await ae.close();
    }
  });
});

describe('a damaged family is a one-line error', () => {
  /** A two-member family (copies of qualities 1 and 2), with family.json edited by `edit`. */
  function family(edit: (json: Record<string, unknown> & { qualities: Record<string, unknown>[] }) => void, copy = ['dqc-tc-q1', 'dqc-tc-q2']): string {
    const dir = join(tmp('dq-family-'), 'fam');
    mkdirSync(dir);
    for (const m of copy) cpSync(join(FAMILY, m), join(dir, m), { recursive: true });
    const json = JSON.parse(readFileSync(join(FAMILY, 'family.json'), 'utf8'));
    json.qualities = json.qualities.slice(0, 2);
    json.defaultQuality = 1;
    json.aliases = { low: 1, high: 2 };
    edit(json);
    writeFileSync(join(dir, 'family.json'), JSON.stringify(json));
    return dir;
  }

  it('the intact copy works', async () => {
    const c = await DqCodec.load(family(() => {}));
    const bytes = await c.encode(photo, { quality: 'high' });
    expect((await c.decode(bytes)).levels).toBe(2);
    await c.close();
  });

  it('family.json that is not JSON, or not a valid family', async () => {
    const dir = family(() => {});
    writeFileSync(join(dir, 'family.json'), '{"format": "dqc-family", ');
    const e = await oneLine(DqCodec.load(dir));
    expect(isDqcError(e, 'BAD_MANIFEST')).toBe(true);
    expect(e.message).toMatch(/^family\.json in .*fam is not valid JSON/);
    const bad = family((j) => {
      j.defaultQuality = 7;
    });
    expect((await oneLine(DqCodec.load(bad))).message).toMatch(/^family\.json in .*fam: field defaultQuality must be a quality in \[1, 2\]/);
    await expect(readModelFamily(bad)).rejects.toThrow(/defaultQuality/);
  });

  it('a missing member directory: at load for the default member, on first use for the others', async () => {
    const e = await oneLine(DqCodec.load(family(() => {}, ['dqc-tc-q2'])));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toMatch(/^model family dqc-tc \(.*fam\), quality 1: model directory .*dqc-tc-q1 does not exist/);
    const c = await DqCodec.load(family(() => {}, ['dqc-tc-q1']));
    const m = await oneLine(c.encode(photo, { quality: 2 }));
    expect(m.message).toMatch(/quality 2: model directory .*dqc-tc-q2 does not exist/);
    // A failed member is not cached: it is tried again (and fails again).
    expect(c.loadedQualities).toEqual([1]);
    await c.close();
  });

  it('a member whose fingerprint is not the one family.json records', async () => {
    const dir = family((j) => {
      j.qualities[1].fingerprint = j.qualities[0].fingerprint;
    });
    const c = await DqCodec.load(dir);
    const e = await oneLine(c.member(2));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toMatch(/quality 2: dqc-tc-q2 has fingerprint [0-9a-f]{16}…, but family\.json says [0-9a-f]{16}…; the family was modified or damaged/);
    await c.close();
  });
});
