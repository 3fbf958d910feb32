/**
 * The 'coefficient' entropy method (id 4, docs/format.md §6.8): transform models' scalar-quantized
 * DCT coefficients. Round trips, a plain re-implementation of §6.8 that must produce the same
 * bytes, sizes, corrupt input, table validation and the container path.
 */
import { describe, expect, it } from 'vitest';
import {
  coefficientTablesFor,
  crc32,
  decodeCoefficients,
  decodeIndices,
  DqcError,
  encodeCoefficients,
  encodeIndices,
  encodeLevel,
  encodingTables,
  isCoefficientTables,
  parseCoefficientTables,
  parseManifest,
  readHeader,
  type CoefficientPredict,
  type CoefficientTables,
  type LevelIndices,
} from '../src/index.js';
import { MAX_TOTAL, RangeEncoder } from '../src/entropy/rangeCoder.js';
import { errorCode, FINGERPRINT, priorTablesFrom, SMALL_META } from './helpers.js';
import { coefMap, randomMap, rng } from './synthetic.js';

/**
 * §6.8 written out plainly (full M·24 context tables, a residual array for the whole level): the
 * reference the fast coder must match byte for byte.
 */
function referenceEncode(level: LevelIndices, predict: CoefficientPredict): Uint8Array {
  const { M, h, w, K, indices } = level;
  const half = Math.floor(K / 2);
  const val = (m: number, y: number, x: number): number => indices[(m * h + y) * w + x] - half;
  const res = new Array<number>(M * h * w).fill(0);
  const freq: number[][] = [];
  for (let c = 0; c < M * 24; c++) freq.push(Array.from({ length: 33 }, (_, t) => (t === 0 ? 32 : t <= 2 ? 8 : t <= 4 ? 4 : 1)));
  const enc = new RangeEncoder();
  for (let m = 0; m < M; m++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let p = 0;
        if (predict === 'med') {
          if (x > 0 && y > 0) {
            const a = val(m, y, x - 1);
            const b = val(m, y - 1, x);
            const c = val(m, y - 1, x - 1);
            p = c >= Math.max(a, b) ? Math.min(a, b) : c <= Math.min(a, b) ? Math.max(a, b) : a + b - c;
          } else if (x > 0) p = val(m, y, x - 1);
          else if (y > 0) p = val(m, y - 1, x);
        }
        const r = val(m, y, x) - p;
        res[(m * h + y) * w + x] = r;
        const A = x > 0 ? Math.abs(res[(m * h + y) * w + x - 1]) : 0;
        const B = y > 0 ? Math.abs(res[(m * h + y - 1) * w + x]) : 0;
        const s = A + B;
        const sClass = s === 0 ? 0 : s === 1 ? 1 : s === 2 ? 2 : s <= 4 ? 3 : s <= 8 ? 4 : 5;
        let pClass = 3;
        if (m > 0) {
          const P = Math.abs(res[((m - 1) * h + y) * w + x]);
          pClass = P === 0 ? 0 : P === 1 ? 1 : 2;
        }
        const f = freq[m * 24 + sClass * 4 + pClass];
        const n = r === 0 ? 0 : Math.abs(r).toString(2).length;
        const tok = r === 0 ? 0 : 2 * n - 1 + (r < 0 ? 1 : 0);
        const total = f.reduce((u, v) => u + v, 0);
        expect(total).toBeLessThanOrEqual(MAX_TOTAL);
        enc.encode(f.slice(0, tok).reduce((u, v) => u + v, 0), f[tok], total);
        f[tok] += 24;
        if (f.reduce((u, v) => u + v, 0) > MAX_TOTAL) for (let t = 0; t < 33; t++) f[t] = (f[t] + 1) >> 1;
        if (n > 1) enc.encode(Math.abs(r) - 2 ** (n - 1), 1, 2 ** (n - 1));
      }
    }
  }
  return enc.finish();
}

function roundTrip(level: LevelIndices, predict: CoefficientPredict): Uint8Array {
  const t = { M: level.M, K: level.K, predict };
  const bytes = encodeCoefficients(level, t);
  expect(decodeCoefficients(bytes, level, t)).toEqual(level.indices);
  return bytes;
}

const PREDICTS = ['none', 'med'] as const;

describe("the 'coefficient' method: level coding", () => {
  for (const predict of PREDICTS) {
    it(`round-trips random maps, K from 2 to 65536, predict ${predict}`, () => {
      for (const [i, K] of [2, 3, 5, 16, 255, 2048, 65535, 65536].entries()) roundTrip(randomMap(2, 9, 13, K, 10 + i), predict);
    });

    it(`round-trips structured maps of every shape, predict ${predict}`, () => {
      const maps = [
        coefMap(1, 1, 1, 2048, 1),
        coefMap(1, 1, 1, 2, 2, { zeros: 0 }),
        coefMap(3, 1, 40, 2048, 3),
        coefMap(3, 40, 1, 2048, 4),
        coefMap(2, 7, 31, 3, 5, { zeros: 0.5 }),
        coefMap(1, 16, 9, 2, 6, { zeros: 0.3 }),
        coefMap(4, 12, 20, 65536, 7, { scale: 400, zeros: 0.3 }),
        coefMap(192, 6, 5, 2048, 8),
        coefMap(3, 24, 32, 2048, 9, { smooth: 30 }),
        coefMap(2, 10, 12, 65536, 10, { smooth: 30000, scale: 3000 }),
        coefMap(1, 64, 64, 2048, 11, { zeros: 1 }), // one context only: its counts are halved many times
      ];
      for (const lv of maps) roundTrip(lv, predict);
    });

    it(`matches a plain re-implementation of §6.8 byte for byte, predict ${predict}`, () => {
      const maps = [coefMap(3, 11, 17, 2048, 21), coefMap(2, 9, 8, 3, 22, { zeros: 0.4 }), coefMap(2, 6, 7, 65536, 23, { scale: 5000, smooth: 20000 }), coefMap(1, 64, 64, 16, 24, { zeros: 1 }), coefMap(2, 20, 24, 2048, 25, { smooth: 40 })];
      for (const lv of maps) expect(encodeCoefficients(lv, { M: lv.M, K: lv.K, predict })).toEqual(referenceEncode(lv, predict));
    });
  }

  it('extreme values: ±floor(K/2) edges and residuals of 16 bits', () => {
    for (const K of [2, 3, 65536, 65535]) {
      const indices = Uint16Array.from({ length: 2 * 6 * 6 }, (_, i) => ((i * 7) % 5 < 2 ? 0 : K - 1));
      for (const predict of PREDICTS) roundTrip({ M: 2, h: 6, w: 6, K, indices }, predict);
    }
  });

  it('codes a mostly-zero map far below the static method', () => {
    const lv = coefMap(16, 24, 32, 2048, 31, { zeros: 0.95, scale: 1 });
    const coef = roundTrip(lv, 'none').length;
    const stat = encodeLevel(lv, undefined, 'static').length;
    expect(coef).toBeLessThan(stat / 20);
    // and well under what the map's zero/nonzero split alone costs with one 11-bit literal per nonzero
    expect(coef * 8).toBeLessThan(lv.indices.length * 0.5);
  });

  it("'med' pays off on smooth maps, 'none' on noise", () => {
    const smooth = coefMap(4, 32, 32, 2048, 41, { smooth: 40, zeros: 0.9 });
    expect(roundTrip(smooth, 'med').length).toBeLessThan(roundTrip(smooth, 'none').length * 0.8);
    const noise = coefMap(4, 32, 32, 2048, 42);
    expect(roundTrip(noise, 'none').length).toBeLessThan(roundTrip(noise, 'med').length);
  });

  it('is bit-exact with the streams recorded when the method was introduced', () => {
    const cases: [LevelIndices, CoefficientPredict, number, number][] = [
      [coefMap(3, 11, 17, 2048, 51), 'none', 2525597118, 126],
      [coefMap(2, 16, 16, 65536, 52, { smooth: 300, scale: 20 }), 'med', 3425054757, 436],
    ];
    const got = cases.map(([lv, predict]) => {
      const b = encodeCoefficients(lv, { M: lv.M, K: lv.K, predict });
      return [crc32(b), b.length];
    });
    expect(got).toEqual(cases.map(([, , crc, len]) => [crc, len]));
  });

  it('refuses bad indices and mismatched shapes', () => {
    const lv = coefMap(2, 4, 4, 16, 61);
    expect(errorCode(() => encodeCoefficients({ ...lv, indices: Uint16Array.from(lv.indices, (v, i) => (i === 5 ? 16 : v)) }, { M: 2, K: 16, predict: 'none' }))).toBe('BAD_INDICES');
    expect(errorCode(() => encodeCoefficients({ ...lv, indices: lv.indices.subarray(1) }, { M: 2, K: 16, predict: 'none' }))).toBe('BAD_INDICES');
    expect(errorCode(() => encodeCoefficients(lv, { M: 3, K: 16, predict: 'none' }))).toBe('MODEL_MISMATCH');
    expect(errorCode(() => decodeCoefficients(new Uint8Array(4), lv, { M: 2, K: 32, predict: 'none' }))).toBe('MODEL_MISMATCH');
  });
});

describe("the 'coefficient' method: corrupt streams", () => {
  /** Decode must throw a DqcError or return in-range indices of the right length. */
  function decodeOrReject(bytes: Uint8Array, lv: LevelIndices, predict: CoefficientPredict): string {
    try {
      const out = decodeCoefficients(bytes, lv, { M: lv.M, K: lv.K, predict });
      expect(out.length).toBe(lv.M * lv.h * lv.w);
      for (const v of out) if (v >= lv.K) throw new Error(`decoded index ${v} ≥ K=${lv.K}`);
      return 'decoded';
    } catch (e) {
      expect(e).toBeInstanceOf(DqcError);
      return (e as DqcError).code;
    }
  }

  for (const predict of PREDICTS) {
    it(`truncations, bit flips and random bytes give a DqcError or in-range indices, predict ${predict}`, () => {
      const rand = rng(71);
      const outcomes = new Map<string, number>();
      const note = (o: string): void => void outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      for (const [lv, seed] of [[coefMap(4, 16, 16, 2048, 72), 0], [coefMap(3, 8, 8, 3, 73, { zeros: 0.4 }), 1], [coefMap(2, 8, 8, 65536, 74, { scale: 3000 }), 2]] as const) {
        const bytes = encodeCoefficients(lv, { M: lv.M, K: lv.K, predict });
        for (let cut = 0; cut < bytes.length; cut += Math.max(1, bytes.length >> 5)) note(decodeOrReject(bytes.subarray(0, cut), lv, predict));
        for (let i = 0; i < 60; i++) {
          const b = bytes.slice();
          for (let f = 0; f < 1 + (i % 4); f++) {
            const at = Math.floor(rand() * b.length);
            b[at] ^= 1 << Math.floor(rand() * 8);
          }
          note(decodeOrReject(b, lv, predict));
        }
        for (let i = 0; i < 40; i++) note(decodeOrReject(Uint8Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)), lv, predict));
        void seed;
      }
      // Corruption is reported, not only turned into other indices (K = 3 and 65536 reach out-of-range values fast).
      expect(outcomes.get('CORRUPT_STREAM') ?? 0).toBeGreaterThan(10);
    });
  }

  it('all-0xFF input (the largest targets) is rejected at once', () => {
    const lv = coefMap(2, 8, 8, 2, 75);
    expect(errorCode(() => decodeCoefficients(new Uint8Array(64).fill(0xff), lv, { M: 2, K: 2, predict: 'none' }))).toBe('CORRUPT_STREAM');
  });

  it('an empty stream decodes as all zero bytes: every value 0', () => {
    const lv = coefMap(2, 5, 6, 2048, 76);
    expect(decodeCoefficients(new Uint8Array(0), lv, { M: 2, K: 2048, predict: 'med' })).toEqual(new Uint16Array(60).fill(1024));
  });
});

describe('coefficient tables', () => {
  const good = (): Record<string, unknown> => ({
    format: 'dqc-coefficients',
    version: 1,
    levelsTopFirst: [
      { M: 3, K: 2048, predict: 'med' },
      { M: 192, K: 2048, predict: 'none' },
    ],
  });

  it('accepts valid tables and recognises them', () => {
    const t = good();
    expect(parseCoefficientTables(t)).toBe(t);
    expect(isCoefficientTables(t)).toBe(true);
    expect(isCoefficientTables({ format: 'dqc-prior' })).toBe(false);
    expect(isCoefficientTables(null)).toBe(false);
    expect(coefficientTablesFor([{ M: 3, K: 2048, predict: 'med' }, { M: 192, K: 2048, predict: 'none' }])).toEqual(t);
  });

  const cases: [string, (t: Record<string, unknown>) => unknown, RegExp][] = [
    ['root', () => [], /root/],
    ['format', (t) => ({ ...t, format: 'dqc-entropy' }), /format/],
    ['version', (t) => ({ ...t, version: 2 }), /version/],
    ['levelsTopFirst', (t) => ({ ...t, levelsTopFirst: [] }), /levelsTopFirst/],
    ['too many levels', (t) => ({ ...t, levelsTopFirst: Array(9).fill({ M: 1, K: 2, predict: 'none' }) }), /levelsTopFirst/],
    ['level object', (t) => ({ ...t, levelsTopFirst: [5] }), /levelsTopFirst\[0\]/],
    ['M = 0', (t) => ({ ...t, levelsTopFirst: [{ M: 0, K: 16, predict: 'none' }] }), /levelsTopFirst\[0\]\.M/],
    ['M = 257', (t) => ({ ...t, levelsTopFirst: [{ M: 3, K: 16, predict: 'none' }, { M: 257, K: 16, predict: 'none' }] }), /levelsTopFirst\[1\]\.M/],
    ['M fractional', (t) => ({ ...t, levelsTopFirst: [{ M: 1.5, K: 16, predict: 'none' }] }), /levelsTopFirst\[0\]\.M/],
    ['K = 1', (t) => ({ ...t, levelsTopFirst: [{ M: 1, K: 1, predict: 'none' }] }), /levelsTopFirst\[0\]\.K/],
    ['K = 65537', (t) => ({ ...t, levelsTopFirst: [{ M: 1, K: 65537, predict: 'none' }] }), /levelsTopFirst\[0\]\.K/],
    ['K missing', (t) => ({ ...t, levelsTopFirst: [{ M: 1, predict: 'none' }] }), /levelsTopFirst\[0\]\.K/],
    ['predict', (t) => ({ ...t, levelsTopFirst: [{ M: 1, K: 16, predict: 'mean' }] }), /levelsTopFirst\[0\]\.predict/],
    ['predict missing', (t) => ({ ...t, levelsTopFirst: [{ M: 1, K: 16 }] }), /levelsTopFirst\[0\]\.predict/],
  ];
  for (const [name, edit, field] of cases) {
    it(`rejects bad tables naming the field: ${name}`, () => {
      try {
        parseCoefficientTables(edit(good()));
      } catch (e) {
        expect(e).toBeInstanceOf(DqcError);
        expect((e as DqcError).code).toBe('BAD_TABLES');
        expect((e as DqcError).message).toMatch(field);
        return;
      }
      throw new Error('tables were accepted');
    });
  }

  it('a manifest accepts them in entropy when they match its levels, and names the field when not', () => {
    const manifest = (entropy: unknown): Record<string, unknown> => ({
      formatVersion: 1,
      name: 'dct-small',
      config: {},
      levels: [
        { M: 192, K: 2048, D: 1, stride: 8 },
        { M: 3, K: 2048, D: 1, stride: 16 },
      ],
      totalStride: 16,
      imageRange: [0, 1],
      graphs: { encoder: 'encoder.onnx', quantizer: 'quantizer.onnx', decoder: 'decoder.onnx' },
      fingerprint: 'f'.repeat(64),
      entropy,
    });
    expect(isCoefficientTables(parseManifest(manifest(good())).entropy)).toBe(true);
    const wrongK = good();
    (wrongK.levelsTopFirst as { K: number }[])[1].K = 1024;
    expect(() => parseManifest(manifest(wrongK))).toThrow(/entropy\.levelsTopFirst\[1\]\.K/);
    const badPredict = good();
    (badPredict.levelsTopFirst as { predict: string }[])[0].predict = 'left';
    expect(errorCode(() => parseManifest(manifest(badPredict)))).toBe('BAD_MANIFEST');
    expect(() => parseManifest(manifest(badPredict))).toThrow(/levelsTopFirst\[0\]\.predict/);
    expect(() => parseManifest({ ...manifest(undefined), prior: good() })).toThrow(/prior/);
  });
});

describe("the 'coefficient' method in .dqc files", () => {
  // SMALL_META: a 32×32 padded image; top level stride 8 (4×4), bottom stride 4 (8×8).
  const tables = coefficientTablesFor([
    { M: 3, K: 2048, predict: 'med' },
    { M: 24, K: 65536, predict: 'none' },
  ]);
  const levels = [coefMap(3, 4, 4, 2048, 81, { smooth: 20 }), coefMap(24, 8, 8, 65536, 82, { scale: 4 })];

  it('round-trips through encodeIndices/decodeIndices with method id 4', () => {
    const file = encodeIndices(levels, SMALL_META, tables);
    expect(file[10]).toBe(4);
    const { header, levels: back } = decodeIndices(file, { tables, expectedFingerprint: FINGERPRINT });
    expect(header.method).toBe('coefficient');
    expect(back).toEqual(levels);
    expect(decodeIndices(file, { tables: JSON.parse(JSON.stringify(tables)) as CoefficientTables }).levels).toEqual(levels);
    // Each stream is the level coder's output.
    expect(file.subarray(header.levels[1].streamOffset, header.levels[1].streamOffset + header.levels[1].streamLength)).toEqual(encodeCoefficients(levels[1], tables.levelsTopFirst[1]));
  });

  it('previews and top-only files decode like the other methods', () => {
    const file = encodeIndices(levels, SMALL_META, tables);
    const h = readHeader(file);
    const prefix = file.subarray(0, h.levels[0].streamOffset + h.levels[0].streamLength);
    expect(decodeIndices(prefix, { tables, maxLevels: 1 }).levels).toEqual([levels[0]]);
    expect(decodeIndices(encodeIndices([levels[0]], SMALL_META, tables), { tables }).levels).toEqual([levels[0]]);
  });

  it('the model picks the method: encodingTables defaults to coefficient and refuses the others', () => {
    expect(encodingTables({ entropy: tables })).toEqual({ tables, method: 'coefficient' });
    expect(encodingTables({ entropy: tables }, 'coefficient')).toEqual({ tables, method: 'coefficient' });
    expect(errorCode(() => encodingTables({ entropy: tables }, 'context'))).toBe('BAD_TABLES');
    expect(errorCode(() => encodingTables({ entropy: tables }, 'static'))).toBe('BAD_TABLES');
    expect(errorCode(() => encodingTables({}, 'coefficient'))).toBe('BAD_TABLES');
    expect(errorCode(() => encodeIndices(levels, SMALL_META, tables, { method: 'context' }))).toBe('BAD_TABLES');
    expect(errorCode(() => encodeIndices(levels, SMALL_META, undefined, { method: 'coefficient' }))).toBe('BAD_TABLES');
  });

  it('a method-4 file with other tables, and another method with coefficient tables, is MODEL_MISMATCH', () => {
    const file = encodeIndices(levels, SMALL_META, tables);
    expect(errorCode(() => decodeIndices(file))).toBe('MODEL_MISMATCH');
    const prior = priorTablesFrom([[randomMap(1, 2, 2, 4, 83)]]); // the method check comes before any shape check
    expect(errorCode(() => decodeIndices(file, { tables: prior }))).toBe('MODEL_MISMATCH');
    expect(errorCode(() => decodeIndices(file, { tables: coefficientTablesFor([{ M: 3, K: 2048, predict: 'none' }, { M: 24, K: 65536, predict: 'none' }]) }))).toBe('MODEL_MISMATCH');
    expect(errorCode(() => decodeIndices(file, { tables: coefficientTablesFor([{ M: 3, K: 2048, predict: 'med' }]) }))).toBe('MODEL_MISMATCH');
    const plain = encodeIndices(levels, SMALL_META);
    expect(errorCode(() => decodeIndices(plain, { tables }))).toBe('MODEL_MISMATCH');
  });

  it("codes coefficient maps far smaller than the 'context' method with default tables", () => {
    const coef = readHeader(encodeIndices(levels, SMALL_META, tables)).levels[1].streamLength;
    const ctx = readHeader(encodeIndices(levels, SMALL_META)).levels[1].streamLength;
    expect(coef).toBeLessThan(ctx / 4);
  });
});
