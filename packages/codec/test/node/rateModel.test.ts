/**
 * A rate model (rate–distortion training: entropy-constrained assignment, learned prior) through
 * the Node codec: the 'conditional' method, the rate it predicts, previews, tokens, determinism,
 * bad files, and 'context' tables fitted on top (fit-entropy) next to the prior.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePriorTables, detokenize, DqCodec, fitEntropy, imageTokens, isDqcError, isPriorTables, priorLevelBits, readHeader } from '../../src/index.js';
import { exportModel } from '../../../train/src/export/exportModel.js';
import { randomWeights } from '../../../train/src/export/randomWeights.js';
import { makeModel, photoPixels, png, rejection, SMALL_RATE_CONFIG, tmp } from './helpers.js';

let model: string;
let codec: DqCodec;
let input: string;

beforeAll(async () => {
  model = await makeModel(4, SMALL_RATE_CONFIG);
  codec = await DqCodec.load(model);
  input = join(tmp(), 'photo.png');
  writeFileSync(input, await png(photoPixels(96, 72, 3, 5), 96, 72, 3));
});
afterAll(async () => codec?.close());

describe('a rate model in the Node codec', () => {
  it("encodes with the 'conditional' method and decodes, at the rate its prior predicts", async () => {
    expect(isPriorTables(codec.manifest.entropy)).toBe(true);
    const bytes = await codec.encode(input);
    const header = readHeader(bytes);
    expect(header.method).toBe('conditional');
    const img = await codec.decode(bytes);
    expect([img.width, img.height, img.channels]).toEqual([96, 72, 3]);
    const tokens = await codec.tokens(input);
    const prior = compilePriorTables(codec.manifest.entropy);
    const predicted = tokens.levels.reduce((s, lv, i) => s + priorLevelBits(lv, i > 0 ? tokens.levels[i - 1] : null, prior[i]), 0);
    const streams = header.levels.reduce((s, lv) => s + lv.streamLength * 8, 0);
    expect(streams).toBeGreaterThanOrEqual(predicted - 16);
    expect(streams).toBeLessThanOrEqual(predicted + 4 * 8 * header.levels.length);
  });

  it('the exported assignment charges the prior: τ > 0 gives smaller files than nearest codes (τ = 0)', async () => {
    const nearest = join(tmp('dq-model-'), 'model');
    await exportModel(SMALL_RATE_CONFIG, randomWeights(SMALL_RATE_CONFIG, 4, { gain: 1.3, tau: 0 }), nearest);
    const plain = await DqCodec.load(nearest);
    try {
      const a = await codec.encode(input);
      const b = await plain.encode(input);
      expect(a.length).toBeLessThan(b.length);
    } finally {
      await plain.close();
    }
  });

  it('previews and top-level-only files decode; the same input gives the same bytes whatever the threads', async () => {
    const bytes = await codec.encode(input);
    const preview = await codec.decode(bytes, { levels: 1 });
    expect(preview.levels).toBe(1);
    const low = await codec.encode(input, { levels: 1 });
    expect(low.length).toBeLessThan(bytes.length);
    expect((await codec.decode(low)).pixels).toEqual(preview.pixels);
    const other = await DqCodec.load(model, { threads: 1 });
    try {
      expect(await other.encode(input)).toEqual(bytes);
    } finally {
      await other.close();
    }
  });

  it('tokens → detokenize gives exactly the pixels of decoding the .dqc', async () => {
    const set = await imageTokens(codec, input);
    const fromTokens = await detokenize(codec, set);
    const fromFile = await codec.decode(await codec.encode(input));
    expect(fromTokens.pixels).toEqual(fromFile.pixels);
  });

  it('damaged conditional files fail with typed errors, never a crash', async () => {
    const bytes = await codec.encode(input);
    const h = readHeader(bytes);
    const truncated = bytes.subarray(0, h.levels[1].streamOffset + 3);
    expect(isDqcError(await rejection(codec.decode(truncated)))).toBe(true);
    for (let i = 0; i < 40; i++) {
      const bad = bytes.slice();
      bad[h.levels[0].streamOffset + (i % h.levels[0].streamLength)] ^= 1 << (i % 8);
      const e = await codec.decode(bad).then(() => null, (err: unknown) => err);
      if (e !== null) expect(isDqcError(e)).toBe(true);
    }
  });

  it("fit-entropy adds 'context' tables as the default and keeps the prior: old conditional files still decode", async () => {
    const dir = join(tmp(), 'fitted');
    cpSync(model, dir, { recursive: true });
    const before = await codec.encode(input);
    await fitEntropy(dir, join(input, '..'));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.entropy.format).toBe('dqc-entropy');
    expect(manifest.prior.format).toBe('dqc-prior');
    const fitted = await DqCodec.load(dir);
    try {
      expect(readHeader(await fitted.encode(input)).method).toBe('context');
      expect(readHeader(await fitted.encode(input, { method: 'conditional' }))).toMatchObject({ method: 'conditional' });
      expect((await fitted.decode(before)).pixels).toEqual((await codec.decode(before)).pixels);
    } finally {
      await fitted.close();
    }
    // A distortion-only model has no prior to fall back on.
    const plain = await DqCodec.load(await makeModel(4));
    try {
      expect((await rejection(plain.encode(input, { method: 'conditional' }))).message).toMatch(/needs a rate model/);
    } finally {
      await plain.close();
    }
  });
});
