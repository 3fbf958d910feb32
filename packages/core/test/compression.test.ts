/**
 * Compression on synthetic data (see synthetic.ts for how maps are made). Prints bits per index
 * for each model variant and asserts loose bounds that a broken or badly tuned model would miss.
 * Real index maps from the trained model are measured separately; these numbers only show the
 * model exploits the kinds of redundancy real maps have.
 */
import { describe, expect, it } from 'vitest';
import { buildEntropyTables, encodeIndices, decodeIndices, type EntropyTables, type LevelIndices } from '../src/index.js';
import { BUSY_SCENE, iidMap, SMOOTH_SCENE, SynthModel, type SceneOptions } from './synthetic.js';

const LEVELS = [
  { M: 8, K: 512, D: 4, rel: 1 },
  { M: 8, K: 512, D: 4, rel: 2 },
];
const SPECS = [{ M: 8, K: 512 }, { M: 8, K: 512 }];
const LOG2K = 9;

function meta(levels: LevelIndices[]) {
  const side = levels[levels.length - 1].w * 4;
  return { fingerprint: 'synthetic', width: side, height: side, channels: 3, paddedWidth: side, paddedHeight: side };
}

/** Bits per index of the streams (header excluded) over a test set, checking exact decoding. */
function bitsPerIndex(test: LevelIndices[][], tables: EntropyTables | undefined, method: 'static' | 'context'): number {
  let bits = 0;
  let n = 0;
  for (const levels of test) {
    const file = encodeIndices(levels, meta(levels), tables, { method });
    const { header, levels: back } = decodeIndices(file, { tables });
    expect(back).toEqual(levels);
    bits += (file.length - header.headerLength) * 8;
    n += levels.reduce((s, l) => s + l.indices.length, 0);
  }
  return bits / n;
}

interface Row {
  static: number;
  context: number;
  contextNoSucc: number;
  contextNoTables: number;
}

function measure(name: string, train: LevelIndices[][], test: LevelIndices[][], specs = SPECS): Row {
  const tables = buildEntropyTables(train, specs);
  const noSucc = buildEntropyTables(train, specs, { successors: 0 });
  const row: Row = {
    static: bitsPerIndex(test, tables, 'static'),
    context: bitsPerIndex(test, tables, 'context'),
    contextNoSucc: bitsPerIndex(test, noSucc, 'context'),
    contextNoTables: bitsPerIndex(test, undefined, 'context'),
  };
  const f = (v: number): string => `${v.toFixed(3)} (${((100 * v) / LOG2K).toFixed(0)}% of log2K)`;
  console.log(
    `[compression] ${name}: static ${f(row.static)} | context ${f(row.context)} | context, no successors ${f(row.contextNoSucc)} | context, no tables ${f(row.contextNoTables)}`,
  );
  return row;
}

const cache = new Map<number, { train: LevelIndices[][]; test: LevelIndices[][] }>();

function synthetic(scene: SceneOptions, seed: number): { train: LevelIndices[][]; test: LevelIndices[][] } {
  const hit = cache.get(seed);
  if (hit) return hit;
  const model = new SynthModel(LEVELS, scene, seed, 40);
  const data = {
    train: Array.from({ length: 6 }, (_, i) => model.sample(seed * 100 + i)),
    test: Array.from({ length: 3 }, (_, i) => model.sample(seed * 100 + 50 + i)),
  };
  cache.set(seed, data);
  return data;
}

describe('compression on synthetic index maps (K=512, M=8, two levels)', () => {
  it('smooth scenes: context model far below static and log2 K', () => {
    const { train, test } = synthetic(SMOOTH_SCENE, 7);
    const r = measure('smooth scenes', train, test);
    expect(r.context).toBeLessThan(0.4 * LOG2K);
    expect(r.context).toBeLessThan(0.5 * r.static);
    expect(r.context).toBeLessThan(r.contextNoTables);
  });

  it('busy scenes: context model within the 0.8·log2 K target, successors help', () => {
    const { train, test } = synthetic(BUSY_SCENE, 8);
    const r = measure('busy scenes', train, test);
    expect(r.context).toBeLessThan(0.8 * LOG2K);
    expect(r.context).toBeLessThan(r.contextNoSucc);
    expect(r.context).toBeLessThan(r.static);
  });

  it('i.i.d. skewed maps: context model costs at most a little more than static', () => {
    const train = Array.from({ length: 8 }, (_, i) => [iidMap(8, 32, 32, 512, 77, i)]);
    const test = Array.from({ length: 2 }, (_, i) => [iidMap(8, 48, 48, 512, 77, 100 + i)]);
    const r = measure('i.i.d. Zipf(1.1)', train, test, [{ M: 8, K: 512 }]);
    expect(r.static).toBeLessThan(0.75 * LOG2K);
    expect(r.context).toBeLessThan(r.static + 0.2);
  });

  it('tables for 2 levels × M=8 × K=512 stay well under 1 MB of JSON', () => {
    const { train } = synthetic(SMOOTH_SCENE, 7);
    const json = JSON.stringify(buildEntropyTables(train, SPECS));
    console.log(`[compression] tables JSON: ${(json.length / 1024).toFixed(0)} KiB`);
    expect(json.length).toBeLessThan(400 * 1024);
  });
});
