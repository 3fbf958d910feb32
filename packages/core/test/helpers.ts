import { crc32, encodeIndices, type ImageMeta, type LevelIndices } from '../src/index.js';
import { randomMap } from './synthetic.js';

export const FINGERPRINT = 'a'.repeat(64);

/** A small two-level file: 32×32 padded image, top 4×4 (stride 8), bottom 8×8 (stride 4). */
export function smallLevels(seed = 1): LevelIndices[] {
  return [randomMap(2, 4, 4, 16, seed), randomMap(3, 8, 8, 32, seed + 1)];
}

export const SMALL_META: ImageMeta = { fingerprint: FINGERPRINT, width: 30, height: 27, channels: 3, paddedWidth: 32, paddedHeight: 32 };

export function smallFile(seed = 1): Uint8Array {
  return encodeIndices(smallLevels(seed), SMALL_META);
}

export function headerLength(file: Uint8Array): number {
  return new DataView(file.buffer, file.byteOffset).getUint16(6, true);
}

/** Copy `file`, let `patch` edit the header through a DataView, then fix the header CRC. */
export function patchHeader(file: Uint8Array, patch: (v: DataView, fpLength: number) => void): Uint8Array {
  const out = file.slice();
  const v = new DataView(out.buffer);
  patch(v, out[11]);
  const hl = v.getUint16(6, true);
  v.setUint32(hl - 4, crc32(out, 0, hl - 4), true);
  return out;
}

/** Offset of level i's record in the header. */
export function levelRecord(fpLength: number, i: number): number {
  return 32 + fpLength + 22 * i;
}

/** Run fn and return the DqcError code it throws (fails the test on success or another error type). */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error && e.name === 'DqcError') return (e as Error & { code: string }).code;
    throw e;
  }
  throw new Error('expected a DqcError, but the call succeeded');
}
