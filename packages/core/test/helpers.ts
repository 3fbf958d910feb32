import { crc32, encodeIndices, priorLevelToJson, type ImageMeta, type LevelIndices, type PriorTables } from '../src/index.js';
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

/**
 * A learned prior ('conditional' method) estimated by counting, as training does: per level (top
 * first) and codebook, counts of each code under its context (the co-located code of the level
 * above, codebook m mod M_p), + ½ each, scaled to rows of u16 summing to 65536.
 */
export function priorTablesFrom(samples: LevelIndices[][]): PriorTables {
  const first = samples[0];
  const levelsTopFirst = first.map((lv, i) => {
    const C = i === 0 ? 1 : first[i - 1].K;
    const counts = new Float64Array(lv.M * C * lv.K);
    for (const s of samples) {
      const map = s[i];
      const parent = i > 0 ? s[i - 1] : null;
      for (let m = 0; m < map.M; m++) {
        for (let y = 0; y < map.h; y++) {
          for (let x = 0; x < map.w; x++) {
            const c = parent ? parent.indices[((m % parent.M) * parent.h + Math.floor((y * parent.h) / map.h)) * parent.w + Math.floor((x * parent.w) / map.w)] : 0;
            counts[(m * C + c) * map.K + map.indices[(m * map.h + y) * map.w + x]]++;
          }
        }
      }
    }
    const freq = new Uint16Array(counts.length);
    const K = lv.K;
    for (let r = 0; r < counts.length; r += K) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += counts[r + k] + 0.5;
      let used = 0;
      for (let k = 0; k < K; k++) used += freq[r + k] = 1 + Math.floor(((counts[r + k] + 0.5) / sum) * (65536 - K));
      freq[r] += 65536 - used;
    }
    return priorLevelToJson(lv.M, K, C, freq);
  });
  return { format: 'dqc-prior', version: 1, levelsTopFirst };
}
