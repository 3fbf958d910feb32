/**
 * Transform-coding models: a fixed block-DCT path that starts at transform-coding quality, a
 * scalar grid quantizer (DQ with D = 1 on a fixed lattice), and a learned refiner in the
 * decoder (issue #15: "a fixed linear transform path ... so that the model starts at
 * transform-coding quality and the learned layers add to it").
 *
 * Two levels, as every dqcodec model has (bottom first):
 *   level 0, stride 8:  192 channels, the 8×8 DCT of Y, Cb, Cr (zigzag order per colour), each
 *                       coefficient divided by its step; the DC channels hold the residual
 *                       after the top level's prediction (Algorithm 1: the bottom level is
 *                       quantized given the decoded top).
 *   level 1, stride 16: 3 channels, the 16×16 block means of Y, Cb, Cr: a coarse image on its
 *                       own (the progressive preview) and the DC predictor of level 0.
 *
 * One network serves every operating point: quality q scales the step table by qualities[q−1],
 * and the refiner is told log2 of that scale. Each operating point is exported as its own model
 * directory (the steps are folded into the graphs), so a .dqc file names exactly one model.
 */

export interface RefinerConfig {
  /** Hidden width of the refiner (it works on the coefficient grid at stride 8). */
  channels: number;
  resBlocks: number;
  resHidden: number;
}

export interface TransformConfig {
  name: string;
  kind: 'transform';
  /** Codes per grid level: index k stands for the integer k − K/2. */
  K: number;
  /** Step of every luma coefficient at scale 1 (flat table: equal steps minimise MSE for an orthonormal transform). */
  lumaStep: number;
  /** Step of every chroma coefficient at scale 1. */
  chromaStep: number;
  /** Steps grow by (1 + tilt·(u + v)) with frequency (u, v); 0 = flat. */
  tilt: number;
  /** Step of the top level's block means, as a multiple of the DC step in mean units (DC step / 8), capped at topMaxStep. */
  topStep: number;
  topMaxStep: number;
  /**
   * Rounding offset of level-0 AC coefficients: value = sign(t)·⌊|t| + deadzone⌋ (0.5 = plain
   * rounding; smaller zeroes more small coefficients, which saves more bits than it costs
   * quality: a deadzone quantizer). DC channels always round to nearest. Default 0.5.
   */
  deadzone: number;
  /** Reconstruction of a nonzero AC value v: (v − sign(v)·shrink)·step (towards the Laplacian centroid). Default 0. */
  shrink: number;
  /** Step scale of each operating point, quality 1 (smallest files) first. */
  qualities: number[];
  refiner: RefinerConfig;
}

export class TransformConfigError extends Error {
  override name = 'TransformConfigError';
}

export const BLOCK = 8;
export const COEFFS = BLOCK * BLOCK;
/** Level strides, bottom first. */
export const STRIDES = [8, 16] as const;

export function isTransformConfig(c: unknown): c is TransformConfig {
  return typeof c === 'object' && c !== null && (c as { kind?: unknown }).kind === 'transform';
}

function num(o: Record<string, unknown>, key: string, min: number, max: number, integer = false): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new TransformConfigError(`config.${key} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  }
  return v;
}

export function parseTransformConfig(json: unknown): TransformConfig {
  if (!isTransformConfig(json)) throw new TransformConfigError('config.kind must be "transform"');
  const o = json as unknown as Record<string, unknown>;
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.name)) throw new TransformConfigError('config.name must be 1–64 characters of [A-Za-z0-9._-]');
  const q = o.qualities;
  if (!Array.isArray(q) || q.length < 1 || q.length > 32 || q.some((s) => typeof s !== 'number' || !(s > 0) || !Number.isFinite(s))) {
    throw new TransformConfigError('config.qualities must be 1–32 positive step scales, quality 1 first');
  }
  for (let i = 1; i < q.length; i++) if (!((q[i] as number) < (q[i - 1] as number))) throw new TransformConfigError('config.qualities must decrease (quality 1 = the coarsest steps)');
  const r = o.refiner as Record<string, unknown> | undefined;
  if (typeof r !== 'object' || r === null) throw new TransformConfigError('config.refiner must be an object');
  const cfg: TransformConfig = {
    name: o.name,
    kind: 'transform',
    K: num(o, 'K', 16, 65536, true),
    lumaStep: num(o, 'lumaStep', 0.01, 1000),
    chromaStep: num(o, 'chromaStep', 0.01, 1000),
    tilt: num(o, 'tilt', 0, 10),
    topStep: num(o, 'topStep', 0.01, 100),
    topMaxStep: num(o, 'topMaxStep', 0.01, 1000),
    deadzone: o.deadzone === undefined ? 0.5 : num(o, 'deadzone', 0, 0.5),
    shrink: o.shrink === undefined ? 0 : num(o, 'shrink', 0, 0.5),
    qualities: q as number[],
    refiner: {
      channels: num(r, 'channels', 1, 1024, true),
      resBlocks: num(r, 'resBlocks', 0, 16, true),
      resHidden: num(r, 'resHidden', 1, 1024, true),
    },
  };
  return cfg;
}

/** Zigzag scan order of an 8×8 block: ZIGZAG[j] = u·8 + v of the j-th coefficient. */
export const ZIGZAG: readonly number[] = (() => {
  const out: number[] = [];
  for (let s = 0; s < 2 * BLOCK - 1; s++) {
    const cells: number[] = [];
    for (let u = 0; u < BLOCK; u++) {
      const v = s - u;
      if (v >= 0 && v < BLOCK) cells.push(u * BLOCK + v);
    }
    out.push(...(s % 2 === 0 ? cells.reverse() : cells));
  }
  return out;
})();

/** Steps of the 192 level-0 channels (colour-major, zigzag within a colour) at step scale `scale`. */
export function coefficientSteps(cfg: TransformConfig, scale: number): Float32Array {
  const steps = new Float32Array(3 * COEFFS);
  for (let c = 0; c < 3; c++) {
    for (let j = 0; j < COEFFS; j++) {
      const uv = ZIGZAG[j];
      const f = (uv >> 3) + (uv & 7);
      steps[c * COEFFS + j] = (c === 0 ? cfg.lumaStep : cfg.chromaStep) * scale * (1 + cfg.tilt * f);
    }
  }
  return steps;
}

/** Per level-0 channel: rounding offset (0.5 on the DC channels, cfg.deadzone on AC) and reconstruction shrink (0 on DC). */
export function deadzoneVectors(cfg: TransformConfig): { round: Float32Array; shrink: Float32Array } {
  const round = new Float32Array(3 * COEFFS).fill(cfg.deadzone);
  const shrink = new Float32Array(3 * COEFFS).fill(cfg.shrink);
  for (let c = 0; c < 3; c++) {
    round[c * COEFFS] = 0.5;
    shrink[c * COEFFS] = 0;
  }
  return { round, shrink };
}

/** Steps of the 3 top-level channels (block means on the 0–255 scale) at step scale `scale`. */
export function topSteps(cfg: TransformConfig, scale: number): Float32Array {
  const dc = coefficientSteps(cfg, scale);
  // The DC coefficient of an orthonormal 8×8 DCT is 8 × the block mean.
  return Float32Array.from([0, 1, 2], (c) => Math.min((cfg.topStep * dc[c * COEFFS]) / BLOCK, cfg.topMaxStep));
}
