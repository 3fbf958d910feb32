/**
 * DQ-AE architecture configuration (JSON), validated with field-level error messages.
 *
 * Levels are listed BOTTOM first (level 0 = finest, smallest stride), as in Algorithm 1 of the
 * DQ paper where the encoder produces e_1 … e_L bottom to top.
 */

export interface LevelConfig {
  /** Total stride of this level relative to the image (power of two, increasing with level). */
  stride: number;
  /** Number of codebooks (DQ slices). M = 1 is plain VQ. */
  M: number;
  /** Codes per codebook. */
  K: number;
  /** Dimension of each code. */
  D: number;
  /**
   * Fixed scalar grid instead of a learned codebook (requires D = 1): code k is the value
   * (k − ⌊K/2⌋)·Δ with Δ fixed from the first batch, and training adds uniform noise in
   * [−Δ/2, Δ/2) instead of rounding (Ballé et al. 2017).
   * The scalar control of rate–distortion training. Default false.
   */
  grid?: boolean;
}

export interface QuantizerConfig {
  /** Commitment loss weight β. */
  beta: number;
  /** EMA decay γ of codebook statistics. */
  decay: number;
  /** Laplace smoothing ε of EMA cluster sizes. */
  eps: number;
  /** A code whose EMA usage count falls below this is re-initialised from encoder outputs. */
  deadThreshold: number;
  /**
   * How codes are assigned. 'nearest' (the DQ paper): the closest code of each slice.
   * 'entropy' (entropy-constrained, NVTC / ECVQ): argmin_k ||z − c_k||² + τ·ln2·bits(k | context),
   * with bits from the learned conditional prior of the codes (rate–distortion training).
   * Default 'nearest'.
   */
  assign?: 'nearest' | 'entropy';
  /**
   * Multiplier of the assignment temperature τ that λ implies (see DqAe.trainStep): 1 charges a
   * bit in the assignment what it costs in the loss; < 1 leans towards the nearest code. Default 1.
   */
  rateTemperature?: number;
}

export interface ModelConfig {
  name: string;
  levels: LevelConfig[];
  /** Hidden channel width of encoder, decoder, conditioning and upsampling networks. */
  channels: number;
  /** Residual blocks per encoder stage, conditioning decoder and final decoder. */
  resBlocks: number;
  /** Hidden width inside a residual block. */
  resHidden: number;
  quantizer: QuantizerConfig;
}

export const DEFAULT_QUANTIZER: QuantizerConfig = {
  beta: 0.25,
  decay: 0.99,
  eps: 1e-5,
  deadThreshold: 1.0,
};

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid config: ${field} ${message}`);
    this.name = 'ConfigError';
  }
}

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

function int(obj: Record<string, unknown>, key: string, field: string, min: number, max: number): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`${field}.${key}`.replace(/^\./, ''), `must be an integer (got ${JSON.stringify(v)})`);
  if (v < min || v > max) throw new ConfigError(`${field}.${key}`.replace(/^\./, ''), `must be in [${min}, ${max}] (got ${v})`);
  return v;
}

function num(obj: Record<string, unknown>, key: string, field: string, min: number, max: number, fallback: number): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(`${field}.${key}`, `must be a number in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  }
  return v;
}

function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(field, 'must be an object');
  return v as Record<string, unknown>;
}

/** Parse and validate an untrusted config object; throws ConfigError naming the bad field. */
export function parseModelConfig(raw: unknown): ModelConfig {
  const obj = record(raw, 'config');
  const name = obj.name ?? 'dqae';
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) throw new ConfigError('name', 'must be 1-64 characters of [A-Za-z0-9_.-]');
  if (!Array.isArray(obj.levels) || obj.levels.length < 1 || obj.levels.length > 4) {
    throw new ConfigError('levels', 'must be an array of 1 to 4 levels (bottom first)');
  }
  const levels = obj.levels.map((l, i): LevelConfig => {
    const f = `levels[${i}]`;
    const lv = record(l, f);
    const stride = int(lv, 'stride', f, 2, 256);
    if (!isPow2(stride)) throw new ConfigError(`${f}.stride`, `must be a power of two (got ${stride})`);
    const out: LevelConfig = { stride, M: int(lv, 'M', f, 1, 64), K: int(lv, 'K', f, 2, 65536), D: int(lv, 'D', f, 1, 1024) };
    if (lv.grid !== undefined) {
      if (typeof lv.grid !== 'boolean') throw new ConfigError(`${f}.grid`, `must be true or false (got ${JSON.stringify(lv.grid)})`);
      if (lv.grid && out.D !== 1) throw new ConfigError(`${f}.grid`, `needs D = 1 (got D = ${out.D})`);
      if (lv.grid) out.grid = true;
    }
    return out;
  });
  for (let i = 1; i < levels.length; i++) {
    if (levels[i].stride <= levels[i - 1].stride) {
      throw new ConfigError(`levels[${i}].stride`, `must be larger than levels[${i - 1}].stride (levels are bottom first)`);
    }
  }
  const q = record(obj.quantizer ?? {}, 'quantizer');
  const assign = q.assign ?? 'nearest';
  if (assign !== 'nearest' && assign !== 'entropy') throw new ConfigError('quantizer.assign', `must be "nearest" or "entropy" (got ${JSON.stringify(assign)})`);
  if (assign === 'entropy') {
    for (let i = 1; i < levels.length; i++) {
      // The prior of level i−1 is conditioned on level i's co-located codes: K_i contexts.
      if (levels[i - 1].M * levels[i - 1].K * levels[i].K > 1 << 24) {
        throw new ConfigError(`levels[${i - 1}]`, `M·K·K_parent must be at most 2^24 for the conditional prior (got ${levels[i - 1].M * levels[i - 1].K * levels[i].K})`);
      }
    }
  } else if (levels.some((l) => l.grid)) {
    throw new ConfigError('quantizer.assign', 'must be "entropy" for grid levels (a grid is only trained with a rate term)');
  }
  const extra: Partial<QuantizerConfig> = {};
  if (assign === 'entropy') {
    extra.assign = 'entropy';
    extra.rateTemperature = num(q, 'rateTemperature', 'quantizer', 1e-6, 1e6, 1);
  }
  return {
    name,
    levels,
    channels: int(obj, 'channels', '', 4, 1024),
    resBlocks: int(obj, 'resBlocks', '', 0, 16),
    resHidden: int(obj, 'resHidden', '', 1, 1024),
    quantizer: {
      beta: num(q, 'beta', 'quantizer', 0, 10, DEFAULT_QUANTIZER.beta),
      decay: num(q, 'decay', 'quantizer', 0, 0.99999, DEFAULT_QUANTIZER.decay),
      eps: num(q, 'eps', 'quantizer', 0, 1, DEFAULT_QUANTIZER.eps),
      deadThreshold: num(q, 'deadThreshold', 'quantizer', 0, 1e6, DEFAULT_QUANTIZER.deadThreshold),
      ...extra,
    },
  };
}

/** Total stride the image must be padded to. */
export function totalStride(cfg: ModelConfig): number {
  return cfg.levels[cfg.levels.length - 1].stride;
}

/** Raw (un-entropy-coded) rate of the model in bits per pixel: Σ M·log2(K) / stride². */
export function rawBitsPerPixel(cfg: ModelConfig): number {
  return cfg.levels.reduce((s, l) => s + (l.M * Math.log2(l.K)) / (l.stride * l.stride), 0);
}

/** Whether the model is trained and coded with a learned conditional prior (rate–distortion). */
export function isRateModel(cfg: ModelConfig): boolean {
  return cfg.quantizer.assign === 'entropy';
}

/** Contexts of level l's prior: K of the level above, or 1 at the top. */
export function priorContexts(cfg: ModelConfig, l: number): number {
  return l + 1 < cfg.levels.length ? cfg.levels[l + 1].K : 1;
}
