/**
 * Learning entropy tables from training index maps (run by the model exporter; the result ships
 * in manifest.json). Pure TS so it can also run in tests and in the browser.
 */
import { DqcError } from '../errors.js';
import { Neighbourhood } from './context.js';
import { checkedIndices } from './model.js';
import type { CompiledLevelTables, EntropyTables } from './tables.js';
import { levelTablesToJson, MAX_SUCCESSORS, NUM_CONTEXTS, rankAlphabet } from './tables.js';
import type { LevelIndices, LevelIndicesInput, LevelSpec } from './types.js';

export interface BuildTablesOptions {
  /** Successor codes listed per code (0..16, default 8): larger = better compression, bigger tables (M·K·T u16 per level). */
  successors?: number;
}

export const DEFAULT_SUCCESSORS = 8;

/**
 * Build tables from `samples` (one entry per training image, each its levels TOP first) for
 * levels shaped as `levelSpecs` (top first). Map sizes may differ between images.
 */
export function buildEntropyTables(samples: LevelIndicesInput[][], levelSpecs: LevelSpec[], options: BuildTablesOptions = {}): EntropyTables {
  const T0 = options.successors ?? DEFAULT_SUCCESSORS;
  if (!Number.isInteger(T0) || T0 < 0 || T0 > MAX_SUCCESSORS) {
    throw new DqcError('BAD_TABLES', `successors must be an integer in [0, ${MAX_SUCCESSORS}] (got ${T0})`);
  }
  const levelsTopFirst = levelSpecs.map((spec, l) => {
    const maps = samples.map((s, i) => checkSample(s, l, i, spec, levelSpecs.length));
    const T = Math.min(T0, spec.K - 1);
    const succ = successorLists(maps, spec, T);
    const literal = literalCounts(maps, spec);
    const base: CompiledLevelTables = { M: spec.M, K: spec.K, T, isDefault: false, literal, rank: new Uint16Array(0), succ };
    return levelTablesToJson({ ...base, rank: rankCounts(maps, base) });
  });
  return { format: 'dqc-entropy', version: 1, levelsTopFirst };
}

function checkSample(sample: LevelIndicesInput[], l: number, i: number, spec: LevelSpec, levels: number): LevelIndices {
  if (sample.length !== levels) throw new DqcError('BAD_INDICES', `sample ${i} has ${sample.length} levels, expected ${levels}`);
  const lv = sample[l];
  if (lv.M !== spec.M || lv.K !== spec.K) {
    throw new DqcError('BAD_INDICES', `sample ${i} level ${l} has M=${lv.M}, K=${lv.K}; expected M=${spec.M}, K=${spec.K}`);
  }
  return { M: lv.M, h: lv.h, w: lv.w, K: lv.K, indices: checkedIndices(lv, `sample ${i} level ${l}`) };
}

/** Normalise counts to u16 table entries 1 + floor(c·S/N), S chosen so entries stay ≤ 65535. */
function toTable(counts: Float64Array, out: Uint16Array, offset: number): void {
  const n = counts.length;
  const S = Math.max(0, 65535 - n);
  let N = 0;
  for (let i = 0; i < n; i++) N += counts[i];
  for (let i = 0; i < n; i++) out[offset + i] = 1 + (N > 0 ? Math.floor((counts[i] * S) / N) : 0);
}

function literalCounts(maps: LevelIndices[], spec: LevelSpec): Uint16Array {
  const { M, K } = spec;
  const out = new Uint16Array(M * K);
  for (let m = 0; m < M; m++) {
    const c = new Float64Array(K);
    for (const lv of maps) {
      const hw = lv.h * lv.w;
      for (let i = m * hw; i < (m + 1) * hw; i++) c[lv.indices[i]]++;
    }
    toTable(c, out, m * K);
  }
  return out;
}

/**
 * For each code, the T codes most often found left/right/above/below it (excluding itself),
 * most frequent first, ties to the smaller code; short lists are padded with the code itself
 * (a duplicate the candidate list drops). Counted sparsely so K = 65536 stays affordable.
 */
function successorLists(maps: LevelIndices[], spec: LevelSpec, T: number): Uint16Array {
  const { M, K } = spec;
  const out = new Uint16Array(M * K * T);
  if (T === 0) return out;
  for (let m = 0; m < M; m++) {
    const pairs = new Map<number, number>();
    const bump = (a: number, b: number): void => {
      if (a === b) return;
      pairs.set(a * K + b, (pairs.get(a * K + b) ?? 0) + 1);
      pairs.set(b * K + a, (pairs.get(b * K + a) ?? 0) + 1);
    };
    for (const lv of maps) {
      const o = m * lv.h * lv.w;
      for (let y = 0; y < lv.h; y++) {
        for (let x = 0; x < lv.w; x++) {
          const i = o + y * lv.w + x;
          if (x > 0) bump(lv.indices[i - 1], lv.indices[i]);
          if (y > 0) bump(lv.indices[i - lv.w], lv.indices[i]);
        }
      }
    }
    const rows = new Map<number, [number, number][]>();
    for (const [key, count] of pairs) {
      const a = Math.floor(key / K);
      let row = rows.get(a);
      if (!row) rows.set(a, (row = []));
      row.push([key - a * K, count]);
    }
    for (let a = 0; a < K; a++) {
      const row = (rows.get(a) ?? []).sort((p, q) => q[1] - p[1] || p[0] - q[0]);
      for (let t = 0; t < T; t++) out[(m * K + a) * T + t] = t < row.length ? row[t][0] : a;
    }
  }
  return out;
}

/** How often, per rank context, the code was the j-th candidate (slot 1+j) or none (slot 0). */
function rankCounts(maps: LevelIndices[], tables: CompiledLevelTables): Uint16Array {
  const A = rankAlphabet(tables.T);
  const counts = new Float64Array(NUM_CONTEXTS * A);
  for (const lv of maps) {
    const nb = new Neighbourhood(lv, tables);
    for (let m = 0; m < lv.M; m++) {
      nb.startCodebook();
      for (let y = 0; y < lv.h; y++) {
        for (let x = 0; x < lv.w; x++) {
          const sym = lv.indices[(m * lv.h + y) * lv.w + x];
          nb.gather(lv.indices, m, y, x);
          if (nb.n > 0) {
            let slot = 0;
            for (let j = 0; j < nb.n; j++) if (nb.cand[j] === sym) slot = 1 + j;
            counts[nb.ctx * A + slot]++;
          }
          nb.record(lv.indices, m, y, x, sym);
        }
      }
    }
  }
  const out = new Uint16Array(NUM_CONTEXTS * A);
  for (let c = 0; c < NUM_CONTEXTS; c++) toTable(counts.subarray(c * A, (c + 1) * A), out, c * A);
  return out;
}
