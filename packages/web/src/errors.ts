/**
 * Errors of the web decoder. Problems with a .dqc file (corrupt, truncated, another model's
 * file, …) surface as the core's DqcError with its stable `code`; everything that belongs to the
 * browser side — fetching the model, WebGPU, onnxruntime sessions and runs — is a WebDecoderError,
 * also with a stable `code`. Every promise of this package settles: failures reject, never hang.
 */
export type WebDecoderErrorCode =
  /** An argument or option is invalid (bad `levels`, unknown provider, unreadable byte source). */
  | 'BAD_ARGUMENT'
  /** A model file (manifest.json, decoder.onnx) could not be fetched. */
  | 'MODEL_FETCH'
  /** The model is unusable: graph size differs from the manifest, tensors missing, unsupported index type. */
  | 'MODEL_INVALID'
  /** provider 'webgpu' was requested but the browser has no WebGPU adapter (use 'auto' to fall back to WASM). */
  | 'WEBGPU_UNAVAILABLE'
  /** onnxruntime-web could not load (wasm files not found) or could not create the session. */
  | 'SESSION_FAILED'
  /** The decoder graph failed to run or returned an unexpected tensor. */
  | 'INFERENCE_FAILED'
  /** A .dqc file could not be fetched. */
  | 'FETCH_FAILED'
  /** The operation was aborted through its AbortSignal, or the decoder was disposed. */
  | 'ABORTED'
  /** A step did not finish in time (WebGPU adapter request, session creation). */
  | 'TIMEOUT'
  /** No 2D context for drawing. */
  | 'NO_CANVAS';

export class WebDecoderError extends Error {
  readonly code: WebDecoderErrorCode;

  constructor(code: WebDecoderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebDecoderError';
    this.code = code;
  }
}

/** True when `e` is a WebDecoderError, optionally with the given code. */
export function isWebDecoderError(e: unknown, code?: WebDecoderErrorCode): e is WebDecoderError {
  return e instanceof WebDecoderError && (code === undefined || e.code === code);
}

/** The first line of an error's message (onnxruntime's messages can be long). */
export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n')[0].trim();
  // onnxruntime-web's WASM builds surface some C++ exceptions as a bare pointer value.
  if (/^\d+$/.test(line)) return `onnxruntime-web raised an internal error (exception ${line}; its console log may say more)`;
  return line || 'unknown error';
}

/** Reject with `onTimeout()` when `p` has not settled within `ms` (no timer is left behind). */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
