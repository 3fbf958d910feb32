/**
 * Codebook analysis of a model's tokens: per codebook the usage histogram, entropy, perplexity
 * and dead codes; per pair of codebooks of a level, the mutual information of their indices at
 * the same latent position: the DQ paper's redundancy measure (Section 4.2, Eq. 7, Fig. 3). With
 * depthwise quantization the pairwise MI should be small next to the codebooks' entropies
 * ("implicit decoupling").
 *
 * Estimates are plug-in (frequency counts, as in the paper). Plug-in MI is biased upwards when
 * K² is not small next to the number of positions, so two references come with it: the
 * Miller–Madow correction, and the plug-in MI of independent codebooks with the same marginals
 * and the same count (what the estimator reports when there is no dependence at all).
 *
 * Streaming: images are added one at a time; memory is the histograms, not the indices.
 */
import { DqcError } from './errors.js';
import type { LevelIndices } from './entropy/types.js';

export interface AnalysisLevelSpec {
  M: number;
  K: number;
  /** Stride in image pixels (reported only). */
  stride?: number;
}

export interface CodebookStats {
  /** Uses of each code (length K). */
  histogram: number[];
  entropyBits: number;
  /** 2^entropy: the effective number of codes in use. */
  perplexity: number;
  usedCodes: number;
  /** Codes never used. */
  deadCodes: number;
}

export interface LevelSummary {
  meanEntropyBits: number;
  meanPerplexity: number;
  deadCodes: number;
  /** Means over the M(M−1)/2 pairs of codebooks; null when M = 1. */
  meanPairwiseMiBits: number | null;
  meanPairwiseMiCorrectedBits: number | null;
  meanPairwiseMiIndependentBits: number | null;
  maxPairwiseMiBits: number | null;
  /** meanPairwiseMiBits / meanEntropyBits: the share of a codebook's information another one repeats. */
  miToEntropy: number | null;
}

export interface LevelAnalysis {
  /** Index in file order: 0 = top. */
  level: number;
  stride: number | null;
  M: number;
  K: number;
  /** Latent positions counted (h·w summed over the images). */
  positions: number;
  codebooks: CodebookStats[];
  /** M×M, symmetric, bits: plug-in MI of codebooks i and j at the same position; the diagonal holds each codebook's entropy (the paper's Fig. 3 layout). */
  mi: number[][];
  /** The same with Miller–Madow bias correction of every entropy involved. */
  miCorrected: number[][];
  /** Plug-in MI of independent samples with the same marginals and count (the estimator's bias); diagonal 0. */
  miIndependent: number[][];
  summary: LevelSummary;
}

/** Dense K×K counts when small enough, else a map of the pairs that occur. */
interface JointCounts {
  inc(a: number, b: number): void;
  /** The non-zero counts. */
  counts(): Iterable<number>;
}

/** Dense joint tables up to K = 512 (1 MiB each); beyond that only the pairs that occur are kept. */
const DENSE_LIMIT = 1 << 18;

function jointCounts(K: number): JointCounts {
  if (K * K <= DENSE_LIMIT) {
    const c = new Uint32Array(K * K);
    return { inc: (a, b) => void c[a * K + b]++, counts: () => c.filter((v) => v > 0) };
  }
  const m = new Map<number, number>();
  return { inc: (a, b) => void m.set(a * K + b, (m.get(a * K + b) ?? 0) + 1), counts: () => m.values() };
}

interface Entropy {
  bits: number;
  /** Bins with a non-zero count (for Miller–Madow). */
  support: number;
}

/** Plug-in entropy in bits of a histogram given by its non-zero counts. */
function entropyOf(counts: Iterable<number>): Entropy {
  let n = 0;
  let s = 0;
  let support = 0;
  for (const c of counts) {
    if (c <= 0) continue;
    n += c;
    s += c * Math.log2(c);
    support++;
  }
  return { bits: n > 0 ? Math.log2(n) - s / n : 0, support };
}

/** Miller–Madow: H + (m − 1) / (2N), in bits. */
function millerMadow(e: Entropy, n: number): number {
  return n > 0 ? e.bits + (e.support - 1) / (2 * n * Math.LN2) : 0;
}

/** xorshift32: a small seeded generator so that reports are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Draw from a histogram by inverse CDF. */
function sampler(hist: ArrayLike<number>, rand: () => number): () => number {
  const cdf = new Float64Array(hist.length);
  let acc = 0;
  for (let k = 0; k < hist.length; k++) cdf[k] = acc += hist[k];
  return () => {
    const u = rand() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

function square(M: number): number[][] {
  return Array.from({ length: M }, () => new Array<number>(M).fill(0));
}

function mean(xs: number[]): number | null {
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Accumulates histograms of one level over many images. */
class LevelAccumulator {
  readonly hist: Float64Array[];
  readonly joint: JointCounts[][];
  positions = 0;

  constructor(readonly spec: AnalysisLevelSpec) {
    this.hist = Array.from({ length: spec.M }, () => new Float64Array(spec.K));
    this.joint = Array.from({ length: spec.M }, (_, i) => Array.from({ length: spec.M }, (_, j) => (j > i ? jointCounts(spec.K) : null)).filter((x): x is JointCounts => x !== null));
  }

  add(lv: LevelIndices, where: string): void {
    const { M, K } = this.spec;
    if (lv.M !== M || lv.K !== K) throw new DqcError('BAD_INDICES', `${where}: M=${lv.M}, K=${lv.K} but the analysis expects M=${M}, K=${K}`);
    const n = lv.h * lv.w;
    if (lv.indices.length !== M * n) throw new DqcError('BAD_INDICES', `${where}: ${lv.indices.length} indices for shape ${M}×${lv.h}×${lv.w}`);
    const idx = lv.indices;
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] >= K) throw new DqcError('BAD_INDICES', `${where}: index ${idx[i]} is outside [0, ${K})`);
    }
    for (let m = 0; m < M; m++) {
      const h = this.hist[m];
      for (let p = m * n; p < (m + 1) * n; p++) h[idx[p]]++;
    }
    for (let i = 0; i < M; i++) {
      for (let j = i + 1; j < M; j++) {
        const jc = this.joint[i][j - i - 1];
        for (let p = 0; p < n; p++) jc.inc(idx[i * n + p], idx[j * n + p]);
      }
    }
    this.positions += n;
  }

  private codebook(m: number): CodebookStats {
    const histogram = Array.from(this.hist[m]);
    const e = entropyOf(histogram);
    return { histogram, entropyBits: e.bits, perplexity: 2 ** e.bits, usedCodes: e.support, deadCodes: this.spec.K - e.support };
  }

  /** Plug-in MI of independent draws from codebooks i's and j's marginals, `positions` of them. */
  private independentMi(i: number, j: number, rand: () => number, hx: number, hy: number): number {
    const si = sampler(this.hist[i], rand);
    const sj = sampler(this.hist[j], rand);
    const jc = jointCounts(this.spec.K);
    for (let p = 0; p < this.positions; p++) jc.inc(si(), sj());
    return Math.max(0, hx + hy - entropyOf(jc.counts()).bits);
  }

  result(level: number, seed: number): LevelAnalysis {
    const { M, K } = this.spec;
    const N = this.positions;
    const codebooks = Array.from({ length: M }, (_, m) => this.codebook(m));
    const H = codebooks.map((c) => ({ bits: c.entropyBits, support: c.usedCodes }));
    const mi = square(M), miCorrected = square(M), miIndependent = square(M);
    const rand = rng(seed + level * 7919);
    const pairs: { plug: number; mm: number; ind: number }[] = [];
    for (let i = 0; i < M; i++) {
      mi[i][i] = H[i].bits;
      miCorrected[i][i] = millerMadow(H[i], N);
      for (let j = i + 1; j < M; j++) {
        const hj = entropyOf(this.joint[i][j - i - 1].counts());
        const plug = Math.max(0, H[i].bits + H[j].bits - hj.bits);
        const mm = millerMadow(H[i], N) + millerMadow(H[j], N) - millerMadow(hj, N);
        const ind = this.independentMi(i, j, rand, H[i].bits, H[j].bits);
        mi[i][j] = mi[j][i] = plug;
        miCorrected[i][j] = miCorrected[j][i] = mm;
        miIndependent[i][j] = miIndependent[j][i] = ind;
        pairs.push({ plug, mm, ind });
      }
    }
    const meanH = mean(H.map((h) => h.bits)) ?? 0;
    const meanMi = mean(pairs.map((p) => p.plug));
    return {
      level,
      stride: this.spec.stride ?? null,
      M,
      K,
      positions: N,
      codebooks,
      mi,
      miCorrected,
      miIndependent,
      summary: {
        meanEntropyBits: meanH,
        meanPerplexity: mean(codebooks.map((c) => c.perplexity)) ?? 0,
        deadCodes: codebooks.reduce((n, c) => n + c.deadCodes, 0),
        meanPairwiseMiBits: meanMi,
        meanPairwiseMiCorrectedBits: mean(pairs.map((p) => p.mm)),
        meanPairwiseMiIndependentBits: mean(pairs.map((p) => p.ind)),
        maxPairwiseMiBits: pairs.length > 0 ? Math.max(...pairs.map((p) => p.plug)) : null,
        miToEntropy: meanMi !== null && meanH > 0 ? meanMi / meanH : null,
      },
    };
  }
}

/**
 * Collects index maps of many images (levels TOP first, as in .dqc files and token files) and
 * reports per level and codebook. `report` can be called at any time.
 */
export class CodebookAnalyzer {
  private readonly levels: LevelAccumulator[];
  private count = 0;

  constructor(specs: readonly AnalysisLevelSpec[]) {
    if (specs.length < 1) throw new RangeError('need at least one level');
    this.levels = specs.map((s) => new LevelAccumulator(s));
  }

  /** Images added so far. */
  get images(): number {
    return this.count;
  }

  /** Add one image's index maps, TOP level first. */
  add(levels: readonly LevelIndices[]): void {
    if (levels.length !== this.levels.length) throw new DqcError('BAD_INDICES', `got ${levels.length} levels, the analysis expects ${this.levels.length}`);
    levels.forEach((lv, i) => this.levels[i].add(lv, `level ${i}`));
    this.count++;
  }

  /** Statistics per level (TOP first). `seed` drives the independence baseline (default 1). */
  report(seed = 1): LevelAnalysis[] {
    return this.levels.map((acc, i) => acc.result(i, seed));
  }
}
