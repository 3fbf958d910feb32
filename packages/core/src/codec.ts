/**
 * Index maps ⇄ complete .dqc files: the container plus one entropy-coded stream per level.
 */
import { decodeAlphaPlane, encodeAlphaPlane } from './alpha.js';
import { alphaSection, checkNoTrailing, DEFAULT_LIMITS, hasAlphaSection, levelStream, readHeader, writeContainer, type ContainerLimits, type DqcHeader } from './container.js';
import { DqcError } from './errors.js';
import { resolveTables } from './entropy/level.js';
import { decodeLevelCompiled, encodeLevelCompiled, type EntropyMethod } from './entropy/model.js';
import type { CompiledLevelTables, EntropyTables } from './entropy/tables.js';
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

export interface EncodeOptions {
  /** Default 'context'. */
  method?: EntropyMethod;
  limits?: ContainerLimits;
  /** The alpha plane (width × height bytes, row-major): required exactly when meta.channels is 2 or 4 (§2.3). */
  alpha?: Uint8Array;
}

export interface DecodeOptions {
  /** The model's entropy tables (manifest.entropy); omit only for files written without tables. */
  tables?: EntropyTables;
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
export function encodeIndices(levels: LevelIndicesInput[], meta: ImageMeta, tables?: EntropyTables, options: EncodeOptions = {}): Uint8Array {
  const method = options.method ?? 'context';
  const specs: LevelSpec[] = levels.map(({ M, K }) => ({ M, K }));
  const resolved = resolveTables(specs, tables);
  checkTablesFit(specs, resolved.levels);
  const fields = { ...meta, method, tablesCrc: resolved.crc, levels: levels.map(({ M, h, w, K }) => ({ M, h, w, K })) };
  const withAlpha = hasAlphaSection(meta.channels);
  if (withAlpha !== (options.alpha !== undefined)) {
    throw new DqcError('BAD_HEADER', `an image with ${meta.channels} channels ${withAlpha ? 'needs' : 'must not have'} an alpha plane`);
  }
  const placeholder = withAlpha ? new Uint8Array(1) : null;
  // Validate the header before the (expensive) coding so bad shapes fail fast with a clear code.
  writeContainer(fields, levels.map(() => new Uint8Array(0)), options.limits, placeholder);
  const streams = levels.map((lv, i) => encodeLevelCompiled(lv, resolved.levels[i], method));
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
  const resolved = resolveTables(specs, options.tables);
  checkTablesFit(specs, resolved.levels);
  if (resolved.crc !== header.tablesCrc) {
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
    const indices = decodeLevelCompiled(levelStream(bytes, header, i), lv, resolved.levels[i], header.method);
    levels.push({ M: lv.M, h: lv.h, w: lv.w, K: lv.K, indices });
  }
  const alpha = alphaPayload ? decodeAlphaPlane(alphaPayload, header.width, header.height) : null;
  return { header, levels, alpha };
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
