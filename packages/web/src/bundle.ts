/**
 * Entry of dist/dqcodec-web.js, the single-file build for pages without a bundler (vite.config.ts):
 * everything of index.ts but the Worker mode, which needs a bundler (a module worker cannot use
 * the page's import map to find onnxruntime-web).
 */
import { createLocalDecoder, type CreateDecoderOptions, type WebDecoder } from './decoder.js';
import { WebDecoderError } from './errors.js';
import { loadOrt } from './load.js';

/** createDecoder on the page's thread; `worker: true` is refused (BAD_ARGUMENT) in this build. */
export async function createDecoder(options: CreateDecoderOptions): Promise<WebDecoder> {
  if (typeof options !== 'object' || options === null) throw new WebDecoderError('BAD_ARGUMENT', 'createDecoder needs an options object with `model`');
  if (options.worker) {
    throw new WebDecoderError('BAD_ARGUMENT', "the Worker mode is not in dqcodec-web.js (a module worker cannot use the page's import map); use @dqcodec/web through a bundler such as Vite");
  }
  return createLocalDecoder(options, loadOrt);
}
export {
  DEFAULT_TILE_SIZE,
  type WebDecoder,
  type ByteSource,
  type CreateDecoderOptions,
  type DecodeOptions,
  type DecodeResult,
  type ModelInfo,
  type Provider,
  type ProviderChoice,
} from './decoder.js';
export { isWebDecoderError, WebDecoderError, type WebDecoderErrorCode } from './errors.js';
export { manifestUrl, type ModelFiles, type ModelSource } from './model.js';
export { drawToCanvas, toImageData, type RgbaImage } from './pixels.js';
export { findWebGpuAdapter, softwareAdapter, type GpuAdapterLike, type Ort, type WasmPaths } from './runtime.js';
export { DqcError, isDqcError, type DqcErrorCode, type DqcHeader } from '@dqcodec/core';
