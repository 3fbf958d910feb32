import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '../src/tfjs/tf.js';
import '@tensorflow/tfjs-backend-cpu';
import { Quantizer, perplexityOf } from '../src/tfjs/quantizer.js';
import { Rng } from '../src/tfjs/rng.js';
import { DEFAULT_QUANTIZER, type QuantizerConfig } from '../src/model/config.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

let uid = 0;
function makeQuantizer(M: number, K: number, D: number, q: Partial<QuantizerConfig> = {}, seed = 1): Quantizer {
  return new Quantizer({ stride: 4, M, K, D }, { ...DEFAULT_QUANTIZER, ...q }, { level: 0, varPrefix: `qtest${uid++}/`, rng: new Rng(seed) });
}

function setCodebook(qz: Quantizer, c: Float32Array | number[], N?: number[]): void {
  const data = Float32Array.from(c);
  tf.tidy(() => {
    qz.codebook.assign(tf.tensor3d(data, [qz.M, qz.K, qz.D]));
    qz.emaM.assign(tf.mul(tf.tensor3d(data, [qz.M, qz.K, qz.D]), N ? tf.tensor3d(N, [qz.M, qz.K, 1]) : 1));
    qz.emaN.assign(N ? tf.tensor2d(N, [qz.M, qz.K]) : tf.ones([qz.M, qz.K]));
  });
}

/** Brute-force nearest code per slice in float64; ties → lowest k (strict <). */
function bruteForce(z: Float32Array, c: Float32Array, P: number, M: number, K: number, D: number): { idx: Int32Array; gaps: Float64Array } {
  const idx = new Int32Array(P * M);
  const gaps = new Float64Array(P * M);
  for (let p = 0; p < P; p++) {
    for (let m = 0; m < M; m++) {
      let best = Infinity;
      let second = Infinity;
      let bi = -1;
      for (let k = 0; k < K; k++) {
        let d2 = 0;
        for (let d = 0; d < D; d++) {
          const diff = z[p * M * D + m * D + d] - c[(m * K + k) * D + d];
          d2 += diff * diff;
        }
        if (d2 < best) {
          second = best;
          best = d2;
          bi = k;
        } else if (d2 < second) {
          second = d2;
        }
      }
      idx[p * M + m] = bi;
      gaps[p * M + m] = second - best;
    }
  }
  return { idx, gaps };
}

describe('Quantizer.quantize', () => {
  const cases = [
    { M: 1, K: 7, D: 3, n: 2, h: 3, w: 5 },
    { M: 3, K: 16, D: 5, n: 1, h: 4, w: 6 },
    { M: 4, K: 64, D: 8, n: 2, h: 5, w: 3 },
    { M: 2, K: 5, D: 1, n: 3, h: 2, w: 2 },
  ];
  for (const c of cases) {
    for (const integer of [false, true]) {
      it(`indices and codes equal brute force, M=${c.M} K=${c.K} D=${c.D}${integer ? ' (integer data: exact ties)' : ''}`, () => {
        const rng = new Rng(c.M * 1000 + c.K + (integer ? 7 : 0));
        const P = c.n * c.h * c.w;
        const draw = (): number => (integer ? rng.int(5) - 2 : rng.normal());
        const z = Float32Array.from({ length: P * c.M * c.D }, draw);
        const cb = Float32Array.from({ length: c.M * c.K * c.D }, draw);
        if (!integer) {
          // Duplicate codes must tie exactly; the lowest index wins.
          for (let m = 0; m < c.M; m++) for (let d = 0; d < c.D; d++) cb[(m * c.K + c.K - 1) * c.D + d] = cb[(m * c.K + 1) * c.D + d];
          // Make some slices exactly equal to the duplicated code.
          for (let d = 0; d < c.D; d++) z[d] = cb[(0 * c.K + 1) * c.D + d];
        }
        const qz = makeQuantizer(c.M, c.K, c.D);
        setCodebook(qz, cb);
        const ref = bruteForce(z, cb, P, c.M, c.K, c.D);
        tf.tidy(() => {
          const zt = tf.tensor4d(z, [c.n, c.h, c.w, c.M * c.D]);
          const r = qz.quantize(zt);
          expect(r.indices.shape).toEqual([c.n, c.h, c.w, c.M]);
          expect(r.indices.dtype).toBe('int32');
          expect(r.q.shape).toEqual(zt.shape);
          const got = r.indices.dataSync();
          let nearTies = 0;
          for (let i = 0; i < got.length; i++) {
            // Random float data: a float32 expanded-form distance can only disagree on a near-tie.
            if (!integer && got[i] !== ref.idx[i] && ref.gaps[i] < 1e-4 && ref.gaps[i] > 0) {
              nearTies++;
              continue;
            }
            expect(got[i]).toBe(ref.idx[i]);
          }
          expect(nearTies).toBe(0);
          if (!integer) expect(got[0]).toBe(1); // exact tie between codes 1 and K-1
          // q is the chosen codes in the same channel layout.
          const q = r.q.dataSync();
          for (let p = 0; p < P; p++) {
            for (let m = 0; m < c.M; m++) {
              const k = ref.idx[p * c.M + m];
              for (let d = 0; d < c.D; d++) expect(q[p * c.M * c.D + m * c.D + d]).toBe(cb[(m * c.K + k) * c.D + d]);
            }
          }
          // Commitment loss = mean squared distance to the chosen codes.
          let s = 0;
          for (let i = 0; i < z.length; i++) s += (z[i] - q[i]) ** 2;
          expect(r.commitLoss.dataSync()[0]).toBeCloseTo(s / z.length, 5);
          // lookup(indices) reproduces q.
          expect(tf.max(tf.abs(tf.sub(qz.lookup(r.indices), r.q))).dataSync()[0]).toBe(0);
        });
        qz.dispose();
      });
    }
  }

  it('straight-through: d(sum(q·probe))/dz = probe; commit gradient = 2(z − q)/size', () => {
    const qz = makeQuantizer(2, 8, 3);
    tf.tidy(() => {
      const z = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 11) as tf.Tensor4D;
      const probe = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 12);
      const g = tf.grad((zz) => tf.sum(tf.mul(qz.quantize(zz as tf.Tensor4D).q, probe)))(z);
      expect(tf.max(tf.abs(tf.sub(g, probe))).dataSync()[0]).toBe(0);
      const gc = tf.grad((zz) => qz.quantize(zz as tf.Tensor4D).commitLoss)(z);
      const q = qz.quantize(z).q;
      const expected = tf.div(tf.mul(tf.sub(z, q), 2), z.size);
      expect(tf.max(tf.abs(tf.sub(gc, expected))).dataSync()[0]).toBeLessThan(1e-7);
    });
    qz.dispose();
  });

  it('does not leak tensors', () => {
    const qz = makeQuantizer(2, 8, 3);
    const z = tf.randomNormal([1, 4, 4, 6], 0, 1, 'float32', 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        qz.quantize(z);
        tf.grad((zz) => tf.sum(qz.quantize(zz as tf.Tensor4D).q))(z);
      });
      const r = tf.tidy(() => qz.quantize(z));
      qz.emaUpdate(z, r.indices);
      qz.resetDeadCodes(z);
      qz.usage(r.indices);
      tf.dispose([r.indices, r.q, r.commitLoss]);
    }
    expect(tf.memory().numTensors).toBe(before);
    z.dispose();
    qz.dispose();
  });
});

describe('Quantizer EMA update', () => {
  it('matches a hand-computed example (γ = 0.5, ε = 0.1, M = 2, K = 2, D = 2)', () => {
    const qz = makeQuantizer(2, 2, 2, { decay: 0.5, eps: 0.1 });
    // Codebook 0: C = [[0,0],[10,10]] with N = [2,2] (m = N·C). Codebook 1: [[5,5],[-5,-5]], N = [1,1].
    setCodebook(qz, [0, 0, 10, 10, 5, 5, -5, -5], [2, 2, 1, 1]);
    // Three positions; channels = [slice 0 (2 dims), slice 1 (2 dims)].
    const z = tf.tensor4d([1, 1, 4, 6, 2, 0, -5, -5, 9, 11, -6, -4], [1, 1, 3, 4]);
    const r = qz.quantize(z);
    expect(Array.from(r.indices.dataSync())).toEqual([0, 0, 0, 1, 1, 1]);
    qz.emaUpdate(z, r.indices);
    // Codebook 0: counts n = [2,1], sums [[3,1],[9,11]]
    //   N = 0.5·[2,2] + 0.5·[2,1] = [2, 1.5];  m = 0.5·[[0,0],[20,20]] + 0.5·[[3,1],[9,11]] = [[1.5,0.5],[14.5,15.5]]
    //   ΣN = 3.5, N̂ = (N + 0.1)/(3.5 + 0.2)·3.5 = [7.35/3.7, 5.6/3.7]
    //   C = [[1.5·3.7/7.35, 0.5·3.7/7.35], [14.5·3.7/5.6, 15.5·3.7/5.6]] = [[0.7551020, 0.2517007], [9.5803571, 10.2410714]]
    // Codebook 1: counts [1,2], sums [[4,6],[-11,-9]]
    //   N = [1, 1.5];  m = [[4.5,5.5],[-8,-7]];  ΣN = 2.5, N̂ = [2.75/2.7, 4/2.7]
    //   C = [[4.5·2.7/2.75, 5.5·2.7/2.75], [-8·2.7/4, -7·2.7/4]] = [[4.4181818, 5.4], [-5.4, -4.725]]
    const expectClose = (t: tf.Tensor, want: number[]): void => {
      const got = Array.from(t.dataSync());
      expect(got.length).toBe(want.length);
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    };
    expectClose(qz.emaN, [2, 1.5, 1, 1.5]);
    expectClose(qz.emaM, [1.5, 0.5, 14.5, 15.5, 4.5, 5.5, -8, -7]);
    expectClose(qz.codebook, [0.755102, 0.2517007, 9.5803571, 10.2410714, 4.4181818, 5.4, -5.4, -4.725]);
    tf.dispose([z, r.indices, r.q, r.commitLoss]);
    qz.dispose();
  });
});

describe('Quantizer initialisation and dead codes', () => {
  it('initialises each codebook from distinct batch vectors, deterministically', () => {
    const P = 24;
    const z = tf.tensor4d(Float32Array.from({ length: P * 6 }, (_, i) => i), [2, 3, 4, 6]); // M=2, D=3: all vectors distinct
    const run = (): Float32Array => {
      const qz = makeQuantizer(2, 8, 3, {}, 42);
      expect(qz.initialised).toBe(false);
      qz.initFromData(z);
      expect(qz.initialised).toBe(true);
      const c = qz.codebook.dataSync() as Float32Array;
      const zs = z.dataSync();
      for (let m = 0; m < 2; m++) {
        const seen = new Set<number>();
        for (let k = 0; k < 8; k++) {
          const first = c[(m * 8 + k) * 3];
          // first element of slice m at position p is p·6 + m·3
          const p = (first - m * 3) / 6;
          expect(Number.isInteger(p) && p >= 0 && p < P).toBe(true);
          for (let d = 0; d < 3; d++) expect(c[(m * 8 + k) * 3 + d]).toBe(zs[p * 6 + m * 3 + d]);
          seen.add(p);
        }
        expect(seen.size).toBe(8);
      }
      expect(Array.from(qz.emaN.dataSync())).toEqual(new Array(16).fill(1));
      expect(Array.from(qz.emaM.dataSync())).toEqual(Array.from(c));
      const out = Float32Array.from(c);
      qz.dispose();
      return out;
    };
    expect(run()).toEqual(run());
    z.dispose();
  });

  it('fills a codebook larger than the batch with noisy repeats', () => {
    const qz = makeQuantizer(1, 10, 2);
    const z = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 1, 3, 2]);
    qz.initFromData(z);
    const c = qz.codebook.dataSync();
    const firsts = new Set([c[0], c[2], c[4]]);
    expect(firsts).toEqual(new Set([1, 3, 5]));
    for (let k = 3; k < 10; k++) {
      const near = [1, 3, 5].some((v) => Math.abs(c[k * 2] - v) < 0.05 && Math.abs(c[k * 2 + 1] - (v + 1)) < 0.05);
      expect(near).toBe(true);
    }
    z.dispose();
    qz.dispose();
  });

  it('re-initialises codes whose EMA usage falls below the threshold', () => {
    const qz = makeQuantizer(1, 4, 2, { decay: 0.5, deadThreshold: 0.3 });
    // Codes 2 and 3 are far from every batch vector: never chosen.
    setCodebook(qz, [0, 0, 1, 1, 100, 100, -100, -100]);
    const batch = [0.1, 0, 0.9, 1, 0, 0.2, 1.1, 0.9];
    const z = tf.tensor4d(batch, [1, 2, 2, 2]);
    const resets: number[] = [];
    const Ns: number[][] = [];
    for (let step = 0; step < 2; step++) {
      const r = qz.quantize(z);
      qz.emaUpdate(z, r.indices);
      Ns.push(Array.from(qz.emaN.dataSync()));
      resets.push(qz.resetDeadCodes(z));
      tf.dispose([r.indices, r.q, r.commitLoss]);
    }
    // Unused codes: N = 1 → 0.5 (alive) → 0.25 (< 0.3: dead).
    expect(Ns[0][2]).toBeCloseTo(0.5, 6);
    expect(Ns[1][2]).toBeCloseTo(0.25, 6);
    expect(resets).toEqual([0, 2]);
    const c = Array.from(qz.codebook.dataSync());
    const N = Array.from(qz.emaN.dataSync());
    const m = Array.from(qz.emaM.dataSync());
    const vectors = [0, 1, 2, 3].map((p) => `${batch[2 * p]},${batch[2 * p + 1]}`);
    const reset2 = `${c[4]},${c[5]}`;
    const reset3 = `${c[6]},${c[7]}`;
    // Each reset code is a batch vector (float32-rounded), at distinct positions.
    const f32 = (s: string): string => s.split(',').map((v) => Math.fround(Number(v))).join(',');
    expect(vectors.map(f32)).toContain(reset2);
    expect(vectors.map(f32)).toContain(reset3);
    expect(reset2).not.toBe(reset3);
    // Consistent statistics: N = 1 and m = C for the reset codes; live codes untouched (N > 1).
    expect(N[2]).toBe(1);
    expect(N[3]).toBe(1);
    expect(m.slice(4)).toEqual(c.slice(4));
    expect(N[0]).toBeGreaterThan(1);
    // Afterwards the reset codes get used.
    const r = qz.quantize(z);
    const used = new Set(Array.from(r.indices.dataSync()));
    expect(used.has(2) || used.has(3)).toBe(true);
    tf.dispose([z, r.indices, r.q, r.commitLoss]);
    qz.dispose();
  });
});

describe('usage / perplexity', () => {
  it('is 1 for a single code and K for uniform use', () => {
    expect(perplexityOf([0, 5, 0])).toBeCloseTo(1, 10);
    expect(perplexityOf([3, 3, 3, 3])).toBeCloseTo(4, 10);
    const qz = makeQuantizer(2, 4, 1);
    const idx = tf.tensor4d([0, 0, 1, 0, 2, 0, 3, 0], [1, 1, 4, 2], 'int32');
    const u = qz.usage(idx);
    expect(u[0]).toBeCloseTo(4, 6);
    expect(u[1]).toBeCloseTo(1, 6);
    idx.dispose();
    qz.dispose();
  });
});
