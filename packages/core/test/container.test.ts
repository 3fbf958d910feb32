import { describe, expect, it } from 'vitest';
import { DqcError, MAX_HEADER_BYTES, readContainer, readHeader, writeContainer, type HeaderFields } from '../src/index.js';
import { errorCode, FINGERPRINT, headerLength, levelRecord, patchHeader, smallFile } from './helpers.js';

const FIELDS: HeaderFields = {
  fingerprint: FINGERPRINT,
  width: 100,
  height: 60,
  channels: 3,
  paddedWidth: 112,
  paddedHeight: 64,
  method: 'context',
  tablesCrc: 0xdeadbeef,
  levels: [
    { M: 8, h: 4, w: 7, K: 512 },
    { M: 4, h: 16, w: 28, K: 1024 },
  ],
};

describe('container round trip', () => {
  it('writes and reads back header fields and streams', () => {
    const streams = [new Uint8Array([1, 2, 3]), new Uint8Array(0)];
    const file = writeContainer(FIELDS, streams);
    const { header, streams: back } = readContainer(file);
    expect(header).toMatchObject({ ...FIELDS, levels: FIELDS.levels.map((l) => expect.objectContaining(l)), version: 1 });
    expect(back).toEqual(streams);
    expect(header.levels[0].streamOffset).toBe(header.headerLength);
    expect(header.levels[1].streamOffset).toBe(header.headerLength + 3);
    expect(header.totalLength).toBe(file.length);
  });

  it('readHeader needs only the header bytes, which never exceed MAX_HEADER_BYTES', () => {
    const file = writeContainer(FIELDS, [new Uint8Array(1000), new Uint8Array(1000)]);
    const header = readHeader(file.subarray(0, headerLength(file)));
    expect(header.levels[1].streamLength).toBe(1000);
    const biggest = writeContainer(
      { ...FIELDS, fingerprint: 'f'.repeat(128), paddedWidth: 2 ** 8, paddedHeight: 2 ** 8, width: 200, height: 200, levels: Array.from({ length: 8 }, (_, i) => ({ M: 1, h: 2 ** (i + 1), w: 2 ** (i + 1), K: 2 })) },
      Array.from({ length: 8 }, () => new Uint8Array(0)),
    );
    expect(biggest.length).toBe(MAX_HEADER_BYTES);
  });

  it('writer refuses headers the reader would reject', () => {
    expect(errorCode(() => writeContainer({ ...FIELDS, channels: 5 }, [new Uint8Array(0), new Uint8Array(0)]))).toBe('BAD_HEADER');
    expect(errorCode(() => writeContainer(FIELDS, [new Uint8Array(0)]))).toBe('BAD_HEADER');
    expect(errorCode(() => writeContainer({ ...FIELDS, fingerprint: 'has space' }, [new Uint8Array(0), new Uint8Array(0)]))).toBe('BAD_HEADER');
    expect(errorCode(() => writeContainer({ ...FIELDS, width: 2 ** 20, height: 2 ** 20 }, [new Uint8Array(0), new Uint8Array(0)]))).toBe('ABSURD_SIZE');
  });
});

describe('container corruption', () => {
  const file = smallFile();
  const hl = headerLength(file);

  it('truncation at every byte offset throws DqcError TRUNCATED', () => {
    for (let n = 0; n < file.length; n++) {
      expect(errorCode(() => readContainer(file.subarray(0, n)))).toBe('TRUNCATED');
    }
  });

  it('every single-bit flip in the header is detected', () => {
    const seen = new Set<string>();
    for (let byte = 0; byte < hl; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = file.slice();
        bad[byte] ^= 1 << bit;
        const code = errorCode(() => readContainer(bad));
        seen.add(code);
        if (byte < 4) expect(code).toBe('BAD_MAGIC');
        else if (byte < 6) expect(code).toBe('UNSUPPORTED_VERSION');
        else if (byte >= 8) expect(code).toBe('HEADER_CRC');
        else expect(['BAD_HEADER', 'TRUNCATED', 'HEADER_CRC']).toContain(code);
      }
    }
    expect(seen).toEqual(new Set(['BAD_MAGIC', 'UNSUPPORTED_VERSION', 'BAD_HEADER', 'HEADER_CRC']));
  });

  it('every single-bit flip in a stream is STREAM_CRC', () => {
    for (let byte = hl; byte < file.length; byte++) {
      const bad = file.slice();
      bad[byte] ^= 0x10;
      expect(errorCode(() => readContainer(bad))).toBe('STREAM_CRC');
    }
  });

  it('trailing bytes are TRAILING_DATA', () => {
    const longer = new Uint8Array(file.length + 1);
    longer.set(file);
    expect(errorCode(() => readContainer(longer))).toBe('TRAILING_DATA');
  });

  it('non-dqc input is BAD_MAGIC', () => {
    expect(errorCode(() => readContainer(new TextEncoder().encode('\x89PNG\r\n\x1a\n....')))).toBe('BAD_MAGIC');
  });
});

describe('header validation (with a valid CRC, so the checks themselves are exercised)', () => {
  const file = smallFile();
  const codeOf = (patch: Parameters<typeof patchHeader>[1]): string => errorCode(() => readContainer(patchHeader(file, patch)));

  it('absurd image sizes are rejected before anything is allocated', () => {
    expect(codeOf((v) => (v.setUint32(12, 0xffffffff, true), v.setUint32(16, 0xffffffff, true)))).toBe('ABSURD_SIZE');
    expect(codeOf((v) => (v.setUint32(20, 1 << 20, true), v.setUint32(24, 1 << 20, true)))).toBe('ABSURD_SIZE');
    // Level maps consistent with a huge padded size, and M = 256: 2^38 indices.
    const huge = (v: DataView, fp: number): void => {
      v.setUint32(20, 1 << 16, true);
      v.setUint32(24, 1 << 12, true);
      v.setUint16(levelRecord(fp, 0), 256, true);
      v.setUint32(levelRecord(fp, 0) + 2, 1 << 9, true);
      v.setUint32(levelRecord(fp, 0) + 6, 1 << 13, true);
      v.setUint32(levelRecord(fp, 1) + 2, 1 << 10, true);
      v.setUint32(levelRecord(fp, 1) + 6, 1 << 14, true);
    };
    expect(errorCode(() => readContainer(patchHeader(file, huge), { maxPixels: 2 ** 40 }))).toBe('ABSURD_SIZE');
    expect(errorCode(() => readContainer(file, { maxIndices: 100 }))).toBe('ABSURD_SIZE');
    expect(errorCode(() => readContainer(file, { maxPixels: 999 }))).toBe('ABSURD_SIZE');
  });

  it('inconsistent level shapes are BAD_HEADER', () => {
    expect(codeOf((v, fp) => v.setUint32(levelRecord(fp, 0) + 2, 5, true))).toBe('BAD_HEADER'); // h does not divide
    expect(codeOf((v, fp) => v.setUint32(levelRecord(fp, 1) + 6, 4, true))).toBe('BAD_HEADER'); // w gives another stride than h
    expect(codeOf((v, fp) => (v.setUint32(levelRecord(fp, 0) + 2, 8, true), v.setUint32(levelRecord(fp, 0) + 6, 8, true)))).toBe('BAD_HEADER'); // not top first
    expect(codeOf((v, fp) => v.setUint16(levelRecord(fp, 0), 0, true))).toBe('BAD_HEADER'); // M = 0
    expect(codeOf((v, fp) => v.setUint32(levelRecord(fp, 0) + 10, 1, true))).toBe('BAD_HEADER'); // K = 1
    expect(codeOf((v, fp) => v.setUint32(levelRecord(fp, 0) + 10, 65537, true))).toBe('BAD_HEADER');
    expect(codeOf((v) => v.setUint32(12, 33, true))).toBe('BAD_HEADER'); // width > padded width
    expect(codeOf((v) => v.setUint32(12, 0, true))).toBe('BAD_HEADER');
  });

  it('other bad fields', () => {
    expect(codeOf((v) => v.setUint8(8, 0))).toBe('BAD_HEADER'); // channels
    expect(codeOf((v) => v.setUint8(8, 5))).toBe('BAD_HEADER');
    expect(codeOf((v) => v.setUint8(10, 9))).toBe('UNSUPPORTED_VERSION'); // unknown entropy method
    expect(codeOf((v) => v.setUint8(32, 0x20))).toBe('BAD_HEADER'); // space in fingerprint
    expect(codeOf((v) => v.setUint8(9, 3))).toBe('BAD_HEADER'); // level count disagrees with header length
    expect(codeOf((v) => v.setUint16(4, 2, true))).toBe('UNSUPPORTED_VERSION');
  });

  it('a stream length beyond the end of the file is TRUNCATED', () => {
    expect(codeOf((v, fp) => v.setUint32(levelRecord(fp, 1) + 14, 0xffffffff, true))).toBe('TRUNCATED');
  });

  it('errors carry a one-line message', () => {
    try {
      readContainer(file.subarray(0, 10));
    } catch (e) {
      expect(e).toBeInstanceOf(DqcError);
      expect((e as DqcError).message).toMatch(/^[^\n]+$/);
    }
  });
});
