/** Messages between WorkerDecoder (page) and worker.ts (Web Worker). Internal. */
import { DqcError, type DqcErrorCode, type Manifest, type ModelFamily } from '@dqcodec/core';
import type { CreateDecoderOptions, DecodeResult, Provider } from './decoder.js';
import { WebDecoderError, type WebDecoderErrorCode } from './errors.js';
import type { ModelSource } from './model.js';
import type { WasmPaths } from './runtime.js';

/** The options that cross into the worker (URLs already resolved against the page). */
export interface WorkerCreateOptions extends Omit<CreateDecoderOptions, 'model' | 'wasmPaths' | 'signal' | 'fetch' | 'ort' | 'worker'> {
  model: ModelSource;
  wasmPaths?: WasmPaths;
}

export interface SerializedError {
  name: string;
  code?: string;
  message: string;
}

export interface DecodeRequestOptions {
  levels?: number;
  preview?: boolean;
  /** Whether the page has an onProgress (the worker reports the preview only then). */
  progress: boolean;
}

export type ToWorker =
  | { t: 'create'; options: WorkerCreateOptions }
  | { t: 'decode'; id: number; bytes: Uint8Array; options: DecodeRequestOptions }
  | { t: 'progressive'; id: number; source: string | Blob | null; options: DecodeRequestOptions }
  | { t: 'chunk'; id: number; bytes: Uint8Array }
  | { t: 'end'; id: number }
  | { t: 'abort'; id: number }
  | { t: 'dispose' };

export interface CreatedInfo {
  provider: Provider;
  /** null for a family. */
  manifest: Manifest | null;
  family: ModelFamily | null;
  fallbackReason: string | null;
  adapterInfo: string | null;
  tileSize: number;
}

export type FromWorker =
  | { t: 'created'; info: CreatedInfo }
  | { t: 'createFailed'; error: SerializedError }
  | { t: 'progress'; id: number; result: DecodeResult }
  | { t: 'done'; id: number; result: DecodeResult }
  | { t: 'failed'; id: number; error: SerializedError }
  | { t: 'disposed' };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof DqcError || e instanceof WebDecoderError) return { name: e.name, code: e.code, message: e.message };
  return { name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) };
}

/** The same error class and code on this side of the worker boundary. */
export function deserializeError(e: SerializedError): Error {
  if (e.name === 'DqcError' && e.code) return new DqcError(e.code as DqcErrorCode, e.message);
  if (e.name === 'WebDecoderError' && e.code) return new WebDecoderError(e.code as WebDecoderErrorCode, e.message);
  return new WebDecoderError('INFERENCE_FAILED', `the decoder worker failed: ${e.message}`);
}
