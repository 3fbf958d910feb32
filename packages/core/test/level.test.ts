import { describe, expect, it } from 'vitest';
import { buildEntropyTables, decodeLevel, DqcError, encodeLevel, type EntropyMethod, type LevelIndices } from '../src/index.js';
import { iidMap, randomMap, rng } from './synthetic.js';

const METHODS: EntropyMethod[] = ['static', 'context'];

function map(M: number, h: number, w: number, K: number, f: (i: number) => number): LevelIndices {
  return { M, h, w, K, indices: Uint16Array.from({ length: M * h * w }, (_, i) => f(i)) };
}

/** Blocky map: constant patches with occasional noise, the easy case for context modelling. */
function blocky(M: number, h: number, w: number, K: number, seed: number): LevelIndices {
  const rand = rng(seed);
  const palette = Array.from({ length: 64 }, () => Math.floor(rand() * K));
  return map(M, h, w, K, (i) => {
    const x = i % w, y = Math.floor(i / w) % h, m = Math.floor(i / (h * w));
    return rand() < 0.05 ? Math.floor(rand() * K) : palette[(m * 7 + (x >> 3) * 3 + (y >> 2) * 11) % 64];
  });
}

function expectRoundTrip(level: LevelIndices, method: EntropyMethod, tables?: Parameters<typeof encodeLevel>[1]): Uint8Array {
  const bytes = encodeLevel(level, tables, method);
  const back = decodeLevel(bytes, level, tables, method);
  expect(back).toEqual(level.indices);
  return bytes;
}

describe('level coding round trips exactly', () => {
  const cases: [string, LevelIndices][] = [
    ['random K=512 M=8', randomMap(8, 16, 16, 512, 1)],
    ['blocky K=1024 M=4', blocky(4, 24, 40, 1024, 2)],
    ['iid skewed', iidMap(3, 20, 20, 300, 3)],
    ['all one value', map(4, 16, 16, 512, () => 7)],
    ['all zero, K=2', map(2, 9, 13, 2, () => 0)],
    ['alternating K=2', map(1, 31, 17, 2, (i) => i & 1)],
    ['all different (ramp)', map(1, 32, 32, 1024, (i) => i)],
    ['max index everywhere', map(2, 8, 8, 65536, () => 65535)],
    ['K=65536 random', randomMap(2, 12, 12, 65536, 4)],
    ['1×1, K=2', map(1, 1, 1, 2, () => 1)],
    ['1×1, M=16', map(16, 1, 1, 256, (i) => (i * 37) % 256)],
    ['single row', blocky(2, 1, 64, 256, 5)],
    ['single column', blocky(2, 64, 1, 256, 6)],
    ['M=16 blocky', blocky(16, 8, 8, 512, 7)],
  ];
  for (const [name, level] of cases) {
    for (const method of METHODS) {
      it(`${name}, ${method}, default tables`, () => {
        expectRoundTrip(level, method);
      });
    }
  }

  it('with trained tables (all methods, several successor counts)', () => {
    const train = Array.from({ length: 4 }, (_, i) => [blocky(4, 16, 16, 512, 10 + i)]);
    for (const successors of [0, 1, 8, 16]) {
      const tables = buildEntropyTables(train, [{ M: 4, K: 512 }], { successors }).levelsTopFirst[0];
      for (const method of METHODS) {
        expectRoundTrip(blocky(4, 16, 16, 512, 99), method, tables);
        expectRoundTrip(randomMap(4, 16, 16, 512, 98), method, tables);
      }
    }
  });

  it('with tables trained on K=2 and K=65536 maps', () => {
    for (const K of [2, 65536]) {
      const lv = randomMap(2, 10, 10, K, K);
      const tables = buildEntropyTables([[lv]], [{ M: 2, K }]).levelsTopFirst[0];
      for (const method of METHODS) expectRoundTrip(randomMap(2, 10, 10, K, K + 1), method, tables);
    }
  });

  it('random fuzz of shapes and values', () => {
    const rand = rng(42);
    for (let trial = 0; trial < 30; trial++) {
      const M = 1 + Math.floor(rand() * 4), h = 1 + Math.floor(rand() * 12), w = 1 + Math.floor(rand() * 12);
      const K = 2 + Math.floor(rand() ** 3 * 5000);
      const lv = rand() < 0.5 ? randomMap(M, h, w, K, trial) : map(M, h, w, K, (i) => (rand() < 0.7 ? Math.floor(i / 5) % K : Math.floor(rand() * K)));
      for (const method of METHODS) expectRoundTrip(lv, method);
    }
  });
});

describe('level coding costs', () => {
  it('static without tables costs about log2 K bits per index', () => {
    const lv = randomMap(4, 32, 32, 512, 11);
    const bytes = encodeLevel(lv, undefined, 'static');
    const bits = (bytes.length * 8) / lv.indices.length;
    expect(bits).toBeGreaterThan(8.9);
    expect(bits).toBeLessThan(9.05);
  });

  it('a constant map costs almost nothing with the context method', () => {
    const lv = map(8, 32, 32, 512, () => 3);
    // 8192 indices; the floor is set by the mass the mixture keeps on other codes (~0.1 bit).
    expect(encodeLevel(lv, undefined, 'context').length).toBeLessThan(160);
  });
});

describe('level decoding rejects bad input', () => {
  it('garbage bytes terminate with indices or DqcError, never anything else', () => {
    const rand = rng(9);
    const shape = { M: 4, h: 16, w: 16, K: 512 };
    const tables = buildEntropyTables([[blocky(4, 16, 16, 512, 1)]], [{ M: 4, K: 512 }]).levelsTopFirst[0];
    for (let trial = 0; trial < 60; trial++) {
      const garbage = Uint8Array.from({ length: Math.floor(rand() * 600) }, () => Math.floor(rand() * 256));
      for (const method of METHODS) {
        try {
          const out = decodeLevel(garbage, shape, trial % 2 ? tables : undefined, method);
          expect(out.length).toBe(4 * 16 * 16);
          expect(Math.max(...out)).toBeLessThan(512);
        } catch (e) {
          expect(e).toBeInstanceOf(DqcError);
          expect((e as DqcError).code).toBe('CORRUPT_STREAM');
        }
      }
    }
  });

  it('all-0xFF input is reported as corrupt', () => {
    expect(() => decodeLevel(new Uint8Array(64).fill(255), { M: 1, h: 4, w: 4, K: 16 }, undefined, 'context')).toThrow(DqcError);
  });

  it('indices out of range or of the wrong length are BAD_INDICES', () => {
    const bad = map(1, 2, 2, 4, (i) => i + 1);
    expect(() => encodeLevel(bad)).toThrowError(expect.objectContaining({ code: 'BAD_INDICES' }));
    const short = { ...map(1, 2, 2, 4, () => 0), h: 3 };
    expect(() => encodeLevel(short)).toThrowError(expect.objectContaining({ code: 'BAD_INDICES' }));
  });

  it('accepts Int32Array/Uint32Array indices straight from a model, rejecting negatives', () => {
    const lv = blocky(2, 8, 8, 300, 3);
    for (const arr of [Int32Array.from(lv.indices), Uint32Array.from(lv.indices)]) {
      const bytes = encodeLevel({ ...lv, indices: arr });
      expect(decodeLevel(bytes, lv)).toEqual(lv.indices);
    }
    const neg = Int32Array.from(lv.indices);
    neg[3] = -1;
    expect(() => encodeLevel({ ...lv, indices: neg })).toThrowError(expect.objectContaining({ code: 'BAD_INDICES' }));
  });

  it('tables for another shape are MODEL_MISMATCH', () => {
    const tables = buildEntropyTables([[randomMap(2, 4, 4, 64, 1)]], [{ M: 2, K: 64 }]).levelsTopFirst[0];
    expect(() => encodeLevel(randomMap(2, 4, 4, 128, 1), tables)).toThrowError(expect.objectContaining({ code: 'MODEL_MISMATCH' }));
    expect(() => decodeLevel(new Uint8Array(4), { M: 3, h: 4, w: 4, K: 64 }, tables)).toThrowError(expect.objectContaining({ code: 'MODEL_MISMATCH' }));
  });
});
