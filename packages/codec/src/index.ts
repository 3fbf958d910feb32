/**
 * @dqcodec/codec: the pure-TS core (.dqc format, entropy coding, manifests; also importable
 * alone as `@dqcodec/codec/core`, e.g. in browsers) plus the Node API (DqCodec: encode/decode
 * images through onnxruntime-node and sharp).
 */
export * from './core/index.js';
export * from './node/index.js';
// Tokens for ML work and codebook analysis (`dqcodec tokens / detokenize / analyze`).
export {
  TOKEN_FORMATS,
  imageTokens,
  writeTokens,
  readTokens,
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
