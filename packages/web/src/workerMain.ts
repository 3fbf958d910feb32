/**
 * The body of the decoder's Web Workers (createDecoder({ worker: true })): runs a LocalDecoder —
 * model loading, session creation, entropy decoding, inference — off the page's thread, driven by
 * messages from WorkerDecoder (workerClient.ts). worker-wasm.ts and worker-webgpu.ts call serve()
 * with the onnxruntime-web build they import.
 */
import { createLocalDecoder, type DecodeOptions, type DecodeResult, type WebDecoder } from './decoder.js';
import { WebDecoderError } from './errors.js';
import { serializeError, type DecodeRequestOptions, type FromWorker, type ToWorker } from './protocol.js';
import type { Ort } from './runtime.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<ToWorker>) => void): void;
}

let scope: WorkerScope;
let decoder: WebDecoder | null = null;
/** Per request: its abort controller, and the stream fed by 'chunk' messages (progressive sources sent by the page). */
const running = new Map<number, { abort: AbortController; stream?: ReadableStreamDefaultController<Uint8Array> }>();

function post(message: FromWorker): void {
  const result = message.t === 'progress' || message.t === 'done' ? message.result : null;
  scope.postMessage(message, result ? [result.data.buffer] : []);
}

function decodeOptions(id: number, o: DecodeRequestOptions, signal: AbortSignal): DecodeOptions {
  return {
    levels: o.levels,
    preview: o.preview,
    signal,
    onProgress: o.progress ? (r: DecodeResult) => void (r.final ? undefined : post({ t: 'progress', id, result: r })) : undefined,
  };
}

async function run(id: number, work: (d: WebDecoder, signal: AbortSignal) => Promise<DecodeResult>): Promise<void> {
  const entry = running.get(id) ?? { abort: new AbortController() };
  running.set(id, entry);
  try {
    if (!decoder) throw new WebDecoderError('ABORTED', 'the decoder was disposed');
    const result = await work(decoder, entry.abort.signal);
    post({ t: 'done', id, result });
  } catch (e) {
    post({ t: 'failed', id, error: serializeError(e) });
  } finally {
    running.delete(id);
  }
}

/** Answer WorkerDecoder's messages in this worker, with this onnxruntime-web build. */
export function serve(ort: Ort): void {
  scope = globalThis as unknown as WorkerScope;
  scope.addEventListener('message', (e: MessageEvent<ToWorker>) => onMessage(e.data, ort));
}

function onMessage(m: ToWorker, ort: Ort): void {
  switch (m.t) {
    case 'create':
      createLocalDecoder({ ...m.options, ort }, () => Promise.resolve(ort)).then(
        (d) => {
          decoder = d;
          post({ t: 'created', info: { provider: d.provider, manifest: d.manifest, family: d.family, fallbackReason: d.fallbackReason, adapterInfo: d.adapterInfo, tileSize: d.tileSize } });
        },
        (err: unknown) => post({ t: 'createFailed', error: serializeError(err) }),
      );
      break;
    case 'decode':
      void run(m.id, (d, signal) => d.decode(m.bytes, decodeOptions(m.id, m.options, signal)));
      break;
    case 'progressive': {
      const entry: { abort: AbortController; stream?: ReadableStreamDefaultController<Uint8Array> } = { abort: new AbortController() };
      running.set(m.id, entry);
      const source =
        m.source ??
        new ReadableStream<Uint8Array>({
          start(c) {
            entry.stream = c;
          },
        });
      void run(m.id, (d, signal) => d.decodeProgressive(source, decodeOptions(m.id, m.options, signal)));
      break;
    }
    case 'chunk':
      running.get(m.id)?.stream?.enqueue(m.bytes);
      break;
    case 'end':
      running.get(m.id)?.stream?.close();
      break;
    case 'abort': {
      const entry = running.get(m.id);
      entry?.abort.abort();
      try {
        entry?.stream?.error(new WebDecoderError('ABORTED', 'decoding was aborted'));
      } catch {
        // already closed
      }
      break;
    }
    case 'dispose': {
      const d = decoder;
      decoder = null;
      for (const entry of running.values()) entry.abort.abort();
      void (d ? d.dispose() : Promise.resolve()).finally(() => post({ t: 'disposed' }));
      break;
    }
  }
}
