/** Token documents and .npy arrays (core, pure): round trips, numpy compatibility, every refusal. */
import { describe, expect, it } from 'vitest';
import { checkTokensForModel, isDqcError, makeTokenSet, npyFileName, parseTokens, readNpy, tokensSidecarJson, tokensToJson, writeNpy, type DqcErrorCode, type TokenSet } from '../src/index.js';

const b64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

// Written by numpy 2.4.6 np.save: arange(24, dtype=uint16).reshape(2, 3, 4) * 1000; int64 and
// big-endian int32 arrays [[[0, 5], [63, 1]]].
const NP_U2 = b64('k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMsIDQpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAOgD0Ae4C6APiBNwF1gbQB8oIxAn+CrgLsgysDaYOoA+aEJQRjhKIE4IUvBV2Fk=');
const NP_I8 = b64('k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAUAAAAAAAAAPwAAAAAAAAABAAAAAAAAAA==');
const NP_BI4 = b64('k05VTVBZAQB2AHsnZGVzY3InOiAnPmk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAABQAAAD8AAAAB');

/** A .npy with a hand-made header (to build broken ones). */
function npy(header: string, data: Uint8Array, version = 1): Uint8Array {
  const h = ascii(header);
  const lenBytes = version === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lenBytes + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, h.length, true);
  else v.setUint32(8, h.length, true);
  out.set(h, 8 + lenBytes);
  out.set(data, 8 + lenBytes + h.length);
  return out;
}

async function code(p: Promise<unknown> | (() => unknown)): Promise<DqcErrorCode | 'none'> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isDqcError(e)) return e.code;
    throw e;
  }
  return 'none';
}

async function message(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isDqcError(e)) return e.message;
    throw e;
  }
  return '';
}

describe('.npy', () => {
  it('writes exactly what numpy writes, and reads it back', () => {
    const data = Uint16Array.from({ length: 24 }, (_, i) => i * 1000);
    expect(writeNpy(data, [2, 3, 4])).toEqual(NP_U2);
    const a = readNpy(NP_U2);
    expect([a.shape, a.dtype, Array.from(a.values)]).toEqual([[2, 3, 4], '<u2', Array.from(data)]);
    // The data starts on a 64-byte boundary, as numpy aligns it.
    const one = writeNpy(Uint16Array.of(7), [1]);
    expect((one.length - 2) % 64).toBe(0);
    expect(readNpy(one).shape).toEqual([1]);
  });

  it('reads numpy int64 and big-endian int32 arrays and format 2.0 headers', () => {
    for (const f of [NP_I8, NP_BI4]) expect(Array.from(readNpy(f).values)).toEqual([0, 5, 63, 1]);
    const v2 = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }\n", Uint8Array.of(1, 2, 3), 2);
    expect(Array.from(readNpy(v2).values)).toEqual([1, 2, 3]);
  });

  it('refuses what it cannot read, with the file name in one line', () => {
    const ok = "{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }\n";
    const two = Uint8Array.of(1, 0, 2, 0);
    const cases: [Uint8Array, RegExp][] = [
      [ascii('PK\x03\x04 not numpy'), /not a \.npy file/],
      [NP_U2.subarray(0, 9), /not a \.npy file|truncated/],
      [NP_U2.subarray(0, 40), /truncated \.npy header/],
      [npy(ok, two, 4), /unsupported \.npy format version 4/],
      [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", two), /dtype <f4 is not an integer type/],
      [npy("{'descr': '<u2', 'fortran_order': True, 'shape': (2,), }\n", two), /Fortran-order/],
      [npy("{'descr': '<u2', 'shape': (2,), }\n", two), /malformed \.npy header/],
      [npy("['descr', '<u2']\n", two), /malformed \.npy header \(not a dict\)/],
      [npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2, x), }\n", two), /malformed \.npy shape/],
      [npy(ok, two.subarray(0, 3)), /needs 4 data bytes, file has 3/],
      [npy(ok, Uint8Array.of(1, 0, 2, 0, 9)), /needs 4 data bytes, file has 5/],
    ];
    for (const [bytes, re] of cases) {
      expect(() => readNpy(bytes, 'x.npy')).toThrow(re);
      expect(() => readNpy(bytes, 'x.npy')).toThrow(/^x\.npy: /);
    }
  });
});

const FP = 'ab'.repeat(32);
const MODEL = { name: 'm', fingerprint: FP, totalStride: 8, levels: [{ M: 2, K: 16, D: 4, stride: 4 }, { M: 3, K: 8, D: 4, stride: 8 }] };
const IMAGE = { width: 13, height: 7, channels: 3 as const, paddedWidth: 16, paddedHeight: 8 };

function sample(): TokenSet {
  const top = { M: 3, K: 8, h: 1, w: 2, indices: Uint16Array.of(0, 7, 1, 2, 3, 4) };
  const bottom = { M: 2, K: 16, h: 2, w: 4, indices: Uint16Array.from({ length: 16 }, (_, i) => 15 - i) };
  return makeTokenSet(MODEL, IMAGE, [top, bottom]);
}

/** The sample as an inline JSON object, patched. */
function doc(patch: (d: { [k: string]: unknown; levels: Record<string, unknown>[]; image: Record<string, unknown>; model: Record<string, unknown> }) => void): string {
  const d = JSON.parse(tokensToJson(sample()));
  patch(d);
  return JSON.stringify(d);
}

describe('token documents', () => {
  it('inline JSON round trip: nested [M][h][w] arrays, levels top first with strides', async () => {
    const set = sample();
    const text = tokensToJson(set);
    const raw = JSON.parse(text);
    expect(raw.format).toBe('dqcodec-tokens');
    expect(raw.levels.map((l: { stride: number }) => l.stride)).toEqual([8, 4]);
    expect(raw.levels[0].indices).toEqual([[[0, 7]], [[1, 2]], [[3, 4]]]);
    expect(raw.levels[1].indices[1][0]).toEqual([7, 6, 5, 4]);
    expect(await parseTokens(text, 't.json')).toEqual(set);
  });

  it('sidecar round trip through .npy arrays', async () => {
    const set = sample();
    const names = set.levels.map((_, i) => npyFileName('photo', i));
    expect(names).toEqual(['photo.level0.npy', 'photo.level1.npy']);
    const files = new Map(set.levels.map((lv, i) => [names[i], writeNpy(lv.indices, [lv.M, lv.h, lv.w])]));
    const loaded: string[] = [];
    const back = await parseTokens(tokensSidecarJson(set, names), 's.json', async (f) => (loaded.push(f), files.get(f)!));
    expect(back).toEqual(set);
    expect(loaded).toEqual(names);
    // Arrays saved by numpy as int64 (its default) are accepted too.
    const int64 = new Map(files);
    const i8 = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1, 2), }\n", new Uint8Array(new BigInt64Array([0n, 7n, 1n, 2n, 3n, 4n]).buffer));
    int64.set(names[0], i8);
    expect(await parseTokens(tokensSidecarJson(set, names), 's.json', async (f) => int64.get(f)!)).toEqual(set);
  });

  it('refuses malformed documents, naming the field', async () => {
    const cases: [string, RegExp][] = [
      ['{"format": "dqcodec-tokens", ', /not valid JSON/],
      ['[1, 2]', /field \(root\) must be an object/],
      [doc((d) => (d.format = 'other')), /field format must be "dqcodec-tokens"/],
      [doc((d) => (d.version = 2)), /field version must be 1/],
      [doc((d) => (d.model.fingerprint = 'xyz')), /field model\.fingerprint must be a lowercase hex SHA-256/],
      [doc((d) => delete d.image.paddedWidth), /field image\.paddedWidth must be an integer/],
      [doc((d) => (d.image.paddedWidth = 10)), /field image\.paddedWidth must be an integer in \[13,/],
      [doc((d) => (d.image.channels = 5)), /field image\.channels/],
      [doc((d) => (d.levels = [])), /field levels must be an array of 1 to/],
      [doc((d) => (d.levels[0].w = 3)), /field levels\[0\] is 3×1 at stride 8, but the padded image 16×8 needs 2×1/],
      [doc((d) => (d.levels[1].stride = 16)), /field levels\[1\] is 4×2 at stride 16/],
      [doc((d) => (d.levels[0].M = 2)), /field levels\[0\]\.indices must be an array of M = 2 planes \(got 3\)/],
      [doc((d) => ((d.levels[0].indices as unknown[][])[1] = [])), /field levels\[0\]\.indices\[1\] must be an array of h = 1 rows \(got 0\)/],
      [doc((d) => ((d.levels[1].indices as unknown[][][])[1][0] = [1, 2, 3])), /field levels\[1\]\.indices\[1\]\[0\] must be an array of w = 4 integers \(got 3\)/],
      [doc((d) => ((d.levels[1].indices as unknown[][][])[0][1][2] = 1.5)), /field levels\[1\]\.indices\[0\]\[1\]\[2\] must be an integer \(got 1\.5\)/],
      [doc((d) => ((d.levels[1].indices as unknown[][][])[0][1][2] = '3')), /must be an integer \(got "3"\)/],
      [doc((d) => delete d.levels[0].indices), /must have exactly one of "indices" \(inline\) and "file" \(\.npy\)/],
      [doc((d) => (d.levels[0].file = 'x.npy')), /must have exactly one of/],
      [doc((d) => ((d.levels[0].indices = undefined), (d.levels[0].file = '../x.npy'))), /field levels\[0\]\.file must be the name of a \.npy file next to the document/],
    ];
    for (const [text, re] of cases) {
      const msg = await message(parseTokens(text, 't.json', async () => new Uint8Array(0)));
      expect(msg, text.slice(0, 200)).toMatch(re);
      expect(msg).toMatch(/^t\.json: /);
      expect(msg).not.toContain('\n');
    }
    const swapped = doc((d) => (d.levels = [d.levels[1], d.levels[0]]));
    expect(await message(parseTokens(swapped, 't.json'))).toMatch(/levels\[1\]\.stride must be smaller than levels\[0\]\.stride/);
    expect(await message(parseTokens(doc((d) => ((d.levels[0].indices = undefined), (d.levels[0].file = 'a.npy'))), 't.json'))).toMatch(/no way to load files/);
  });

  it('refuses out-of-range indices, inline and in .npy', async () => {
    const inline = doc((d) => ((d.levels[0].indices as number[][][])[2][0][1] = 8));
    expect(await code(parseTokens(inline, 't.json'))).toBe('BAD_INDICES');
    expect(await message(parseTokens(inline, 't.json'))).toMatch(/levels\[0\]\.indices\[2\]\[0\]\[1\] = 8 is outside \[0, 8\)/);
    expect(await message(parseTokens(doc((d) => ((d.levels[1].indices as number[][][])[0][0][0] = -1)), 't.json'))).toMatch(/= -1 is outside \[0, 16\)/);
    const set = sample();
    const names = ['p.level0.npy', 'p.level1.npy'];
    const sidecar = tokensSidecarJson(set, names);
    const arrays = (top: Uint8Array) => async (f: string) => (f === names[0] ? top : writeNpy(set.levels[1].indices, [2, 2, 4]));
    const big = writeNpy(Uint16Array.of(0, 7, 1, 2, 3, 9), [3, 1, 2]);
    expect(await code(parseTokens(sidecar, 's.json', arrays(big)))).toBe('BAD_INDICES');
    expect(await message(parseTokens(sidecar, 's.json', arrays(big)))).toMatch(/^p\.level0\.npy: \[2, 0, 1\] = 9 is outside \[0, 8\)/);
    const negative = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1, 2), }\n", new Uint8Array(new BigInt64Array([0n, 7n, 1n, -2n, 3n, 4n]).buffer));
    expect(await message(parseTokens(sidecar, 's.json', arrays(negative)))).toMatch(/\[1, 0, 1\] = -2 is outside/);
    const shape = writeNpy(Uint16Array.of(0, 7, 1, 2, 3, 4), [3, 2, 1]);
    expect(await message(parseTokens(sidecar, 's.json', arrays(shape)))).toMatch(/^p\.level0\.npy: shape \(3, 2, 1\) does not match levels\[0\] of s\.json: \(M, h, w\) = \(3, 1, 2\)/);
    expect(await code(parseTokens(sidecar, 's.json', arrays(ascii('garbage garbage'))))).toBe('BAD_TOKENS');
  });

  it('refuses tokens of another model or with shapes the model cannot decode', async () => {
    const set = sample();
    expect(() => checkTokensForModel(set, MODEL)).not.toThrow();
    const other = { ...MODEL, name: 'other', fingerprint: 'cd'.repeat(32) };
    expect(() => checkTokensForModel(set, other, 't.json')).toThrow(/^t\.json: tokens were made by another model \(m, fingerprint abababab.*the loaded model other is cdcdcdcd/);
    expect(await code(() => checkTokensForModel(set, other))).toBe('MODEL_MISMATCH');
    expect(await code(() => checkTokensForModel(set, { ...MODEL, totalStride: 16 }))).toBe('BAD_TOKENS');
    expect(() => checkTokensForModel(set, { ...MODEL, totalStride: 16 })).toThrow(/padded size 16×8 is not 13×7 rounded up to the model's stride 16/);
    expect(() => checkTokensForModel(set, { ...MODEL, levels: [MODEL.levels[1]] })).toThrow(/has 2 levels but model m has 1/);
    const wrongK = { ...MODEL, levels: [MODEL.levels[0], { ...MODEL.levels[1], K: 16 }] };
    expect(() => checkTokensForModel(set, wrongK)).toThrow(/level 0 \(M=3, K=8, stride 8\) does not fit model m \(M=3, K=16, stride 8\)/);
  });
});
