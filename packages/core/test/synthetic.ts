/**
 * Synthetic code-index maps for tests and compression measurements.
 *
 * Real DQ-AE index maps come from nearest-codeword quantisation of a spatially smooth feature
 * field, split depthwise into M slices that all see the same image structure. We imitate that:
 * a multi-octave smooth field plus flat "objects" with hard edges plus textured regions, mixed
 * linearly into M·D channels, quantised per slice against a codebook drawn from the data (so
 * code usage is roughly uniform, like an EMA-trained codebook, not a toy skewed distribution).
 * The top level sees the same scene average-pooled, so levels are correlated.
 */
import type { LevelIndices } from '../src/index.js';

export type Rand = () => number;

/** mulberry32: small deterministic PRNG, uniform in [0, 1). */
export function rng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(rand: Rand): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export interface SceneOptions {
  /** Channels of the shared scene field. */
  channels: number;
  /** Number of flat objects with hard edges. */
  objects: number;
  /** Amplitude of per-pixel texture noise (in textured regions). */
  texture: number;
  /** Fraction of the image covered by textured regions. */
  texturedFraction: number;
  /** Amplitude decay per octave of the smooth field (higher = rougher, more fine detail). */
  persistence: number;
}

/** Moderately structured scenes: smooth gradients, flat objects, some texture. */
export const SMOOTH_SCENE: SceneOptions = { channels: 6, objects: 6, texture: 0.6, texturedFraction: 0.3, persistence: 0.5 };
/** Busy scenes: rough field, few flat areas, texture over most of the image. */
export const BUSY_SCENE: SceneOptions = { channels: 6, objects: 3, texture: 0.5, texturedFraction: 0.7, persistence: 0.8 };
export const DEFAULT_SCENE = SMOOTH_SCENE;

/** A scene: channels × h × w smooth field with flat objects and textured patches. */
export function scene(h: number, w: number, rand: Rand, opt: SceneOptions = DEFAULT_SCENE): Float32Array {
  const C = opt.channels;
  const f = new Float32Array(C * h * w);
  for (let c = 0; c < C; c++) {
    for (let cell = Math.max(h, w) / 2, amp = 1; cell >= 1; cell /= 2, amp *= opt.persistence) addValueNoise(f, c, h, w, cell, amp, rand);
  }
  for (let o = 0; o < opt.objects; o++) paintObject(f, C, h, w, rand);
  for (let t = 0; t < 4; t++) {
    if (rand() > opt.texturedFraction * 2) continue;
    const ry = Math.floor(rand() * h), rx = Math.floor(rand() * w);
    const rh = Math.floor(h * (0.2 + 0.4 * rand())), rw = Math.floor(w * (0.2 + 0.4 * rand()));
    for (let y = ry; y < Math.min(h, ry + rh); y++) for (let x = rx; x < Math.min(w, rx + rw); x++) {
      for (let c = 0; c < C; c++) f[(c * h + y) * w + x] += opt.texture * gauss(rand);
    }
  }
  return f;
}

function addValueNoise(f: Float32Array, c: number, h: number, w: number, cell: number, amp: number, rand: Rand): void {
  const gh = Math.ceil(h / cell) + 2, gw = Math.ceil(w / cell) + 2;
  const g = new Float32Array(gh * gw).map(() => gauss(rand) * amp);
  for (let y = 0; y < h; y++) {
    const fy = y / cell, y0 = Math.floor(fy), ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = x / cell, x0 = Math.floor(fx), tx = fx - x0;
      const a = g[y0 * gw + x0] * (1 - tx) + g[y0 * gw + x0 + 1] * tx;
      const b = g[(y0 + 1) * gw + x0] * (1 - tx) + g[(y0 + 1) * gw + x0 + 1] * tx;
      f[(c * h + y) * w + x] += a * (1 - ty) + b * ty;
    }
  }
}

function paintObject(f: Float32Array, C: number, h: number, w: number, rand: Rand): void {
  const cy = rand() * h, cx = rand() * w, ry = (0.1 + 0.3 * rand()) * h, rx = (0.1 + 0.3 * rand()) * w;
  const v = Array.from({ length: C }, () => gauss(rand) * 1.2);
  const rect = rand() < 0.5;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const dy = (y - cy) / ry, dx = (x - cx) / rx;
    const inside = rect ? Math.abs(dy) < 1 && Math.abs(dx) < 1 : dy * dy + dx * dx < 1;
    if (inside) for (let c = 0; c < C; c++) f[(c * h + y) * w + x] = v[c];
  }
}

function avgPool(f: Float32Array, C: number, h: number, w: number, s: number): Float32Array {
  const oh = h / s, ow = w / s, out = new Float32Array(C * oh * ow);
  for (let c = 0; c < C; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[(c * oh + Math.floor(y / s)) * ow + Math.floor(x / s)] += f[(c * h + y) * w + x] / (s * s);
  }
  return out;
}

export interface SynthLevel {
  M: number;
  K: number;
  D: number;
  /** Stride relative to the finest level (1 for the finest). */
  rel: number;
}

/**
 * A "model": fixed random mixing matrices and data-drawn codebooks per level/slice, so that
 * training and test maps share codebooks (as real train/test images share a model).
 */
export class SynthModel {
  private readonly mix: Float32Array[][] = [];
  private readonly books: Float32Array[][] = [];

  constructor(readonly levels: SynthLevel[], readonly scene: SceneOptions, seed: number, readonly size = 48) {
    const rand = rng(seed);
    for (const lv of levels) {
      this.mix.push(Array.from({ length: lv.M }, () => new Float32Array(lv.D * scene.channels).map(() => gauss(rand))));
    }
    // Codebooks: K feature vectors drawn from a few calibration scenes, plus tiny jitter.
    const feats = this.features(rng(seed + 1), true);
    this.books = levels.map((lv, l) => feats[l].map((pool) => {
      const n = pool.length / lv.D, book = new Float32Array(lv.K * lv.D);
      for (let k = 0; k < lv.K; k++) {
        const i = Math.floor(rand() * n);
        for (let d = 0; d < lv.D; d++) book[k * lv.D + d] = pool[i * lv.D + d] + 0.01 * gauss(rand);
      }
      return book;
    }));
  }

  /** Per level, per slice: features as n × D. */
  private features(rand: Rand, calibration: boolean): Float32Array[][] {
    const reps = calibration ? 3 : 1;
    const out: Float32Array[][] = this.levels.map((lv) => Array.from({ length: lv.M }, () => new Float32Array(0)));
    for (let r = 0; r < reps; r++) {
      const C = this.scene.channels, s = this.size;
      const f = scene(s, s, rand, this.scene);
      this.levels.forEach((lv, l) => {
        const pooled = lv.rel === 1 ? f : avgPool(f, C, s, s, lv.rel);
        const n = (s / lv.rel) * (s / lv.rel);
        for (let m = 0; m < lv.M; m++) {
          const z = new Float32Array(n * lv.D), A = this.mix[l][m];
          for (let i = 0; i < n; i++) for (let d = 0; d < lv.D; d++) {
            let acc = 0;
            for (let c = 0; c < C; c++) acc += A[d * C + c] * pooled[c * n + i];
            z[i * lv.D + d] = acc;
          }
          const prev = out[l][m], cat = new Float32Array(prev.length + z.length);
          cat.set(prev);
          cat.set(z, prev.length);
          out[l][m] = cat;
        }
      });
    }
    return out;
  }

  /** Index maps of one random image, TOP level first (levels are given finest first). */
  sample(seed: number): LevelIndices[] {
    const feats = this.features(rng(seed), false);
    const maps = this.levels.map((lv, l) => {
      const side = this.size / lv.rel, n = side * side, indices = new Uint16Array(lv.M * n);
      for (let m = 0; m < lv.M; m++) nearest(feats[l][m], this.books[l][m], lv.K, lv.D, indices.subarray(m * n, (m + 1) * n));
      return { M: lv.M, h: side, w: side, K: lv.K, indices };
    });
    return maps.reverse();
  }
}

function nearest(z: Float32Array, book: Float32Array, K: number, D: number, out: Uint16Array): void {
  for (let i = 0; i < out.length; i++) {
    let best = 0, bestD = Infinity;
    for (let k = 0; k < K; k++) {
      let dist = 0;
      for (let d = 0; d < D; d++) {
        const e = z[i * D + d] - book[k * D + d];
        dist += e * e;
      }
      if (dist < bestD) { bestD = dist; best = k; }
    }
    out[i] = best;
  }
}

/** i.i.d. indices from a Zipf-like distribution over a random permutation (fixed by `seed`) of 0..K-1. */
export function iidMap(M: number, h: number, w: number, K: number, seed: number, drawSeed = seed, exponent = 1.1): LevelIndices {
  let rand = rng(seed);
  const perm = Array.from({ length: K }, (_, i) => i);
  for (let i = K - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [perm[i], perm[j]] = [perm[j], perm[i]]; }
  const cdf = new Float64Array(K);
  let acc = 0;
  for (let k = 0; k < K; k++) cdf[k] = acc += 1 / Math.pow(k + 1, exponent);
  rand = rng(drawSeed ^ 0x5bd1e995);
  const indices = new Uint16Array(M * h * w);
  for (let i = 0; i < indices.length; i++) {
    const u = rand() * acc;
    let lo = 0, hi = K - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid] > u) hi = mid; else lo = mid + 1; }
    indices[i] = perm[lo];
  }
  return { M, h, w, K, indices };
}

/** Uniformly random indices (incompressible). */
export function randomMap(M: number, h: number, w: number, K: number, seed: number): LevelIndices {
  const rand = rng(seed);
  return { M, h, w, K, indices: Uint16Array.from({ length: M * h * w }, () => Math.floor(rand() * K)) };
}

export interface CoefOptions {
  /** Probability that a value is 0. */
  zeros?: number;
  /** Mean magnitude of a nonzero value (Laplacian-like). */
  scale?: number;
  /** Amplitude of a smooth spatial pattern added to every codebook (for the 'med' predictor). */
  smooth?: number;
}

/** A coefficient-like map: mostly zeros, Laplacian magnitudes, optionally a smooth pattern, clamped to K. */
export function coefMap(M: number, h: number, w: number, K: number, seed: number, o: CoefOptions = {}): LevelIndices {
  const rand = rng(seed);
  const half = Math.floor(K / 2);
  const zeros = o.zeros ?? 0.8;
  const scale = o.scale ?? 1.5;
  const indices = new Uint16Array(M * h * w);
  for (let m = 0; m < M; m++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = o.smooth ? Math.round(o.smooth * Math.sin((x + 2 * m) / 5) * Math.cos(y / 7)) : 0;
        if (rand() >= zeros) {
          const mag = 1 + Math.floor(-Math.log(1 - rand()) * scale);
          v += rand() < 0.5 ? -mag : mag;
        }
        indices[(m * h + y) * w + x] = Math.max(0, Math.min(K - 1, v + half));
      }
    }
  }
  return { M, h, w, K, indices };
}
