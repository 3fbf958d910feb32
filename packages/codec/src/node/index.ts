/** Node-only parts of @dqcodec/codec: onnxruntime-node inference, sharp image I/O, files. */
export {
  DqCodec,
  DEFAULT_TILE_SIZE,
  MAX_THREADS,
  QUALITIES,
  levelsForQuality,
  type Quality,
  type DqCodecOptions,
  type EncodeOptions as ImageEncodeOptions,
  type DecodeOptions as ImageDecodeOptions,
  type EncodeResult,
  type DecodedImage,
  type EncodeFileResult,
  type DecodeFileResult,
  type FileOptions,
  type ImageTokens,
} from './codec.js';
export { fitEntropy, listImages, type FitEntropyOptions, type FitEntropyResult, type LevelFit } from './fitEntropy.js';
export { FileError, writeFileAtomic, readInputFile, temporaryName, humanBytes, NAME_MAX, type WriteOptions, type ReadInputOptions } from './files.js';
export {
  readDqcFile,
  readImageFile,
  dqcWorstCaseBytes,
  streamWorstCase,
  maxImageBytes,
  maxTokenJsonBytes,
  maxNpyBytes,
  MAX_MANIFEST_BYTES,
  type ReadDqcOptions,
} from './inputs.js';
export {
  ImageError,
  readImage,
  encodeImageBuffer,
  outputFormat,
  checkColour,
  sniffImageFormat,
  ACCEPTED_INPUT_FORMATS,
  INPUT_EXTENSIONS,
  OUTPUT_FORMATS,
  type OutputFormat,
  type SourceImage,
  type ReadImageOptions,
} from './image.js';
export { ModelError, loadModelBundle, loadFamilyMember, readModelFamily, isFamilyDir, isModelDir, FAMILY_FILE, type ModelBundle } from './model.js';
export { ExecutionProviderError, cudaAvailable, CUDA_INSTALL_HINT, EXECUTION_PROVIDERS, type ExecutionProvider } from './runtime.js';
export { defaultModelDir } from './paths.js';
