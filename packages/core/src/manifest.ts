/**
 * manifest.json: the model bundle's description. Written by the exporter (packages/train),
 * read by every decoder, so it is validated field by field with messages that name the field.
 */
import { MAX_LEVELS, MAX_M, type ContainerLimits, type DqcHeader } from './container.js';
import { DqcError, isDqcError } from './errors.js';
import { compileTables } from './entropy/tables.js';
import { compilePriorTables, isPriorTables, type PriorTables } from './entropy/prior.js';
import { compileCoefficientTables, isCoefficientTables } from './entropy/coefficient.js';
import type { ModelTables } from './codec.js';
import type { LevelSpec } from './entropy/types.js';

export const MANIFEST_FORMAT_VERSION = 1;
/** Largest config.resBlocks accepted (the trainer allows 16): it sizes the receptive-field walk and the tile margins. */
export const MAX_RES_BLOCKS = 64;
/** Largest tileMargins override accepted, in image pixels: a margin this wide already makes every tile the whole image. */
export const MAX_TILE_MARGIN = 16384;

/**
 * Two fingerprints for a message, each cut to the same length, long enough to tell them apart
 * (16 characters, or 4 past the first difference; whole when that is most of them).
 */
export function fingerprintPair(a: string, b: string): [string, string] {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const n = Math.max(16, i + 4);
  const cut = (s: string): string => (s.length <= n + 8 ? s : `${s.slice(0, n)}…`);
  return [cut(a), cut(b)];
}

/** One quantised level as the model defines it. */
export interface ManifestLevel {
  /** Codebooks (depthwise slices). */
  M: number;
  /** Codes per codebook. */
  K: number;
  /** Dimension of each code. */
  D: number;
  /** Stride relative to the image (power of two, increasing from bottom to top). */
  stride: number;
}

export interface Manifest {
  /** Fields this parser does not know (e.g. the exporter's `io`) are kept as-is, unvalidated. */
  [extra: string]: unknown;
  formatVersion: 1;
  name: string;
  /** Model architecture; owned and validated by packages/train. */
  config: unknown;
  /** Levels BOTTOM first (level 0 = finest), as the model defines them. The .dqc file stores them top first. */
  levels: ManifestLevel[];
  /** Images are padded to a multiple of this. */
  totalStride: number;
  imageRange: [0, 1];
  /** Graph file names, relative to the manifest. */
  graphs: { encoder: string; quantizer: string; decoder: string };
  /** Lowercase hex SHA-256 of the graphs (computed by the exporter); written into every .dqc file. */
  fingerprint: string;
  /**
   * Entropy statistics, levels TOP first: 'static'/'context' tables fitted after training, a
   * rate model's learned prior ('conditional' method, format "dqc-prior"), or a transform model's
   * coefficient tables ('coefficient' method, format "dqc-coefficients").
   */
  entropy?: ModelTables;
  /** A rate model's learned prior (the 'conditional' method), levels TOP first; see docs/format.md §6.7. */
  prior?: PriorTables;
}

function fail(field: string, msg: string): DqcError {
  return new DqcError('BAD_MANIFEST', `manifest.json: field ${field} ${msg}`);
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(field, 'must be an object');
  return v as Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string, field: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw fail(field, `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  }
  return v;
}

function isPow2(n: number): boolean {
  return Number.isInteger(Math.log2(n));
}

/** A relative path of plain segments: no absolute paths, no '.'/'..', no backslashes. */
function graphFile(g: Record<string, unknown>, key: string): string {
  const v = g[key];
  const ok = typeof v === 'string' && v.length <= 256 && v.split('/').every((seg) => /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(seg));
  if (!ok) throw fail(`graphs.${key}`, `must be a relative file name like "${key}.onnx" (got ${JSON.stringify(v)})`);
  return v as string;
}

function parseLevels(raw: unknown): ManifestLevel[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_LEVELS) throw fail('levels', `must be an array of 1 to ${MAX_LEVELS} levels (bottom first)`);
  const levels = raw.map((l, i): ManifestLevel => {
    const f = `levels[${i}]`;
    const o = obj(l, f);
    const stride = int(o, 'stride', `${f}.stride`, 1, 65536);
    if (!isPow2(stride)) throw fail(`${f}.stride`, `must be a power of two (got ${stride})`);
    return { M: int(o, 'M', `${f}.M`, 1, MAX_M), K: int(o, 'K', `${f}.K`, 2, 65536), D: int(o, 'D', `${f}.D`, 1, 65536), stride };
  });
  levels.forEach((l, i) => {
    if (i > 0 && l.stride <= levels[i - 1].stride) {
      throw fail(`levels[${i}].stride`, `must be larger than levels[${i - 1}].stride (levels are bottom first)`);
    }
  });
  return levels;
}

function parseEntropy(raw: unknown, levels: ManifestLevel[], field = 'entropy'): ModelTables {
  try {
    if (isPriorTables(raw)) compilePriorTables(raw);
    else if (isCoefficientTables(raw)) compileCoefficientTables(raw);
    else compileTables(raw);
  } catch (e) {
    if (isDqcError(e, 'BAD_TABLES')) throw new DqcError('BAD_MANIFEST', `manifest.json: field ${field}: ${e.message}`);
    throw e;
  }
  const tables = raw as ModelTables;
  const top = levelSpecsTopFirst({ levels });
  if (tables.levelsTopFirst.length !== top.length) {
    throw fail(`${field}.levelsTopFirst`, `must have ${top.length} levels like "levels" (got ${tables.levelsTopFirst.length})`);
  }
  tables.levelsTopFirst.forEach((t, i) => {
    const src = `levels[${levels.length - 1 - i}]`;
    for (const key of ['M', 'K'] as const) {
      if (t[key] !== top[i][key]) throw fail(`${field}.levelsTopFirst[${i}].${key}`, `must equal ${src}.${key} = ${top[i][key]} (got ${t[key]})`);
    }
  });
  return tables;
}

/** Validate an untrusted manifest.json value; throws DqcError('BAD_MANIFEST') naming the bad field. */
export function parseManifest(json: unknown): Manifest {
  const o = obj(json, '(root)');
  if (o.formatVersion !== MANIFEST_FORMAT_VERSION) {
    const v = o.formatVersion;
    // A model exported by a newer dqcodec is the likely case; say what to do about it.
    if (typeof v === 'number' && Number.isInteger(v) && v > MANIFEST_FORMAT_VERSION) {
      throw fail('formatVersion', `is ${v}: the model was exported by a newer dqcodec (this one reads version ${MANIFEST_FORMAT_VERSION}); upgrade dqcodec`);
    }
    throw fail('formatVersion', `must be ${MANIFEST_FORMAT_VERSION} (got ${JSON.stringify(v)})`);
  }
  if (typeof o.name !== 'string' || o.name.length < 1 || o.name.length > 256) throw fail('name', 'must be a non-empty string');
  if (o.config === undefined) throw fail('config', 'is required');
  // config belongs to packages/train, but the fields that size work here are range-checked.
  if (typeof o.config === 'object' && o.config !== null && !Array.isArray(o.config)) {
    const c = o.config as Record<string, unknown>;
    if (c.resBlocks !== undefined) int(c, 'resBlocks', 'config.resBlocks', 0, MAX_RES_BLOCKS);
  }
  if (o.tileMargins !== undefined) {
    const t = obj(o.tileMargins, 'tileMargins');
    for (const k of ['encoder', 'decoder']) int(t, k, `tileMargins.${k}`, 0, MAX_TILE_MARGIN);
  }
  const levels = parseLevels(o.levels);
  const top = levels[levels.length - 1].stride;
  const totalStride = int(o, 'totalStride', 'totalStride', 1, 65536);
  if (!isPow2(totalStride) || totalStride % top !== 0) {
    throw fail('totalStride', `must be a power of two and a multiple of the top level's stride ${top} (got ${totalStride})`);
  }
  const range = o.imageRange;
  if (!Array.isArray(range) || range.length !== 2 || range[0] !== 0 || range[1] !== 1) throw fail('imageRange', 'must be [0, 1]');
  const g = obj(o.graphs, 'graphs');
  const graphs = { encoder: graphFile(g, 'encoder'), quantizer: graphFile(g, 'quantizer'), decoder: graphFile(g, 'decoder') };
  if (typeof o.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(o.fingerprint)) {
    throw fail('fingerprint', 'must be a lowercase hex SHA-256 (64 characters)');
  }
  const manifest: Manifest = {
    ...o,
    formatVersion: 1,
    name: o.name,
    config: o.config,
    levels,
    totalStride,
    imageRange: [0, 1],
    graphs,
    fingerprint: o.fingerprint,
  };
  if (o.entropy === undefined) delete manifest.entropy;
  else manifest.entropy = parseEntropy(o.entropy, levels);
  if (o.prior === undefined) delete manifest.prior;
  else {
    const prior = parseEntropy(o.prior, levels, 'prior');
    if (!isPriorTables(prior)) throw fail('prior.format', 'must be "dqc-prior"');
    manifest.prior = prior;
  }
  return manifest;
}

/** The manifest's levels as (M, K) in .dqc order: TOP first. */
export function levelSpecsTopFirst(manifest: Pick<Manifest, 'levels'>): LevelSpec[] {
  return manifest.levels.map(({ M, K }) => ({ M, K })).reverse();
}

/**
 * Check that a header belongs to this model and fits it: the same fingerprint (MODEL_MISMATCH),
 * padding a multiple of the total stride, and its levels the model's TOP levels, top first, with
 * their M, K and shapes (BAD_HEADER). A file may hold fewer levels than the model (a low-rate
 * operating point: the top levels only, decoded like a progressive preview), never more.
 */
export function checkHeaderFitsModel(header: DqcHeader, manifest: Pick<Manifest, 'name' | 'fingerprint' | 'levels' | 'totalStride'>): void {
  if (header.fingerprint !== manifest.fingerprint) {
    const [file, model] = fingerprintPair(header.fingerprint, manifest.fingerprint);
    throw new DqcError('MODEL_MISMATCH', `file was encoded by another model (fingerprint ${file}; the loaded model ${manifest.name} is ${model})`);
  }
  const L = manifest.levels.length;
  const n = header.levels.length;
  if (n > L) throw new DqcError('BAD_HEADER', `file has ${n} levels but model ${manifest.name} has only ${L}`);
  const S = manifest.totalStride;
  if (header.paddedWidth % S !== 0 || header.paddedHeight % S !== 0) {
    throw new DqcError('BAD_HEADER', `padded size ${header.paddedWidth}×${header.paddedHeight} is not a multiple of the model's stride ${S}`);
  }
  header.levels.forEach((lv, i) => {
    const ml = manifest.levels[L - 1 - i];
    if (lv.M !== ml.M || lv.K !== ml.K || lv.w * ml.stride !== header.paddedWidth || lv.h * ml.stride !== header.paddedHeight) {
      throw new DqcError('BAD_HEADER', `level ${i} of the file (M=${lv.M}, K=${lv.K}, ${lv.w}×${lv.h}) does not fit model ${manifest.name} (M=${ml.M}, K=${ml.K}, stride ${ml.stride})`);
    }
  });
}

/**
 * Default largest image (2^26 ≈ 67 megapixels, e.g. 8192×8192, padded size) that a decoder or
 * encoder holding a model accepts. The format allows 2^28 (what header-only readers such as
 * `dqcodec info` use), but pixels and working memory grow with the image (about 9 bytes per pixel
 * on top of the tile's working set in Node, BENCHMARKS.md "Hardening"; a browser also needs the
 * RGBA output), so a 300-byte file cannot make a decoder allocate gigabytes unless the caller
 * raised this.
 */
export const DEFAULT_MAX_PIXELS = 2 ** 26;

/**
 * The limits a codec holding this model checks every input against: maxPixels from the options
 * (default DEFAULT_MAX_PIXELS); maxIndices from the options, else the indices this model produces
 * for a maxPixels image (Σ M / stride²).
 */
export function limitsForModel(manifest: Pick<Manifest, 'levels'>, opts: ContainerLimits = {}): Required<ContainerLimits> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) throw new RangeError(`maxPixels must be a positive integer (got ${maxPixels})`);
  const perPixel = manifest.levels.reduce((sum, lv) => sum + lv.M / (lv.stride * lv.stride), 0);
  return { maxPixels, maxIndices: opts.maxIndices ?? Math.ceil(maxPixels * perPixel) };
}
