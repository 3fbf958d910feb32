/**
 * @dqcodec/core: the .dqc container, entropy coding of code indices, manifests, tokens, metrics
 * and tile planning. Pure TypeScript with no Node APIs, so the same code runs in Node and in the
 * browser.
 */
export { DqcError, isDqcError, type DqcErrorCode } from './errors.js';
export { crc32 } from './crc32.js';
export { encodeAlphaPlane, decodeAlphaPlane } from './alpha.js';
export {
  FORMAT_VERSION,
  MAX_HEADER_BYTES,
  readContainer,
  readHeader,
  levelStream,
  alphaSection,
  hasAlphaSection,
  writeContainer,
  type Container,
  type ContainerLimits,
  type DqcHeader,
  type HeaderFields,
  type LevelHeader,
} from './container.js';
export type { LevelIndices, LevelIndicesInput, LevelShape, LevelSpec } from './entropy/types.js';
export type { EntropyMethod } from './entropy/model.js';
export type { EntropyLevelTables, EntropyTables } from './entropy/tables.js';
export { encodeLevel, decodeLevel, parseEntropyTables } from './entropy/level.js';
export { buildEntropyTables, type BuildTablesOptions } from './entropy/train.js';
export { encodeIndices, decodeIndices, type DecodeOptions, type DecodedIndices, type EncodeOptions, type ImageMeta, type ModelTables, encodingTables, type ModelStatistics } from './codec.js';
export {
  compilePriorTables,
  decodePriorLevel,
  encodePriorLevel,
  isPriorTables,
  MAX_PRIOR_ENTRIES,
  priorLevelBits,
  priorLevelToJson,
  type CompiledPriorLevel,
  type PriorLevelTables,
  type PriorTables,
} from './entropy/prior.js';
export {
  coefficientTablesFor,
  compileCoefficientTables,
  decodeCoefficients,
  encodeCoefficients,
  isCoefficientTables,
  parseCoefficientTables,
  COEF_TOKENS,
  type CoefficientLevelTables,
  type CoefficientPredict,
  type CoefficientTables,
  type CompiledCoefficientLevel,
} from './entropy/coefficient.js';
export {
  parseManifest,
  levelSpecsTopFirst,
  checkHeaderFitsModel,
  limitsForModel,
  fingerprintPair,
  DEFAULT_MAX_PIXELS,
  MAX_RES_BLOCKS,
  MAX_TILE_MARGIN,
  type Manifest,
  type ManifestLevel,
} from './manifest.js';
export { readNpy, writeNpy, type NpyArray } from './npy.js';
export {
  TOKENS_FORMAT,
  TOKENS_VERSION,
  makeTokenSet,
  npyFileName,
  npyIndices,
  parseTokens,
  tokensToJson,
  tokensSidecarJson,
  checkTokensForModel,
  type NpyLoader,
  type TokenImage,
  type TokenLevel,
  type TokenSet,
} from './tokens.js';
export { CodebookAnalyzer, type AnalysisLevelSpec, type CodebookStats, type LevelAnalysis, type LevelSummary } from './analysis.js';
export { miHeatmapSvg, type HeatmapOptions } from './heatmap.js';
export { bdRate, gaussianWindow, mse, msSsim, msSsimDb, MSSSIM_MIN_SIZE, MSSSIM_WEIGHTS, pchip, psnr, qualityAtRate, type Pchip, type RateRange, type RdPoint } from './metrics/index.js';
export { colourSamples, copyReconstruction, interleaveAlpha, type PixelLayout, type PixelRect, type ReconstructionRegion } from './pixels.js';
export { architectureMargins, modelMargins, planTiles, type ArchitectureSummary, type Rect, type Tile, type TileMargins } from './tiling.js';
export { familyMember, familyMemberByFingerprint, isFamilyJson, parseFamily, MAX_FAMILY_MEMBERS, type FamilyMember, type ModelFamily } from './family.js';
