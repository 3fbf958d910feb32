/**
 * Bit-exactness guard for the entropy coder: CRC-32 and length of streams produced by the
 * reference encoder before its speed-ups (commit e2d57e3). Any change to the arithmetic, the
 * candidate order or the adaptation would change these, and .dqc files written earlier would no
 * longer decode; docs/format.md §7 says such a change needs a new method id instead.
 */
import { describe, expect, it } from 'vitest';
import { buildEntropyTables, crc32, decodeLevel, encodeLevel, type EntropyLevelTables, type EntropyMethod, type LevelIndices } from '../src/index.js';
import { BUSY_SCENE, iidMap, randomMap, SMOOTH_SCENE, SynthModel } from './synthetic.js';

interface Case {
  name: string;
  level: LevelIndices;
  tables?: EntropyLevelTables;
}

function cases(): Case[] {
  const smooth = new SynthModel([{ M: 4, K: 256, D: 3, rel: 1 }], SMOOTH_SCENE, 11, 48);
  const busy = new SynthModel([{ M: 3, K: 512, D: 3, rel: 1 }], BUSY_SCENE, 12, 48);
  const train = (m: SynthModel): LevelIndices[][] => Array.from({ length: 3 }, (_, i) => m.sample(100 + i));
  const tablesOf = (m: SynthModel, M: number, K: number, successors: number): EntropyLevelTables =>
    buildEntropyTables(train(m), [{ M, K }], { successors }).levelsTopFirst[0];
  const smoothMap = smooth.sample(7)[0];
  const busyMap = busy.sample(8)[0];
  return [
    { name: 'smooth K=256, default tables', level: smoothMap },
    { name: 'smooth K=256, T=0', level: smoothMap, tables: tablesOf(smooth, 4, 256, 0) },
    { name: 'smooth K=256, T=8', level: smoothMap, tables: tablesOf(smooth, 4, 256, 8) },
    { name: 'busy K=512, T=3', level: busyMap, tables: tablesOf(busy, 3, 512, 3) },
    { name: 'busy K=512, T=16', level: busyMap, tables: tablesOf(busy, 3, 512, 16) },
    { name: 'iid K=300', level: iidMap(3, 20, 20, 300, 3) },
    { name: 'random K=64, 256×256 (literal rescaling, rank halving)', level: randomMap(1, 256, 256, 64, 5) },
    { name: 'iid K=2', level: iidMap(2, 17, 23, 2, 9) },
    { name: 'random K=65536', level: randomMap(2, 12, 12, 65536, 4) },
  ];
}

/** [crc32, length] of each case's stream under 'static' and 'context', recorded at e2d57e3. */
const EXPECTED: Record<string, Record<Exclude<EntropyMethod, 'conditional' | 'coefficient'>, [number, number]>> = {
  'smooth K=256, default tables': { static: [0xd57fbd9c, 9218], context: [0x394dc5fe, 2930] },
  'smooth K=256, T=0': { static: [0x1194b90e, 8850], context: [0x05593085, 2872] },
  'smooth K=256, T=8': { static: [0x1194b90e, 8850], context: [0x48c0d7b5, 2877] },
  'busy K=512, T=3': { static: [0xaac13346, 7288], context: [0x5acf15df, 3542] },
  'busy K=512, T=16': { static: [0xaac13346, 7288], context: [0xd3329207, 3486] },
  'iid K=300': { static: [0x90e5fd5e, 1237], context: [0xb56c03e7, 1053] },
  'random K=64, 256×256 (literal rescaling, rank halving)': { static: [0x58338f60, 49154], context: [0xf4831c9a, 49237] },
  'iid K=2': { static: [0xa143768a, 99], context: [0xa614e358, 99] },
  'random K=65536': { static: [0x4cc177fd, 578], context: [0x4cc177fd, 578] },
};

describe('entropy streams are bit-exact with the reference recorded before the speed-ups', () => {
  for (const c of cases()) {
    for (const method of ['static', 'context'] as const) {
      it(`${c.name}, ${method}`, () => {
        const bytes = encodeLevel(c.level, c.tables, method);
        expect([crc32(bytes), bytes.length]).toEqual(EXPECTED[c.name]?.[method]);
        expect(decodeLevel(bytes, c.level, c.tables, method)).toEqual(c.level.indices);
      });
    }
  }
});
