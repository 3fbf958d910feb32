/**
 * @dqcodec/codec: everything of `@dqcodec/core` (.dqc format, entropy coding, manifests; also
 * importable alone, e.g. in browsers, as `@dqcodec/core` or `@dqcodec/codec/core`) plus the Node
 * API (DqCodec: encode/decode images through onnxruntime-node and sharp).
 */
export * from '@dqcodec/core';
export * from './node/index.js';
// Tokens for ML work and codebook analysis (`dqcodec tokens / detokenize / analyze`).
export {
  TOKEN_FORMATS,
  imageTokens,
  writeTokens,
  readTokens,
  type ReadTokensOptions,
  detokenize,
  tokensFile,
  detokenizeFile,
  tokenStem,
  type TokenFormat,
  type WriteTokensOptions,
  type TokensFileResult,
  type DetokenizeFileResult,
  type DetokenizedImage,
} from './node/tokens.js';
export { analyzeImages, writeHeatmap, type AnalyzeOptions, type AnalysisReport } from './node/analyze.js';
