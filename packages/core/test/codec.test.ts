import { describe, expect, it } from 'vitest';
import { buildEntropyTables, decodeIndices, DqcError, encodeIndices, readHeader, writeContainer, type EntropyTables } from '../src/index.js';
import { errorCode, FINGERPRINT, SMALL_META, smallLevels } from './helpers.js';
import { randomMap } from './synthetic.js';

describe('encodeIndices / decodeIndices', () => {
  const levels = smallLevels(3);
  const tables: EntropyTables = buildEntropyTables([smallLevels(10), smallLevels(20)], [{ M: 2, K: 16 }, { M: 3, K: 32 }]);

  it('round-trips with and without tables, both methods', () => {
    for (const t of [undefined, tables]) {
      for (const method of ['static', 'context'] as const) {
        const file = encodeIndices(levels, SMALL_META, t, { method });
        const { header, levels: back } = decodeIndices(file, { tables: t, expectedFingerprint: FINGERPRINT });
        expect(back).toEqual(levels);
        expect(header).toMatchObject({ ...SMALL_META, method });
      }
    }
  });

  it('tables survive a JSON round trip', () => {
    const json = JSON.parse(JSON.stringify(tables)) as EntropyTables;
    const file = encodeIndices(levels, SMALL_META, tables);
    expect(decodeIndices(file, { tables: json }).levels).toEqual(levels);
  });

  it('maxLevels decodes only the top streams, from a prefix of the file', () => {
    const file = encodeIndices(levels, SMALL_META, tables);
    const header = readHeader(file);
    const prefix = file.subarray(0, header.levels[0].streamOffset + header.levels[0].streamLength);
    const top = decodeIndices(prefix, { tables, maxLevels: 1 });
    expect(top.levels).toEqual([levels[0]]);
    expect(errorCode(() => decodeIndices(prefix, { tables }))).toBe('TRUNCATED');
    expect(decodeIndices(file, { tables, maxLevels: 0 }).levels).toEqual([]);
  });

  it('a file may hold only the top levels (the low-rate operating point), coded with the first tables', () => {
    const full = encodeIndices(levels, SMALL_META, tables);
    const top = encodeIndices([levels[0]], SMALL_META, tables);
    expect(top.length).toBeLessThan(full.length);
    const h = readHeader(top);
    expect(h.levels).toHaveLength(1);
    expect(h.tablesCrc).toBe(readHeader(full).tablesCrc); // identifies the whole table set
    expect(decodeIndices(top, { tables }).levels).toEqual([levels[0]]);
    // The top stream is byte-identical to the full file's: the same statistics code it.
    const stream = (f: Uint8Array): Uint8Array => f.subarray(readHeader(f).levels[0].streamOffset, readHeader(f).levels[0].streamOffset + readHeader(f).levels[0].streamLength);
    expect(Buffer.compare(stream(top), stream(full))).toBe(0);
  });

  it('a file from another model is MODEL_MISMATCH', () => {
    const file = encodeIndices(levels, SMALL_META, tables);
    expect(errorCode(() => decodeIndices(file, { tables, expectedFingerprint: 'b'.repeat(64) }))).toBe('MODEL_MISMATCH');
    expect(errorCode(() => decodeIndices(file, {}))).toBe('MODEL_MISMATCH'); // coded with tables, decoded without
    const other = buildEntropyTables([smallLevels(30)], [{ M: 2, K: 16 }, { M: 3, K: 32 }]);
    expect(errorCode(() => decodeIndices(file, { tables: other }))).toBe('MODEL_MISMATCH');
    const wrongShape = buildEntropyTables([[randomMap(2, 4, 4, 16, 1)]], [{ M: 2, K: 16 }]);
    expect(errorCode(() => decodeIndices(file, { tables: wrongShape }))).toBe('MODEL_MISMATCH');
  });

  it('rejects bad inputs with specific codes', () => {
    const outOfRange = [levels[0], { ...levels[1], indices: levels[1].indices.map((v, i) => (i === 5 ? 32 : v)) }];
    expect(errorCode(() => encodeIndices(outOfRange, SMALL_META))).toBe('BAD_INDICES');
    expect(errorCode(() => encodeIndices(levels, { ...SMALL_META, paddedWidth: 48 }))).toBe('BAD_HEADER');
    expect(errorCode(() => encodeIndices([levels[1], levels[0]], SMALL_META))).toBe('BAD_HEADER'); // bottom first by mistake
    expect(errorCode(() => encodeIndices([levels[1]], SMALL_META, tables))).toBe('MODEL_MISMATCH'); // not the top level
    expect(errorCode(() => encodeIndices([...levels, levels[1]], SMALL_META, tables))).toBe('MODEL_MISMATCH'); // more levels than the tables
    expect(errorCode(() => encodeIndices(levels, SMALL_META, { ...tables, version: 2 } as unknown as EntropyTables))).toBe('BAD_TABLES');
  });

  it('every truncation and every byte corruption of a full file gives DqcError', () => {
    const file = encodeIndices(levels, SMALL_META, tables);
    for (let n = 0; n < file.length; n++) errorCode(() => decodeIndices(file.subarray(0, n), { tables }));
    for (let i = 0; i < file.length; i++) {
      const bad = file.slice();
      bad[i] ^= 0xa5;
      errorCode(() => decodeIndices(bad, { tables }));
    }
  });

  it('a hostile header (M=256, K=65536 per level) with garbage streams is decoded or rejected quickly', () => {
    const shapes = [1, 2, 4].map((side) => ({ M: 256, h: side, w: side, K: 65536 }));
    const garbage = shapes.map((_, i) => Uint8Array.from({ length: 64 }, (_, j) => (j * 131 + i * 17) & 0xff));
    // tablesCrc of the default tables for these shapes, taken from a legitimately encoded twin.
    const twin = encodeIndices(
      shapes.map((s) => ({ ...s, indices: new Uint16Array(s.M * s.h * s.w) })),
      { ...SMALL_META, width: 4, height: 4, paddedWidth: 4, paddedHeight: 4 },
    );
    const fields = { ...readHeader(twin), levels: shapes };
    const file = writeContainer(fields, garbage);
    const t0 = Date.now();
    try {
      const { levels } = decodeIndices(file);
      expect(levels.map((l) => l.indices.length)).toEqual([256, 1024, 4096]);
    } catch (e) {
      expect(e).toBeInstanceOf(DqcError);
    }
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
