/**
 * Index maps ⇄ complete .dqc files: the container plus one entropy-coded stream per level.
 */
import { decodeAlphaPlane, encodeAlphaPlane } from './alpha.js';
import { alphaSection, checkNoTrailing, DEFAULT_LIMITS, hasAlphaSection, levelStream, readHeader, writeContainer, type ContainerLimits, type DqcHeader } from './container.js';
import { DqcError } from './errors.js';
import { resolveTables } from './entropy/level.js';
import { decodeLevelCompiled, encodeLevelCompiled, type EntropyMethod } from './entropy/model.js';
import type { CompiledLevelTables, EntropyTables } from './entropy/tables.js';
import { checkCoefficientFits, coefficientTablesCrc, compileCoefficientTables, decodeCoefficientLevel, encodeCoefficientLevel, isCoefficientTables, type CoefficientTables } from './entropy/coefficient.js';
import { checkPriorFits, compilePriorTables, decodePriorLevel, encodePriorLevel, isPriorTables, priorTablesCrc, type PriorTables } from './entropy/prior.js';
import type { LevelIndices, LevelIndicesInput, LevelSpec } from './entropy/types.js';

/** Image facts stored in the header. */
export interface ImageMeta {
  /** Model fingerprint (the manifest's hex SHA-256); decoders refuse files from another model. */
  fingerprint: string;
  width: number;
  height: number;
  channels: number;
  paddedWidth: number;
  paddedHeight: number;
}

/**
 * A model's entropy statistics (manifest.entropy): tables for the 'static'/'context' methods
 * (distortion-only models, fitted after training), the learned prior of a rate model, which
 * codes with the 'conditional' method, or a transform model's coefficient tables (the
 * 'coefficient' method).
 */
export type ModelTables = EntropyTables | PriorTables | CoefficientTables;

/** The one method a kind of tables allows, or null for 'static'/'context' tables (and none). */
function onlyMethod(tables: ModelTables | undefined): EntropyMethod | null {
  return isPriorTables(tables) ? 'conditional' : isCoefficientTables(tables) ? 'coefficient' : null;
}

export interface EncodeOptions {
  /**
   * Default 'context'; 'conditional' for prior tables and 'coefficient' for coefficient tables
   * (the only method each of those supports).
   */
  method?: EntropyMethod;
  limits?: ContainerLimits;
  /** The alpha plane (width × height bytes, row-major): required exactly when meta.channels is 2 or 4 (§2.3). */
  alpha?: Uint8Array;
}

export interface DecodeOptions {
  /** The model's entropy tables (manifest.entropy); omit only for files written without tables. */
  tables?: ModelTables;
  /** A rate model's learned prior (manifest.prior): used for 'conditional' files when given. */
  prior?: PriorTables;
  /** When given, a file from another model fails with DqcError('MODEL_MISMATCH'). */
  expectedFingerprint?: string;
  /** Decode only the top N levels (progressive preview); `bytes` then need only reach the end of stream N. */
  maxLevels?: number;
  /**
   * Decode the alpha section of a 2- or 4-channel image (§2.3), which follows the last level
   * stream. Default: true when every level is decoded, false for a preview (maxLevels).
   */
  alpha?: boolean;
  limits?: ContainerLimits;
}

export interface DecodedIndices {
  header: DqcHeader;
  /** Decoded levels, top first; only the first maxLevels when that option is set. */
  levels: LevelIndices[];
  /** The alpha plane (width × height) when the image has one and it was decoded, else null. */
  alpha: Uint8Array | null;
}

/**
 * Encode index maps (TOP level first) into a complete .dqc file. `levels` may be fewer than the
 * tables describe: the file then holds the model's top levels only (coded with the tables' first
 * entries; tablesCrc still identifies the whole table set).
 */
export function encodeIndices(levels: LevelIndicesInput[], meta: ImageMeta, tables?: ModelTables, options: EncodeOptions = {}): Uint8Array {
  const only = onlyMethod(tables);
  const method = options.method ?? only ?? 'context';
  if (only !== null && method !== only) {
    throw new DqcError('BAD_TABLES', only === 'conditional' ? `a learned prior codes with the 'conditional' method only (asked for '${method}')` : `coefficient tables code with the 'coefficient' method only (asked for '${method}')`);
  }
  if (only === null && (method === 'conditional' || method === 'coefficient')) {
    throw new DqcError('BAD_TABLES', method === 'conditional' ? "the 'conditional' method needs a learned prior (a rate model's tables)" : "the 'coefficient' method needs coefficient tables (a transform model's tables)");
  }
  const specs: LevelSpec[] = levels.map(({ M, K }) => ({ M, K }));
  const coder = levelCoder(specs, tables);
  const fields = { ...meta, method, tablesCrc: coder.crc, levels: levels.map(({ M, h, w, K }) => ({ M, h, w, K })) };
  const withAlpha = hasAlphaSection(meta.channels);
  if (withAlpha !== (options.alpha !== undefined)) {
    throw new DqcError('BAD_HEADER', `an image with ${meta.channels} channels ${withAlpha ? 'needs' : 'must not have'} an alpha plane`);
  }
  const placeholder = withAlpha ? new Uint8Array(1) : null;
  // Validate the header before the (expensive) coding so bad shapes fail fast with a clear code.
  writeContainer(fields, levels.map(() => new Uint8Array(0)), options.limits, placeholder);
  const streams = levels.map((lv, i) => coder.encode(lv, i > 0 ? levels[i - 1] : null, i, method));
  const alpha = options.alpha !== undefined ? encodeAlphaPlane(options.alpha, meta.width, meta.height) : null;
  return writeContainer(fields, streams, options.limits, alpha);
}

/** Decode a .dqc file (or, with maxLevels, a prefix holding the first streams) into index maps. */
export function decodeIndices(bytes: Uint8Array, options: DecodeOptions = {}): DecodedIndices {
  const header = readHeader(bytes, options.limits ?? DEFAULT_LIMITS);
  if (options.expectedFingerprint !== undefined && header.fingerprint !== options.expectedFingerprint) {
    throw new DqcError(
      'MODEL_MISMATCH',
      `file was encoded by model ${header.fingerprint.slice(0, 16)}…, not the loaded model ${options.expectedFingerprint.slice(0, 16)}…`,
    );
  }
  const specs = header.levels.map(({ M, K }) => ({ M, K }));
  const tables = header.method === 'conditional' && options.prior ? options.prior : options.tables;
  if ((header.method === 'conditional') !== isPriorTables(tables)) {
    throw new DqcError('MODEL_MISMATCH', header.method === 'conditional' ? 'file was coded with a learned prior, but the tables supplied are not one (check the model manifest)' : 'file was coded without a learned prior, but the model has one (check the model manifest)');
  }
  if ((header.method === 'coefficient') !== isCoefficientTables(tables)) {
    throw new DqcError('MODEL_MISMATCH', header.method === 'coefficient' ? 'file was coded with the coefficient method, but the tables supplied are not coefficient tables (check the model manifest)' : `file was coded with the '${header.method}' method, but the model has coefficient tables (check the model manifest)`);
  }
  const coder = levelCoder(specs, tables);
  if (coder.crc !== header.tablesCrc) {
    throw new DqcError('MODEL_MISMATCH', 'file was entropy-coded with different tables than the ones supplied (check the model manifest)');
  }
  const count = Math.max(0, Math.min(options.maxLevels ?? header.levels.length, header.levels.length));
  const all = count === header.levels.length;
  const withAlpha = hasAlphaSection(header.channels) && (options.alpha ?? all);
  let alphaPayload: Uint8Array | null = null;
  if (withAlpha) {
    const section = alphaSection(bytes, header);
    if (all) checkNoTrailing(bytes, section.end);
    alphaPayload = section.payload;
  } else if (all && !hasAlphaSection(header.channels)) {
    checkNoTrailing(bytes, header.totalLength);
  }
  const levels: LevelIndices[] = [];
  for (let i = 0; i < count; i++) {
    const lv = header.levels[i];
    const indices = coder.decode(levelStream(bytes, header, i), lv, i > 0 ? levels[i - 1] : null, i, header.method);
    levels.push({ M: lv.M, h: lv.h, w: lv.w, K: lv.K, indices });
  }
  const alpha = alphaPayload ? decodeAlphaPlane(alphaPayload, header.width, header.height) : null;
  return { header, levels, alpha };
}

/**
 * The statistics a model manifest carries: `entropy`, what encoding uses by default, and for a
 * rate model its learned `prior` (the 'conditional' method). A rate model whose `entropy` holds
 * 'context' tables fitted to its codes (dqcodec fit-entropy) codes with those by default and
 * still reads 'conditional' files through `prior`. A transform model's `entropy` holds coefficient
 * tables: it codes with the 'coefficient' method (and 'conditional' only if it also has a prior).
 */
export interface ModelStatistics {
  entropy?: ModelTables;
  prior?: PriorTables;
}

/** The tables and method to encode with: `method` if given (checked), else the model's default. */
export function encodingTables(stats: ModelStatistics, method?: EntropyMethod): { tables: ModelTables | undefined; method: EntropyMethod } {
  const prior = stats.prior ?? (isPriorTables(stats.entropy) ? stats.entropy : undefined);
  const coefficient = isCoefficientTables(stats.entropy);
  if (method === 'coefficient' || (method === undefined && coefficient)) {
    if (!coefficient) throw new DqcError('BAD_TABLES', "the 'coefficient' method needs a transform model (coefficient tables in its manifest)");
    return { tables: stats.entropy, method: 'coefficient' };
  }
  if (coefficient && method !== 'conditional') {
    throw new DqcError('BAD_TABLES', `this transform model has no tables for the '${method}' method; its own method is 'coefficient'`);
  }
  if (method === undefined) return isPriorTables(stats.entropy) || (stats.entropy === undefined && prior) ? { tables: prior, method: 'conditional' } : { tables: stats.entropy, method: 'context' };
  if (method === 'conditional') {
    if (!prior) throw new DqcError('BAD_TABLES', "the 'conditional' method needs a rate model (a learned prior in its manifest)");
    return { tables: prior, method };
  }
  if (isPriorTables(stats.entropy)) {
    throw new DqcError('BAD_TABLES', `this rate model has no tables for the '${method}' method (dqcodec fit-entropy fits them); its own method is 'conditional'`);
  }
  return { tables: stats.entropy, method };
}

/** Codes levels with either kind of tables; `parent` is the level above (used by a prior only). */
interface LevelCoder {
  crc: number;
  encode(level: LevelIndicesInput, parent: LevelIndicesInput | null, i: number, method: EntropyMethod): Uint8Array;
  decode(bytes: Uint8Array, shape: LevelSpec & { h: number; w: number }, parent: LevelIndices | null, i: number, method: EntropyMethod): Uint16Array;
}

function levelCoder(specs: LevelSpec[], tables: ModelTables | undefined): LevelCoder {
  if (isCoefficientTables(tables)) {
    const coef = compileCoefficientTables(tables);
    checkCoefficientFits(specs, coef);
    return {
      crc: coefficientTablesCrc(coef),
      encode: (lv, _parent, i) => encodeCoefficientLevel(lv, coef[i]),
      decode: (bytes, shape, _parent, i) => decodeCoefficientLevel(bytes, shape, coef[i]),
    };
  }
  if (isPriorTables(tables)) {
    const prior = compilePriorTables(tables);
    checkPriorFits(specs, prior);
    return {
      crc: priorTablesCrc(prior),
      encode: (lv, parent, i) => encodePriorLevel(lv, parent, prior[i]),
      decode: (bytes, shape, parent, i) => decodePriorLevel(bytes, shape, parent, prior[i]),
    };
  }
  const resolved = resolveTables(specs, tables);
  checkTablesFit(specs, resolved.levels);
  return {
    crc: resolved.crc,
    encode: (lv, _parent, i, method) => encodeLevelCompiled(lv, resolved.levels[i], method),
    decode: (bytes, shape, _parent, i, method) => decodeLevelCompiled(bytes, shape, resolved.levels[i], method),
  };
}

/** The file's levels must be the tables' first (top) levels: fewer is allowed, more is not. */
function checkTablesFit(specs: LevelSpec[], tables: CompiledLevelTables[]): void {
  if (tables.length < specs.length) {
    throw new DqcError('MODEL_MISMATCH', `entropy tables describe ${tables.length} levels but the file has ${specs.length}`);
  }
  specs.forEach((s, i) => {
    if (s.M !== tables[i].M || s.K !== tables[i].K) {
      throw new DqcError('MODEL_MISMATCH', `level ${i} has M=${s.M}, K=${s.K} but the entropy tables say M=${tables[i].M}, K=${tables[i].K}`);
    }
  });
}
