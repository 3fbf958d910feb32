/**
 * Valid base files for the pure-TS fuzz cases, generated from fixed seeds: all four entropy
 * methods, trained and default tables, every channel count (so both alpha payload methods),
 * 1×1 and 1-pixel-wide images, K from 2 to 65536, up to three levels.
 */
import { buildEntropyTables, coefficientTablesFor, encodeIndices, type EntropyMethod, type ImageMeta, type LevelIndices, type ModelTables } from '../../src/index.js';
import { priorTablesFrom } from '../helpers.js';
import { coefMap, iidMap, SMOOTH_SCENE, SynthModel } from '../synthetic.js';
import { CORE_FINGERPRINT, type BaseFile } from './harness.js';

function meta(width: number, height: number, channels: number, paddedWidth: number, paddedHeight: number): ImageMeta {
  return { fingerprint: CORE_FINGERPRINT, width, height, channels, paddedWidth, paddedHeight };
}

/** An alpha plane with flat areas, an edge and a noisy band (exercises every alpha branch). */
function alphaPlane(width: number, height: number): Uint8Array {
  return Uint8Array.from({ length: width * height }, (_, i) => {
    const x = i % width;
    const y = Math.floor(i / width);
    if (x < width / 5) return (x * 37 + y * 91) & 255;
    return x + y < (width + height) / 2 ? 255 : 0;
  });
}

function file(name: string, levels: LevelIndices[], m: ImageMeta, method: EntropyMethod, tables?: ModelTables, alpha?: Uint8Array): BaseFile {
  return { name, bytes: encodeIndices(levels, m, tables, { method, alpha }), tables };
}

let cached: BaseFile[] | null = null;

export function coreCorpus(): BaseFile[] {
  if (cached) return cached;
  // Structured maps (like a real model's) at strides 4 and 8 of a 128×128 padded image.
  const synth = new SynthModel([{ M: 4, K: 64, D: 4, rel: 1 }, { M: 4, K: 64, D: 4, rel: 2 }], SMOOTH_SCENE, 7, 32);
  const tables = buildEntropyTables([1, 2, 3].map((s) => synth.sample(100 + s)), [{ M: 4, K: 64 }, { M: 4, K: 64 }]);
  const photo = synth.sample(200);
  const small = (seed: number): LevelIndices[] => [iidMap(2, 4, 4, 16, seed), iidMap(3, 8, 8, 32, seed + 1)];
  const tiny = [iidMap(2, 1, 1, 16, 5), iidMap(2, 2, 2, 16, 6)];
  const strip = [iidMap(2, 25, 1, 16, 7), iidMap(2, 50, 2, 16, 8)];
  const coefficients = coefficientTablesFor([
    { M: 3, K: 2048, predict: 'med' },
    { M: 12, K: 65536, predict: 'none' },
  ]);
  const dct = [coefMap(3, 8, 8, 2048, 12, { smooth: 40, zeros: 0.7 }), coefMap(12, 16, 16, 65536, 13, { zeros: 0.85, scale: 2 })];
  const wide = [iidMap(1, 3, 4, 65536, 9, 9, 0.6), iidMap(16, 6, 8, 2, 10), iidMap(3, 12, 16, 300, 11)];
  cached = [
    file('context+tables', photo, meta(125, 120, 3, 128, 128), 'context', tables),
    file('static+tables', photo, meta(128, 128, 3, 128, 128), 'static', tables),
    file('coefficient (transform model)', dct, meta(126, 128, 3, 128, 128), 'coefficient', coefficients),
    file('conditional (learned prior)', photo, meta(127, 128, 3, 128, 128), 'conditional', priorTablesFrom([1, 2, 3].map((s) => synth.sample(100 + s)))),
    file('context, grey', small(1), meta(30, 27, 1, 32, 32), 'context'),
    file('static, grey', small(2), meta(32, 32, 1, 32, 32), 'static'),
    file('RGBA', small(3), meta(29, 31, 4, 32, 32), 'context', undefined, alphaPlane(29, 31)),
    file('grey+alpha, constant', small(4), meta(32, 30, 2, 32, 32), 'context', undefined, new Uint8Array(32 * 30).fill(200)),
    file('1×1', tiny, meta(1, 1, 3, 8, 8), 'context'),
    file('1×200 strip', strip, meta(1, 200, 3, 8, 200), 'context'),
    file('3 levels, K 2..65536', wide, meta(60, 45, 3, 64, 48), 'context'),
  ];
  return cached;
}
