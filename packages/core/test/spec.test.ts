/**
 * An independent, deliberately naive decoder written from docs/format.md alone (O(K) per
 * symbol, no shared code with packages/core/src beyond the test inputs). If it agrees with the
 * reference encoder, the document is precise enough to write a second decoder.
 */
import { describe, expect, it } from 'vitest';
import { buildEntropyTables, encodeIndices, type EntropyTables, type LevelIndices } from '../src/index.js';
import { BUSY_SCENE, randomMap, SynthModel } from './synthetic.js';

interface Tab {
  M: number;
  K: number;
  T: number;
  literal: number[];
  rank: number[];
  succ: number[];
}

function u16s(b64: string): number[] {
  const b = Buffer.from(b64, 'base64');
  return Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16LE(2 * i));
}

function tablesFor(json: EntropyTables | undefined, M: number, K: number, i: number): Tab {
  if (json) {
    const l = json.levelsTopFirst[i];
    return { M, K, T: l.successors, literal: u16s(l.literal), rank: u16s(l.rank), succ: u16s(l.succ) };
  }
  const rank: number[] = [];
  for (let c = 0; c < 80; c++) rank.push(1024, ...Array.from({ length: 7 }, (_, j) => Math.max(1, 1024 >> j)));
  return { M, K, T: 0, literal: new Array(M * K).fill(1), rank, succ: [] };
}

/** §5.2 */
class Dec {
  pos = 0;
  range = 0xffffffff;
  code = 0;
  r = 0;
  constructor(private b: Uint8Array) {
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
  }
  next(): number {
    return this.pos < this.b.length ? this.b[this.pos++] : (this.pos++, 0);
  }
  target(total: number): number {
    this.r = Math.floor(this.range / total);
    const t = Math.floor(this.code / this.r);
    if (t >= total) throw new Error('CORRUPT_STREAM');
    return t;
  }
  consume(start: number, freq: number): void {
    this.code -= start * this.r;
    this.range = freq * this.r;
    while (this.range < 2 ** 24) {
      this.range *= 256;
      this.code = this.code * 256 + this.next();
    }
  }
}

const scale = (row: number[], mass: number): number[] => {
  const s = row.reduce((a, b) => a + b, 0);
  return row.map((v) => 1 + Math.floor((v * mass) / s));
};

/** §6.2–6.5 for one level. */
function decodeLevel(stream: Uint8Array, M: number, h: number, w: number, K: number, method: number, t: Tab): number[] {
  const d = new Dec(stream);
  const V = new Array<number>(M * h * w).fill(0);
  const at = (m: number, y: number, x: number): number => V[(m * h + y) * w + x];
  const A = 8 + 2 * t.T;
  const span = 65536 - K;
  const rf: number[][] = [];
  for (let c = 0; c < 80; c++) rf.push(scale(t.rank.slice(c * A, c * A + A), 2 ** 10));
  for (let m = 0; m < M; m++) {
    const row = t.literal.slice(m * K, (m + 1) * K);
    const prior = method === 2 ? scale(row, 2 ** 14) : row.slice();
    const f = prior.slice();
    const cross = new Map<number, number>();
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cand: number[] = [];
        let c = 0;
        if (method === 2) {
          const L = x >= 1 ? at(m, y, x - 1) : -1, U = y >= 1 ? at(m, y - 1, x) : -1;
          const UL = x >= 1 && y >= 1 ? at(m, y - 1, x - 1) : -1, UR = y >= 1 && x + 1 < w ? at(m, y - 1, x + 1) : -1;
          const LL = x >= 2 ? at(m, y, x - 2) : -1, UU = y >= 2 ? at(m, y - 2, x) : -1;
          const P = m >= 1 ? at(m - 1, y, x) : -1;
          const X = m >= 1 && cross.has(P) ? cross.get(P)! : -1;
          const add = (v: number): void => void (v >= 0 && !cand.includes(v) && cand.push(v));
          [L, U, UR, UL, LL, UU, X].forEach(add);
          for (let k = 0; k < t.T; k++) {
            if (L >= 0) add(t.succ[(m * K + L) * t.T + k]);
            if (U >= 0) add(t.succ[(m * K + U) * t.T + k]);
          }
          const eq = (a: number, b: number): number => (a >= 0 && a === b ? 1 : 0);
          const nb = eq(L, U) | (eq(L, UL) << 1) | (eq(U, UR) << 2) | (eq(U, UL) << 3);
          const prev = m === 0 ? 4 : (x >= 1 && P === at(m - 1, y, x - 1) ? 1 : 0) | (y >= 1 && P === at(m - 1, y - 1, x) ? 2 : 0);
          c = nb * 5 + prev;
        }
        const n = cand.length;
        const B: number[] = [];
        let litMass = span;
        if (n > 0) {
          const R = rf[c][0] + cand.reduce((a, _, j) => a + rf[c][1 + j], 0);
          for (let j = 0; j < n; j++) B.push(Math.floor((rf[c][1 + j] * span) / R));
          litMass = span - B.reduce((a, b) => a + b, 0);
        }
        const F = f.reduce((a, b) => a + b, 0);
        const g: number[] = [0];
        let pre = 0;
        for (let s = 0; s < K; s++) g.push(s + 1 + Math.floor(((pre += f[s]) * litMass) / F));
        const interval = (s: number): [number, number] => {
          const j = cand.indexOf(s);
          const before = cand.reduce((a, v, i) => a + (v < s ? B[i] : 0), 0);
          return [g[s] + before, g[s + 1] - g[s] + (j >= 0 ? B[j] : 0)];
        };
        const tgt = d.target(65536);
        let s = 0;
        while (!(interval(s)[0] <= tgt && tgt < interval(s)[0] + interval(s)[1])) s++;
        const [start, freq] = interval(s);
        d.consume(start, freq);
        V[(m * h + y) * w + x] = s;
        if (method !== 2) continue;
        const hit = cand.indexOf(s);
        const bonus = hit >= 0 ? B[hit] : 0;
        const litPart = g[s + 1] - g[s] - 1;
        if (n > 0) {
          if (hit < 0) rf[c][0] += 32;
          else {
            const share = Math.floor((32 * bonus) / (bonus + litPart + 1));
            rf[c][1 + hit] += share;
            rf[c][0] += 32 - share;
          }
          if (rf[c].reduce((a, b) => a + b, 0) > 2 ** 13) rf[c] = rf[c].map((v) => Math.floor((v + 1) / 2));
        }
        const inc = hit < 0 ? 32 : Math.floor((32 * (litPart + 1)) / (bonus + litPart + 1));
        if (inc > 0) {
          f[s] += inc;
          if (f.reduce((a, b) => a + b, 0) > 2 ** 20) for (let k = 0; k < K; k++) f[k] = prior[k] + Math.floor((f[k] - prior[k]) / 2);
        }
        if (m >= 1) cross.set(at(m - 1, y, x), s);
      }
    }
  }
  return V;
}

/** §2: header, then every level. */
function specDecode(file: Uint8Array, tables: EntropyTables | undefined): number[][] {
  const v = new DataView(file.buffer, file.byteOffset);
  expect(String.fromCharCode(...file.subarray(0, 4))).toBe('DQC1');
  const headerLength = v.getUint16(6, true), L = v.getUint8(9), method = v.getUint8(10), F = v.getUint8(11);
  let offset = headerLength;
  const out: number[][] = [];
  for (let i = 0; i < L; i++) {
    const r = 32 + F + 22 * i;
    const M = v.getUint16(r, true), h = v.getUint32(r + 2, true), w = v.getUint32(r + 6, true), K = v.getUint32(r + 10, true);
    const len = v.getUint32(r + 14, true);
    out.push(decodeLevel(file.subarray(offset, offset + len), M, h, w, K, method, tablesFor(tables, M, K, i)));
    offset += len;
  }
  return out;
}

describe('docs/format.md is implementable', () => {
  const model = new SynthModel([{ M: 3, K: 64, D: 3, rel: 1 }, { M: 2, K: 48, D: 3, rel: 2 }], BUSY_SCENE, 3, 16);
  const train = Array.from({ length: 4 }, (_, i) => model.sample(i));
  const levels: LevelIndices[] = model.sample(77);
  const meta = { fingerprint: 'spec', width: 60, height: 64, channels: 3, paddedWidth: 64, paddedHeight: 64 };

  for (const withTables of [false, true]) {
    for (const method of ['static', 'context'] as const) {
      it(`a naive decoder written from the spec agrees (${method}, ${withTables ? 'trained' : 'default'} tables)`, () => {
        const tables = withTables ? buildEntropyTables(train, [{ M: 2, K: 48 }, { M: 3, K: 64 }], { successors: 3 }) : undefined;
        const file = encodeIndices(levels, meta, tables, { method });
        expect(specDecode(file, tables)).toEqual(levels.map((l) => Array.from(l.indices)));
      });
    }
  }

  it('agrees on a long codebook, where literal rescaling and rank halving both happen', () => {
    const level = randomMap(1, 256, 256, 64, 5);
    const file = encodeIndices([level], { ...meta, width: 256, height: 256, paddedWidth: 256, paddedHeight: 256 });
    expect(specDecode(file, undefined)).toEqual([Array.from(level.indices)]);
  });
});
