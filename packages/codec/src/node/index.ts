/** Node-only parts of @dqcodec/codec: onnxruntime-node inference, sharp image I/O, files. */
export {
  DqCodec,
  DEFAULT_TILE_SIZE,
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
export { FileError, writeFileAtomic, readInputFile } from './files.js';
export { ImageError, readImage, encodeImageBuffer, outputFormat, INPUT_EXTENSIONS, OUTPUT_FORMATS, type OutputFormat, type SourceImage } from './image.js';
export { ModelError, loadModelBundle, type ModelBundle } from './model.js';
export { ExecutionProviderError, cudaAvailable, CUDA_INSTALL_HINT, EXECUTION_PROVIDERS, type ExecutionProvider } from './runtime.js';
export { defaultModelDir } from './paths.js';
