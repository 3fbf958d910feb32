import { describe, expect, it } from 'vitest';
import { buildEntropyTables, DqcError, fingerprintPair, levelSpecsTopFirst, modelMargins, parseManifest } from '../src/index.js';
import { randomMap } from './synthetic.js';

function valid(): Record<string, unknown> {
  return {
    formatVersion: 1,
    name: 'dqae-small',
    config: { channels: 64 },
    levels: [
      { M: 4, K: 64, D: 8, stride: 4 },
      { M: 2, K: 32, D: 8, stride: 8 },
    ],
    totalStride: 8,
    imageRange: [0, 1],
    graphs: { encoder: 'encoder.onnx', quantizer: 'quantizer.onnx', decoder: 'onnx/decoder.onnx' },
    fingerprint: '0123456789abcdef'.repeat(4),
  };
}

/** The BAD_MANIFEST message for a manifest edited by `edit`. */
function messageFor(edit: (m: Record<string, unknown>) => void): string {
  const m = valid();
  edit(m);
  try {
    parseManifest(JSON.parse(JSON.stringify(m)));
  } catch (e) {
    expect(e).toBeInstanceOf(DqcError);
    expect((e as DqcError).code).toBe('BAD_MANIFEST');
    return (e as DqcError).message;
  }
  throw new Error('manifest was accepted');
}

describe('parseManifest', () => {
  it('accepts a valid manifest and reports levels top first', () => {
    const m = parseManifest(valid());
    expect(m.levels[0].stride).toBe(4);
    expect(levelSpecsTopFirst(m)).toEqual([{ M: 2, K: 32 }, { M: 4, K: 64 }]);
  });

  it('keeps fields it does not know (forward compatibility)', () => {
    const m = parseManifest({ ...valid(), io: { decoder: { inputs: ['indices0'] } }, indexType: 'int32' });
    expect(m.io).toEqual({ decoder: { inputs: ['indices0'] } });
    expect(m.indexType).toBe('int32');
  });

  it('accepts matching entropy tables (top first) and round-trips through JSON', () => {
    const entropy = buildEntropyTables([[randomMap(2, 2, 2, 32, 1), randomMap(4, 4, 4, 64, 2)]], [{ M: 2, K: 32 }, { M: 4, K: 64 }]);
    const m = parseManifest(JSON.parse(JSON.stringify({ ...valid(), entropy })));
    expect(m.entropy?.levelsTopFirst.length).toBe(2);
  });

  it('names the bad field', () => {
    const lv = (m: Record<string, unknown>): Record<string, unknown>[] => m.levels as Record<string, unknown>[];
    const cases: [(m: Record<string, unknown>) => void, RegExp][] = [
      [(m) => (m.formatVersion = 2), /^manifest\.json: field formatVersion is 2: the model was exported by a newer dqcodec \(this one reads version 1\); upgrade dqcodec$/],
      [(m) => (m.formatVersion = '1'), /^manifest\.json: field formatVersion must be 1 \(got "1"\)$/],
      [(m) => delete m.name, /field name/],
      [(m) => delete m.config, /field config is required/],
      [(m) => (m.levels = []), /field levels must be an array/],
      [(m) => (lv(m)[1].K = 70000), /field levels\[1\]\.K must be an integer in \[2, 65536\] \(got 70000\)/],
      [(m) => (lv(m)[0].M = 1.5), /field levels\[0\]\.M must be an integer/],
      [(m) => (lv(m)[0].stride = 6), /field levels\[0\]\.stride must be a power of two/],
      [(m) => (lv(m)[1].stride = 4), /field levels\[1\]\.stride must be larger than levels\[0\]\.stride/],
      [(m) => (m.totalStride = 4), /field totalStride/],
      [(m) => (m.imageRange = [-1, 1]), /field imageRange must be \[0, 1\]/],
      [(m) => ((m.graphs as Record<string, unknown>).decoder = '../../etc/passwd'), /field graphs\.decoder must be a relative file name/],
      [(m) => ((m.graphs as Record<string, unknown>).encoder = '/abs.onnx'), /field graphs\.encoder/],
      [(m) => delete (m.graphs as Record<string, unknown>).quantizer, /field graphs\.quantizer/],
      [(m) => (m.fingerprint = 'ABC'), /field fingerprint must be a lowercase hex SHA-256/],
      [(m) => (m.entropy = { format: 'dqc-entropy', version: 1, levelsTopFirst: 'x' }), /field entropy: entropy tables: levelsTopFirst/],
    ];
    for (const [edit, re] of cases) expect(messageFor(edit)).toMatch(re);
    expect(() => parseManifest(null)).toThrowError(/manifest\.json: field \(root\) must be an object/);
  });

  it('rejects entropy tables that do not match the levels', () => {
    const bottomFirst = buildEntropyTables([[randomMap(4, 4, 4, 64, 2), randomMap(2, 2, 2, 32, 1)]], [{ M: 4, K: 64 }, { M: 2, K: 32 }]);
    expect(messageFor((m) => (m.entropy = bottomFirst))).toMatch(/field entropy\.levelsTopFirst\[0\]\.M must equal levels\[1\]\.M = 2 \(got 4\)/);
    const corrupt = JSON.parse(JSON.stringify(bottomFirst));
    corrupt.levelsTopFirst[0].literal = 'AAAA';
    expect(messageFor((m) => (m.entropy = corrupt))).toMatch(/levelsTopFirst\[0\]\.literal must hold 256 u16 values/);
  });
});

describe('fields that size work (issue 16)', () => {
  it('config.resBlocks and tileMargins are range-checked before they size a loop', () => {
    const t0 = performance.now();
    expect(messageFor((m) => (m.config = { resBlocks: 1e12 }))).toBe('manifest.json: field config.resBlocks must be an integer in [0, 64] (got 1000000000000)');
    expect(messageFor((m) => (m.config = { resBlocks: -1 }))).toMatch(/config\.resBlocks must be an integer in \[0, 64\] \(got -1\)/);
    expect(messageFor((m) => (m.config = { resBlocks: 2.5 }))).toMatch(/got 2\.5/);
    expect(messageFor((m) => (m.tileMargins = { encoder: -8, decoder: 8 }))).toBe('manifest.json: field tileMargins.encoder must be an integer in [0, 16384] (got -8)');
    expect(messageFor((m) => (m.tileMargins = { encoder: 8 }))).toMatch(/tileMargins\.decoder must be an integer .* \(got undefined\)/);
    expect(messageFor((m) => (m.tileMargins = [1, 2]))).toBe('manifest.json: field tileMargins must be an object');
    expect(performance.now() - t0).toBeLessThan(100);
    const ok = parseManifest({ ...valid(), config: { resBlocks: 64 }, tileMargins: { encoder: 0, decoder: 16384 } });
    expect(modelMargins(ok)).toEqual({ encoder: 0, decoder: 16384 });
    // An unchecked manifest object (not from parseManifest) still cannot make modelMargins loop for ever.
    const t1 = performance.now();
    expect(modelMargins({ ...ok, tileMargins: undefined, config: { resBlocks: 1e12 } }).encoder).toBeGreaterThan(0);
    expect(performance.now() - t1).toBeLessThan(100);
  });

  it('fingerprintPair shows two fingerprints far enough to differ', () => {
    const a = '0123456789abcdef'.repeat(4);
    const b = `${a.slice(0, 40)}X${a.slice(41)}`;
    expect(fingerprintPair(a, b)).toEqual([`${a.slice(0, 44)}…`, `${b.slice(0, 44)}…`]);
    expect(fingerprintPair(a, `f${a.slice(1)}`)).toEqual([`${a.slice(0, 16)}…`, `f${a.slice(1, 16)}…`]);
    const c = `${a.slice(0, 60)}ffff`;
    expect(fingerprintPair(a, c)).toEqual([a, c]);
  });
});
