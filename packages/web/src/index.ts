/**
 * @dqcodec/web: decode .dqc images in the browser with onnxruntime-web — WebGPU where the browser
 * offers an adapter, WASM otherwise — progressively (top-level preview first). Format and entropy
 * decoding come from @dqcodec/core, the very code the Node codec runs.
 *
 *   const decoder = await createDecoder({ model: '/models/default/', worker: true }); // off the page's thread
 *   const image = await decoder.decodeProgressive('/photo.dqc', { onProgress: (r) => drawToCanvas(r, canvas) });
 *
 * See README.md for serving onnxruntime-web's .wasm files with Vite or a plain <script type="module">.
 */
export { createDecoder } from './create.js';
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
