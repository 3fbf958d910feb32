import { describe, expect, it } from 'vitest';
import {
  buildEntropyTables,
  compilePriorTables,
  decodeIndices,
  encodeIndices,
  priorLevelBits,
  priorLevelToJson,
  readHeader,
  type LevelIndices,
  type PriorTables,
} from '../src/index.js';
import { errorCode, FINGERPRINT, priorTablesFrom, SMALL_META } from './helpers.js';
import { randomMap } from './synthetic.js';

/** Two levels (top 2×K16 4×4, bottom 3×K32 8×8) where each bottom code is mostly a function of its parent. */
function correlatedLevels(seed: number): LevelIndices[] {
  const top = randomMap(2, 4, 4, 16, seed);
  const noise = randomMap(3, 8, 8, 32, seed + 7);
  const bottom = new Uint16Array(3 * 64);
  for (let m = 0; m < 3; m++) {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const parent = top.indices[(m % 2) * 16 + (y >> 1) * 4 + (x >> 1)];
        const i = (m * 8 + y) * 8 + x;
        bottom[i] = noise.indices[i] % 4 === 0 ? noise.indices[i] : (parent * 2 + m) % 32;
      }
    }
  }
  return [top, { M: 3, h: 8, w: 8, K: 32, indices: bottom }];
}

describe("the 'conditional' method (a rate model's learned prior)", () => {
  const training = Array.from({ length: 40 }, (_, i) => correlatedLevels(100 + i));
  const prior = priorTablesFrom(training);
  const levels = correlatedLevels(3);

  it('round-trips, and the header says conditional', () => {
    const file = encodeIndices(levels, SMALL_META, prior);
    const { header, levels: back } = decodeIndices(file, { tables: prior, expectedFingerprint: FINGERPRINT });
    expect(back).toEqual(levels);
    expect(header.method).toBe('conditional');
    expect(decodeIndices(file, { tables: JSON.parse(JSON.stringify(prior)) as PriorTables }).levels).toEqual(levels);
  });

  it('costs what the prior predicts: streams within 4 bytes of the ideal code length', () => {
    const t = compilePriorTables(prior);
    const file = encodeIndices(levels, SMALL_META, prior);
    const header = readHeader(file);
    const ideal = [priorLevelBits(levels[0], null, t[0]), priorLevelBits(levels[1], levels[0], t[1])];
    header.levels.forEach((lv, i) => {
      expect(lv.streamLength).toBeGreaterThanOrEqual(Math.floor(ideal[i] / 8) - 1);
      expect(lv.streamLength).toBeLessThanOrEqual(Math.ceil(ideal[i] / 8) + 4);
    });
  });

  it('uses the parent as context: correlated maps cost far less than under fitted static tables', () => {
    const staticTables = buildEntropyTables(training, [{ M: 2, K: 16 }, { M: 3, K: 32 }]);
    const bottomBytes = (file: Uint8Array): number => readHeader(file).levels[1].streamLength;
    const withPrior = bottomBytes(encodeIndices(levels, SMALL_META, prior));
    const withStatic = bottomBytes(encodeIndices(levels, SMALL_META, staticTables, { method: 'static' }));
    expect(withPrior).toBeLessThan(withStatic * 0.6);
  });

  it('a preview decodes the top level alone, from a prefix of the file', () => {
    const file = encodeIndices(levels, SMALL_META, prior);
    const h = readHeader(file);
    const prefix = file.subarray(0, h.levels[0].streamOffset + h.levels[0].streamLength);
    expect(decodeIndices(prefix, { tables: prior, maxLevels: 1 }).levels).toEqual([levels[0]]);
    // A file holding only the top level (the low-rate operating point).
    const topOnly = encodeIndices([levels[0]], SMALL_META, prior);
    expect(decodeIndices(topOnly, { tables: prior }).levels).toEqual([levels[0]]);
  });

  it('refuses mismatched tables and methods with typed errors', () => {
    const file = encodeIndices(levels, SMALL_META, prior);
    const staticTables = buildEntropyTables(training, [{ M: 2, K: 16 }, { M: 3, K: 32 }]);
    expect(errorCode(() => decodeIndices(file, { tables: staticTables }))).toBe('MODEL_MISMATCH');
    expect(errorCode(() => decodeIndices(file))).toBe('MODEL_MISMATCH');
    const other = priorTablesFrom(training.slice(0, 5));
    expect(errorCode(() => decodeIndices(file, { tables: other }))).toBe('MODEL_MISMATCH');
    const contextFile = encodeIndices(levels, SMALL_META, staticTables);
    expect(errorCode(() => decodeIndices(contextFile, { tables: prior }))).toBe('MODEL_MISMATCH');
    expect(errorCode(() => encodeIndices(levels, SMALL_META, prior, { method: 'static' }))).toBe('BAD_TABLES');
    expect(errorCode(() => encodeIndices(levels, SMALL_META, staticTables, { method: 'conditional' }))).toBe('BAD_TABLES');
    const bad = { ...levels[1], indices: levels[1].indices.map((v, i) => (i === 5 ? 32 : v)) };
    expect(errorCode(() => encodeIndices([levels[0], bad], SMALL_META, prior))).toBe('BAD_INDICES');
  });

  it('validates tables before using them (row sums, floors, contexts, sizes)', () => {
    const t = JSON.parse(JSON.stringify(prior)) as PriorTables;
    const rows = (freq: Uint16Array): PriorTables => ({ ...t, levelsTopFirst: [priorLevelToJson(2, 16, 1, freq), t.levelsTopFirst[1]] });
    const good = compilePriorTables(prior)[0].freq;
    const offByOne = good.slice();
    offByOne[3]++;
    expect(errorCode(() => compilePriorTables(rows(offByOne)))).toBe('BAD_TABLES');
    const zero = good.slice();
    zero[0] += zero[1];
    zero[1] = 0;
    expect(errorCode(() => compilePriorTables(rows(zero)))).toBe('BAD_TABLES');
    expect(errorCode(() => compilePriorTables({ ...t, levelsTopFirst: [{ ...t.levelsTopFirst[0], contexts: 2 }, t.levelsTopFirst[1]] }))).toBe('BAD_TABLES');
    expect(errorCode(() => compilePriorTables({ ...t, levelsTopFirst: [t.levelsTopFirst[0], { ...t.levelsTopFirst[1], contexts: 8 }] }))).toBe('BAD_TABLES');
    // A hostile size is refused from the numbers, before any base64 is decoded.
    expect(errorCode(() => compilePriorTables({ ...t, levelsTopFirst: [{ M: 256, K: 65536, contexts: 1, freq: 'AAAA' }] }))).toBe('BAD_TABLES');
    expect(errorCode(() => compilePriorTables({ ...t, version: 2 }))).toBe('BAD_TABLES');
  });

  it('corrupted streams decode to some indices or a typed error, never a crash', () => {
    const file = encodeIndices(levels, SMALL_META, prior);
    const h = readHeader(file);
    for (let i = 0; i < 200; i++) {
      const bad = file.slice();
      const at = h.levels[1].streamOffset + (i % h.levels[1].streamLength);
      bad[at] ^= 1 << (i % 8);
      try {
        decodeIndices(bad, { tables: prior });
      } catch (e) {
        expect((e as Error).name).toBe('DqcError');
      }
    }
  });
});
