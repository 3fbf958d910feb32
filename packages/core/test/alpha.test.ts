import { describe, expect, it } from 'vitest';
import { decodeAlphaPlane, decodeIndices, encodeAlphaPlane, encodeIndices, readContainer, readHeader, writeContainer } from '../src/index.js';
import { errorCode, FINGERPRINT, SMALL_META, smallLevels } from './helpers.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A typical alpha mask: opaque disc on transparent ground with an anti-aliased edge. */
function disc(w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(x - w / 2, y - h / 2) - Math.min(w, h) / 3;
      a[y * w + x] = Math.round(255 * Math.min(1, Math.max(0, 0.5 - d / 2)));
    }
  }
  return a;
}

describe('alpha plane coding (format §6.6)', () => {
  it('round-trips noise, masks, gradients and tiny planes exactly', () => {
    const rand = lcg(5);
    const cases: [number, number, Uint8Array][] = [
      [1, 1, new Uint8Array([77])],
      [1, 37, Uint8Array.from({ length: 37 }, () => rand() * 256)],
      [37, 1, Uint8Array.from({ length: 37 }, (_, i) => (i * 7) & 255)],
      [64, 48, Uint8Array.from({ length: 64 * 48 }, () => rand() * 256)],
      [64, 48, disc(64, 48)],
      [50, 30, Uint8Array.from({ length: 1500 }, (_, i) => (i % 50) * 5)],
    ];
    for (const [w, h, a] of cases) expect(decodeAlphaPlane(encodeAlphaPlane(a, w, h), w, h)).toEqual(a);
  });

  it('codes constant planes in 2 bytes and masks compactly', () => {
    expect(encodeAlphaPlane(new Uint8Array(1000).fill(255), 40, 25)).toEqual(new Uint8Array([0, 255]));
    const mask = disc(256, 256);
    const bits = (encodeAlphaPlane(mask, 256, 256).length * 8) / mask.length;
    expect(bits).toBeLessThan(0.2); // ~1100 anti-aliased edge pixels at ~8 bits; PNG needs 0.4
  });

  it('rejects unknown methods and malformed constant payloads', () => {
    expect(errorCode(() => decodeAlphaPlane(new Uint8Array([9, 1]), 2, 2))).toBe('UNSUPPORTED_VERSION');
    expect(errorCode(() => decodeAlphaPlane(new Uint8Array([0, 1, 2]), 2, 2))).toBe('CORRUPT_STREAM');
    expect(errorCode(() => decodeAlphaPlane(new Uint8Array([]), 2, 2))).toBe('CORRUPT_STREAM');
  });

  it('garbage adaptive payloads never hang: they decode or fail with CORRUPT_STREAM', () => {
    const rand = lcg(9);
    for (let t = 0; t < 20; t++) {
      const p = Uint8Array.from({ length: 1 + (t % 7) * 3 }, () => rand() * 256);
      p[0] = 1;
      try {
        expect(decodeAlphaPlane(p, 17, 13)).toHaveLength(17 * 13);
      } catch (e) {
        expect(errorCode(() => decodeAlphaPlane(p, 17, 13))).toBe('CORRUPT_STREAM');
      }
    }
  });
});

describe('alpha section in the container (format §2.3)', () => {
  const levels = smallLevels(4);
  const alpha = disc(SMALL_META.width, SMALL_META.height);
  const meta4 = { ...SMALL_META, channels: 4 };

  it('4- and 2-channel files carry the plane; decode returns it exactly', () => {
    for (const channels of [2, 4]) {
      const file = encodeIndices(levels, { ...SMALL_META, channels }, undefined, { alpha });
      const d = decodeIndices(file, { expectedFingerprint: FINGERPRINT });
      expect(d.alpha).toEqual(alpha);
      expect(d.levels).toEqual(levels);
      const c = readContainer(file);
      expect(c.alpha?.[0]).toBe(1);
      expect(file.length).toBe(readHeader(file).totalLength + 8 + (c.alpha?.length ?? 0));
    }
    const rgb = encodeIndices(levels, SMALL_META);
    expect(decodeIndices(rgb).alpha).toBeNull();
  });

  it('previews skip the alpha section unless asked for it', () => {
    const file = encodeIndices(levels, meta4, undefined, { alpha });
    const h = readHeader(file);
    const prefix = file.subarray(0, h.levels[0].streamOffset + h.levels[0].streamLength);
    expect(decodeIndices(prefix, { maxLevels: 1 }).alpha).toBeNull();
    expect(decodeIndices(file, { maxLevels: 1, alpha: true }).alpha).toEqual(alpha);
  });

  it('alpha must be given exactly when channels say so', () => {
    expect(errorCode(() => encodeIndices(levels, meta4))).toBe('BAD_HEADER');
    expect(errorCode(() => encodeIndices(levels, SMALL_META, undefined, { alpha }))).toBe('BAD_HEADER');
    expect(errorCode(() => encodeIndices(levels, meta4, undefined, { alpha: alpha.subarray(1) }))).toBe('BAD_HEADER');
    expect(errorCode(() => writeContainer({ ...meta4, method: 'context', tablesCrc: 0, levels }, [new Uint8Array(0), new Uint8Array(0)]))).toBe('BAD_HEADER');
  });

  it('truncated, corrupt and trailing alpha sections get precise errors', () => {
    const file = encodeIndices(levels, meta4, undefined, { alpha });
    const end = readHeader(file).totalLength;
    for (const n of [end, end + 4, end + 8, file.length - 1]) expect(errorCode(() => decodeIndices(file.subarray(0, n)))).toBe('TRUNCATED');
    const bad = file.slice();
    bad[file.length - 1] ^= 0x40;
    expect(errorCode(() => decodeIndices(bad))).toBe('STREAM_CRC');
    expect(errorCode(() => readContainer(bad))).toBe('STREAM_CRC');
    const longer = new Uint8Array(file.length + 1);
    longer.set(file);
    expect(errorCode(() => decodeIndices(longer))).toBe('TRAILING_DATA');
    expect(errorCode(() => readContainer(longer))).toBe('TRAILING_DATA');
  });
});
