/**
 * createDecoder({ worker }): a WebDecoder whose work runs in a Web Worker (worker.ts). The page
 * keeps only the message plumbing, onProgress callbacks and header reading; results and errors are
 * the same as on the page's thread (errors are rebuilt with their class and code).
 */
import { DEFAULT_MAX_PIXELS, limitsForModel, readHeader, type ContainerLimits, type DqcHeader, type Manifest, type ModelFamily } from '@dqcodec/core';
import { checkOptions, type ByteSource, type CreateDecoderOptions, type DecodeOptions, type DecodeResult, type ModelInfo, type Provider, type WebDecoder } from './decoder.js';
import { firstLine, withTimeout, WebDecoderError } from './errors.js';
import { deserializeError, type CreatedInfo, type DecodeRequestOptions, type FromWorker, type ToWorker, type WorkerCreateOptions } from './protocol.js';
import { findWebGpuAdapter, softwareAdapter, type OrtBuild, type WasmPaths } from './runtime.js';

interface Pending {
  resolve: (r: DecodeResult) => void;
  reject: (e: unknown) => void;
  onProgress?: (r: DecodeResult) => void;
}

function pageUrl(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/** Relative URLs mean the page's location, not the worker script's. */
function absolute(url: string | URL, what: string): string {
  try {
    return new URL(url, pageUrl()).href;
  } catch {
    throw new WebDecoderError('BAD_ARGUMENT', `${what} ${String(url)} is not a URL`);
  }
}

function resolveWasmPaths(p: WasmPaths | undefined): WasmPaths | undefined {
  if (p === undefined) return undefined;
  if (typeof p === 'string') return absolute(p, 'wasmPaths');
  return { mjs: p.mjs === undefined ? undefined : absolute(p.mjs, 'wasmPaths.mjs'), wasm: p.wasm === undefined ? undefined : absolute(p.wasm, 'wasmPaths.wasm') };
}

function startWorker(build: OrtBuild): Worker {
  // Bundlers (Vite, webpack 5) recognise this pattern and emit each worker with its imports. One
  // worker per onnxruntime-web build, each importing its build statically: no code splitting in
  // the worker bundles, so they build in bundlers' default worker format (IIFE) too.
  return build === 'webgpu'
    ? new Worker(new URL('./worker-webgpu.js', import.meta.url), { type: 'module', name: 'dqcodec-decoder-webgpu' })
    : new Worker(new URL('./worker-wasm.js', import.meta.url), { type: 'module', name: 'dqcodec-decoder-wasm' });
}

/** Whether an 'auto' decoder falls back to the WASM worker after this failure of the WebGPU one (as on the page's thread). */
function fallsBack(e: unknown): e is WebDecoderError {
  return e instanceof WebDecoderError && (e.code === 'SESSION_FAILED' || e.code === 'WEBGPU_UNAVAILABLE' || e.code === 'TIMEOUT');
}

export async function createWorkerDecoder(options: CreateDecoderOptions): Promise<WebDecoder> {
  checkOptions(options);
  if (options.fetch) throw new WebDecoderError('BAD_ARGUMENT', 'the `fetch` option cannot be used with `worker` (a function cannot be sent to a Worker); the worker uses its own fetch()');
  if (options.ort) throw new WebDecoderError('BAD_ARGUMENT', 'the `ort` option cannot be used with `worker` (the worker imports onnxruntime-web itself)');
  if (typeof Worker === 'undefined') throw new WebDecoderError('BAD_ARGUMENT', 'this environment has no Web Workers; create the decoder without `worker`');
  if (options.signal?.aborted) throw new WebDecoderError('ABORTED', 'loading the model was aborted');
  const model = typeof options.model === 'string' || options.model instanceof URL ? absolute(options.model, 'model') : options.model;
  const createOptions: WorkerCreateOptions = {
    model,
    provider: options.provider,
    wasmPaths: resolveWasmPaths(options.wasmPaths),
    numThreads: options.numThreads,
    tileSize: options.tileSize,
    limits: options.limits,
    adapterTimeoutMs: options.adapterTimeoutMs,
    sessionTimeoutMs: options.sessionTimeoutMs,
  };
  // The page picks the onnxruntime-web build (so that only one is downloaded), as createDecoder
  // does on the page's thread; the worker then runs with a named provider.
  const choice = options.provider ?? 'auto';
  let build: OrtBuild = 'wasm';
  let reason: string | null = null;
  if (choice === 'webgpu') build = 'webgpu';
  else if (choice === 'auto') {
    const gpu = await findWebGpuAdapter(options.adapterTimeoutMs ?? 5000);
    const software = gpu.adapter ? softwareAdapter(gpu.adapter) : null;
    if (gpu.adapter && !software) build = 'webgpu';
    else reason = software ? `the WebGPU adapter is a software one (${software}), far slower than WASM; provider 'webgpu' uses it anyway` : gpu.reason;
  }
  if (build === 'webgpu') {
    try {
      return await startDecoder('webgpu', { ...createOptions, provider: 'webgpu' }, options, null);
    } catch (e) {
      if (choice === 'webgpu' || !fallsBack(e)) throw e;
      reason = `the WebGPU session failed: ${e.message}`;
    }
  }
  return startDecoder('wasm', { ...createOptions, provider: 'wasm' }, options, reason);
}

async function startDecoder(build: OrtBuild, createOptions: WorkerCreateOptions, options: CreateDecoderOptions, fallbackReason: string | null): Promise<WebDecoder> {
  if (options.signal?.aborted) throw new WebDecoderError('ABORTED', 'loading the model was aborted');
  let worker: Worker;
  try {
    worker = startWorker(build);
  } catch (e) {
    throw new WebDecoderError('SESSION_FAILED', `cannot start the decoder worker: ${firstLine(e)}`, { cause: e });
  }
  const created = new Promise<CreatedInfo>((resolve, reject) => {
    const onMessage = (e: MessageEvent<FromWorker>): void => {
      if (e.data.t === 'created') resolve(e.data.info);
      else if (e.data.t === 'createFailed') reject(deserializeError(e.data.error));
      else return;
      cleanup();
    };
    const onError = (e: ErrorEvent | Event): void => {
      const msg = e instanceof ErrorEvent && e.message ? e.message : `the worker script failed to load or threw (is worker-${build}.js served next to the package's other files?)`;
      reject(new WebDecoderError('SESSION_FAILED', `the decoder worker failed to start: ${msg}`));
      cleanup();
    };
    const onAbort = (): void => {
      reject(new WebDecoderError('ABORTED', 'loading the model was aborted'));
      cleanup();
    };
    const cleanup = (): void => {
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
    };
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  worker.postMessage({ t: 'create', options: createOptions } satisfies ToWorker);
  try {
    const info = await created;
    return new WorkerDecoder(worker, { ...info, fallbackReason }, options.limits);
  } catch (e) {
    worker.terminate();
    throw e;
  }
}

/** A WebDecoder running in a Web Worker. Use createDecoder({ worker: true }). */
class WorkerDecoder implements WebDecoder {
  readonly worker = true;
  readonly provider: Provider;
  readonly manifest: Manifest | null;
  readonly family: ModelFamily | null;
  readonly fallbackReason: string | null;
  readonly adapterInfo: string | null;
  readonly tileSize: number;
  private readonly limits: Required<ContainerLimits>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;
  private failure: WebDecoderError | null = null;

  constructor(
    private readonly w: Worker,
    info: CreatedInfo,
    limits: ContainerLimits | undefined,
  ) {
    this.provider = info.provider;
    this.manifest = info.manifest;
    this.family = info.family;
    this.fallbackReason = info.fallbackReason;
    this.adapterInfo = info.adapterInfo;
    this.tileSize = info.tileSize;
    // A family's member is known only from a file's header: read it with the pixel limit and the format's index limit (the worker checks the rest).
    this.limits = info.manifest ? limitsForModel(info.manifest, limits) : { maxPixels: limits?.maxPixels ?? DEFAULT_MAX_PIXELS, maxIndices: limits?.maxIndices ?? 2 ** 28 };
    w.addEventListener('message', (e: MessageEvent<FromWorker>) => this.onMessage(e.data));
    w.addEventListener('error', (e: ErrorEvent | Event) => {
      this.failure = new WebDecoderError('INFERENCE_FAILED', `the decoder worker failed: ${e instanceof ErrorEvent && e.message ? e.message : 'unknown error'}`);
      this.rejectAll(this.failure);
    });
  }

  get info(): ModelInfo | null {
    const m = this.manifest;
    return m ? { name: m.name, fingerprint: m.fingerprint, levels: m.levels, totalStride: m.totalStride } : null;
  }

  private onMessage(m: FromWorker): void {
    if (m.t !== 'progress' && m.t !== 'done' && m.t !== 'failed') return;
    const p = this.pending.get(m.id);
    if (!p) return; // aborted meanwhile
    if (m.t === 'progress') {
      p.onProgress?.(m.result);
      return;
    }
    this.pending.delete(m.id);
    if (m.t === 'done') {
      p.onProgress?.(m.result);
      p.resolve(m.result);
    } else {
      p.reject(deserializeError(m.error));
    }
  }

  private rejectAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private checkOpen(): void {
    if (this.disposed) throw new WebDecoderError('ABORTED', 'the decoder was disposed');
    if (this.failure) throw this.failure;
  }

  private levelCount(levels: number | undefined): number {
    if (!this.manifest) {
      // A family: the member (and its level count) is known in the worker, from the file.
      if (levels !== undefined && (!Number.isInteger(levels) || levels < 1)) throw new WebDecoderError('BAD_ARGUMENT', `levels must be a positive integer (got ${levels})`);
      return levels ?? 0;
    }
    const L = this.manifest.levels.length;
    const n = levels ?? L;
    if (!Number.isInteger(n) || n < 1 || n > L) throw new WebDecoderError('BAD_ARGUMENT', `levels must be an integer from 1 to ${L} (got ${n})`);
    return n;
  }

  /** Send a request; the promise settles with the worker's answer, or ABORTED when `signal` fires first. */
  private request(make: (id: number) => { message: ToWorker; transfer: Transferable[] }, options: DecodeOptions, feed?: (id: number) => Promise<void>): Promise<DecodeResult> {
    const id = this.nextId++;
    const signal = options.signal;
    return new Promise<DecodeResult>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.pending.delete(id)) return;
        this.w.postMessage({ t: 'abort', id } satisfies ToWorker);
        reject(new WebDecoderError('ABORTED', 'decoding was aborted'));
      };
      this.pending.set(id, {
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        onProgress: options.onProgress,
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const { message, transfer } = make(id);
      this.w.postMessage(message, transfer);
      feed?.(id).catch((e: unknown) => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        this.w.postMessage({ t: 'abort', id } satisfies ToWorker);
        p.reject(e);
      });
    });
  }

  private requestOptions(options: DecodeOptions): DecodeRequestOptions {
    this.levelCount(options.levels);
    return { levels: options.levels, preview: options.preview, progress: options.onProgress !== undefined };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.rejectAll(new WebDecoderError('ABORTED', 'the decoder was disposed'));
    const done = new Promise<void>((resolve) => {
      this.w.addEventListener('message', (e: MessageEvent<FromWorker>) => {
        if (e.data.t === 'disposed') resolve();
      });
    });
    this.w.postMessage({ t: 'dispose' } satisfies ToWorker);
    await withTimeout(done, 5000, () => new Error('timeout')).catch(() => undefined);
    this.w.terminate();
  }

  readHeader(bytes: Uint8Array | ArrayBuffer): DqcHeader {
    return readHeader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), this.limits);
  }

  async decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<DecodeResult> {
    this.checkOpen();
    if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
      throw new WebDecoderError('BAD_ARGUMENT', 'decode() needs the .dqc file as a Uint8Array or ArrayBuffer (use decodeProgressive for URLs, Blobs and streams)');
    }
    const o = this.requestOptions(options);
    const copy = bytes instanceof Uint8Array ? bytes.slice() : new Uint8Array(bytes.slice(0));
    return this.request((id) => ({ message: { t: 'decode', id, bytes: copy, options: o }, transfer: [copy.buffer] }), options);
  }

  async decodeProgressive(source: ByteSource, options: DecodeOptions = {}): Promise<DecodeResult> {
    if (source instanceof Uint8Array || source instanceof ArrayBuffer) return this.decode(source, options);
    this.checkOpen();
    const o = this.requestOptions(options);
    if (typeof source === 'string' || source instanceof URL) {
      const url = absolute(source, '');
      return this.request((id) => ({ message: { t: 'progressive', id, source: url, options: o }, transfer: [] }), options);
    }
    if (typeof Blob !== 'undefined' && source instanceof Blob) {
      return this.request((id) => ({ message: { t: 'progressive', id, source, options: o }, transfer: [] }), options);
    }
    let stream: ReadableStream<Uint8Array>;
    if (typeof Response !== 'undefined' && source instanceof Response) {
      stream = source.body ?? new Blob([await source.arrayBuffer()]).stream();
    } else if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
      stream = source;
    } else {
      throw new WebDecoderError('BAD_ARGUMENT', 'decodeProgressive needs a URL, Response, ReadableStream, Blob, Uint8Array or ArrayBuffer');
    }
    // Streams are read here and their chunks forwarded: transferable streams are not everywhere.
    const feed = async (id: number): Promise<void> => {
      const reader = stream.getReader();
      try {
        for (;;) {
          if (!this.pending.has(id)) {
            await reader.cancel().catch(() => undefined);
            return;
          }
          const { done, value } = await reader.read();
          if (done) break;
          const chunk = value.slice();
          this.w.postMessage({ t: 'chunk', id, bytes: chunk } satisfies ToWorker, [chunk.buffer]);
        }
        this.w.postMessage({ t: 'end', id } satisfies ToWorker);
      } finally {
        reader.releaseLock();
      }
    };
    return this.request((id) => ({ message: { t: 'progressive', id, source: null, options: o }, transfer: [] }), options, feed);
  }
}
