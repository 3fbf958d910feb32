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
    return { stride, M: int(lv, 'M', f, 1, 64), K: int(lv, 'K', f, 2, 65536), D: int(lv, 'D', f, 1, 1024) };
  });
  for (let i = 1; i < levels.length; i++) {
    if (levels[i].stride <= levels[i - 1].stride) {
      throw new ConfigError(`levels[${i}].stride`, `must be larger than levels[${i - 1}].stride (levels are bottom first)`);
    }
  }
  const q = record(obj.quantizer ?? {}, 'quantizer');
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
