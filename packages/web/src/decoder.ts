/**
 * WebDecoder: .dqc bytes → RGBA pixels in the browser.
 *
 *   .dqc ──core: readHeader / decodeIndices (entropy decoding, CRCs, model check)──► index maps
 *        ──decoder.onnx on onnxruntime-web (WebGPU EP, or WASM EP)──► planar RGB floats
 *        ──crop to the stored size, grey → R=G=B, alpha from the file──► RGBA (ImageData-like)
 *
 * Progressive: the top level alone (the other levels' inputs zeroed and masked out, as the
 * reference decode_code does) already gives the image's structure. `decode(bytes, { onProgress })`
 * reports that preview first and then the full image; `decodeProgressive(url)` does the same while
 * the file is still downloading, starting the preview as soon as the header and the top level's
 * stream have arrived.
 *
 * Model families (family.json): FamilyDecoder reads each file's header, picks the member whose
 * fingerprint it records, and loads that member's manifest and decoder graph on first use (one
 * session per member, cached), then decodes with it exactly as a single-model decoder would.
 */
import {
  checkHeaderFitsModel,
  copyReconstruction,
  decodeIndices,
  DEFAULT_MAX_PIXELS,
  familyMemberByFingerprint,
  interleaveAlpha,
  DqcError,
  limitsForModel,
  modelMargins,
  planTiles,
  readHeader,
  type ContainerLimits,
  type DqcHeader,
  type Manifest,
  type ModelFamily,
  type TileMargins,
} from '@dqcodec/core';
import { firstLine, withTimeout, WebDecoderError } from './errors.js';
import { loadFamilyMember, resolveModel, type DecoderIo, type LoadedFamily, type LoadedModel, type ModelSource } from './model.js';
import type { RgbaImage } from './pixels.js';
import { configureOrt, findWebGpuAdapter, softwareAdapter, type GpuAdapterLike, type Ort, type OrtBuild, type WasmPaths } from './runtime.js';

/** The execution provider a decoder runs on. */
export type Provider = 'webgpu' | 'wasm';
/** What to ask for: 'auto' = WebGPU when the browser offers an adapter and the session works, else WASM. */
export type ProviderChoice = 'auto' | Provider;

/** Default core tile size in pixels (as in the Node decoder); images up to 1024×1024 run in one pass. */
export const DEFAULT_TILE_SIZE = 1024;

export interface CreateDecoderOptions {
  /**
   * The model: a model family's directory URL (or its family.json URL), a single model's directory
   * URL (or its manifest.json URL), or a single model's files. For a family only family.json is
   * fetched here; each member's manifest.json and decoder graph are fetched when the first file of
   * that member is decoded.
   */
  model: ModelSource;
  /**
   * 'auto' (default): WebGPU when navigator.gpu yields a hardware adapter and the WebGPU session
   * can be created, else WASM (see `fallbackReason`); a software adapter (`isFallbackAdapter`,
   * SwiftShader) counts as no WebGPU, being far slower than WASM. 'webgpu': WebGPU (software
   * adapters included) or reject with WebDecoderError('WEBGPU_UNAVAILABLE' | 'SESSION_FAILED'),
   * never a silent fallback. 'wasm': WASM.
   */
  provider?: ProviderChoice;
  /**
   * Decode in a Web Worker, off the page's thread: model loading, session creation, entropy
   * decoding and inference all run there, so the page keeps rendering (the same API, results and
   * errors). The worker modules (worker-wasm.js, worker-webgpu.js) sit next to the package's other
   * files; bundlers such as Vite emit them. Default false. The `fetch` and `ort` options cannot
   * cross into a worker and are refused (BAD_ARGUMENT) with it.
   */
  worker?: boolean;
  /**
   * Where onnxruntime-web's .wasm/.mjs files are served (ort.env.wasm.wasmPaths), e.g. '/ort/'.
   * Default: next to onnxruntime-web's own module, which is where bundlers (Vite) put them.
   */
  wasmPaths?: WasmPaths;
  /** WASM threads (ort.env.wasm.numThreads). Default: onnxruntime's choice (1 unless the page is cross-origin isolated). */
  numThreads?: number;
  /** Core tile size in pixels (rounded up to the model's stride); bounds memory per graph run. 0 = untiled. Default 1024. */
  tileSize?: number;
  /**
   * Size limits for .dqc files. Default: images up to DEFAULT_MAX_PIXELS (2^26 pixels, the Node
   * codec's default too) and the code indices such an image has under this model.
   */
  limits?: ContainerLimits;
  /** How long to wait for navigator.gpu.requestAdapter() (default 5000 ms; no answer = no WebGPU). */
  adapterTimeoutMs?: number;
  /** Bound on loading onnxruntime and creating the session, per provider tried (default 120000 ms; 0 = none). */
  sessionTimeoutMs?: number;
  /** Aborts loading the model. */
  signal?: AbortSignal;
  /** fetch() to use for the model and for decodeProgressive URLs (default globalThis.fetch). */
  fetch?: typeof fetch;
  /**
   * An onnxruntime-web module to use instead of importing 'onnxruntime-web/webgpu' or
   * 'onnxruntime-web/wasm' (e.g. one the application already loaded, or the Node build in tests).
   */
  ort?: Ort;
}

export interface DecodeOptions {
  /** Use only the top N levels (1 = coarsest preview). Default: all. */
  levels?: number;
  /**
   * Called with the top-level preview first (when more than one level is decoded), then with the
   * final image. The promise resolves with the final image too.
   */
  onProgress?: (result: DecodeResult) => void;
  /** Produce the preview for onProgress (default true when onProgress is given). */
  preview?: boolean;
  /** Aborts between tiles and while downloading (rejects with WebDecoderError('ABORTED')). */
  signal?: AbortSignal;
}

export interface DecodeResult extends RgbaImage {
  /** Stored image size (the padded reconstruction is cropped to it). */
  width: number;
  height: number;
  /** RGBA, row-major, width·height·4 bytes: usable as ImageData (see toImageData, drawToCanvas). */
  data: Uint8ClampedArray<ArrayBuffer>;
  /** Channels of the encoded image: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. Grey comes out as R = G = B. */
  channels: 1 | 2 | 3 | 4;
  /** Levels used, top first, out of totalLevels. */
  levelsUsed: number;
  totalLevels: number;
  /** false for the preview reported to onProgress, true for the final image. */
  final: boolean;
  /** Execution provider that ran the decoder graph. */
  provider: Provider;
  /** Milliseconds from the decode call to this result (the final image's time includes the preview). */
  ms: number;
  /** This stage alone: entropy decoding, graph runs, pixel conversion (ms). */
  timings: { entropy: number; inference: number; pixels: number };
  /** Size of the whole .dqc file in bytes (as its header says), and its bits per pixel. */
  fileBytes: number;
  bpp: number;
  header: DqcHeader;
  /** The model that decoded the file (with a family: the member the file's fingerprint named). */
  model: ModelInfo;
}

/** What decodeProgressive reads: bytes, a Blob/File, a fetch Response, a byte stream, or a URL to fetch. */
export type ByteSource = Uint8Array | ArrayBuffer | Blob | Response | ReadableStream<Uint8Array> | string | URL;

export interface ModelInfo {
  name: string;
  fingerprint: string;
  /** The member's quality (1 = smallest files) when the model is a member of a family. */
  quality?: number;
  /** Levels bottom first, as in the manifest. */
  levels: Manifest['levels'];
  totalStride: number;
}

type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type OrtTensor = InstanceType<Ort['Tensor']>;

function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

function aborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new WebDecoderError('ABORTED', `${what} was aborted`);
}

async function createSession(ort: Ort, model: LoadedModel, provider: Provider, timeoutMs: number): Promise<Session> {
  const create = ort.InferenceSession.create(model.decoderBytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  const session = await withTimeout(
    create,
    timeoutMs,
    () => new WebDecoderError('TIMEOUT', `creating the ${provider} session did not finish within ${timeoutMs} ms (are onnxruntime-web's .wasm files reachable? see wasmPaths)`),
  );
  const io = model.io;
  const missing = [...io.indices, io.levelMask].filter((n) => !session.inputNames.includes(n));
  if (!session.outputNames.includes(io.reconstruction)) missing.push(io.reconstruction);
  if (missing.length > 0) {
    await session.release().catch(() => undefined);
    throw new WebDecoderError('MODEL_INVALID', `model ${model.label}: ${model.manifest.graphs.decoder} lacks the tensors ${missing.join(', ')} named in the manifest`);
  }
  return session;
}

function sessionError(provider: Provider, e: unknown): WebDecoderError {
  if (e instanceof WebDecoderError) return e;
  return new WebDecoderError('SESSION_FAILED', `cannot create the ${provider} session for the decoder graph: ${firstLine(e)}`, { cause: e });
}

/** A decoder: createDecoder() gives one that runs on the page's thread or, with `worker`, in a Worker. */
export interface WebDecoder {
  /** The execution provider actually used: 'webgpu' or 'wasm'. */
  readonly provider: Provider;
  /** The validated manifest; null for a family (each member has its own: see DecodeResult.model). */
  readonly manifest: Manifest | null;
  /** The validated family.json when the decoder was created for a model family, else null. */
  readonly family: ModelFamily | null;
  /** Why 'auto' did not give WebGPU (null when it did, or when a provider was named). */
  readonly fallbackReason: string | null;
  /** The WebGPU adapter's vendor/architecture when WebGPU is used (e.g. "nvidia ampere"). */
  readonly adapterInfo: string | null;
  /** Core tile size in pixels (0 = untiled). */
  readonly tileSize: number;
  /** Whether decoding runs in a Web Worker (CreateDecoderOptions.worker). */
  readonly worker: boolean;
  /** The single model's name, fingerprint and levels; null for a family. */
  readonly info: ModelInfo | null;
  /** Release the onnxruntime session (and the worker); later calls reject with WebDecoderError('ABORTED'). */
  dispose(): Promise<void>;
  /** Read a .dqc header (no decoding): size, channels, levels and where each stream lies. */
  readHeader(bytes: Uint8Array | ArrayBuffer): DqcHeader;
  /**
   * Decode a complete .dqc file. With onProgress, the top-level preview is reported first, then
   * the final image (which the promise also resolves with).
   */
  decode(bytes: Uint8Array | ArrayBuffer, options?: DecodeOptions): Promise<DecodeResult>;
  /**
   * Decode while the file downloads: the preview (top level) is decoded as soon as the header and
   * the top stream have arrived, the final image when everything has. Accepts a URL (fetched),
   * a Response, a ReadableStream, a Blob/File, or bytes.
   */
  decodeProgressive(source: ByteSource, options?: DecodeOptions): Promise<DecodeResult>;
}

/** Validates the options createDecoder checks before anything is loaded (shared with the worker mode). */
export function checkOptions(options: CreateDecoderOptions): void {
  if (typeof options !== 'object' || options === null) throw new WebDecoderError('BAD_ARGUMENT', 'createDecoder needs an options object with `model`');
  const choice = options.provider ?? 'auto';
  if (choice !== 'auto' && choice !== 'webgpu' && choice !== 'wasm') {
    throw new WebDecoderError('BAD_ARGUMENT', `unknown provider ${JSON.stringify(choice)} (use 'auto', 'webgpu' or 'wasm')`);
  }
  const tileSize = options.tileSize ?? DEFAULT_TILE_SIZE;
  if (!Number.isInteger(tileSize) || tileSize < 0) throw new WebDecoderError('BAD_ARGUMENT', `tileSize must be a non-negative integer (got ${tileSize})`);
  for (const [k, v] of Object.entries(options.limits ?? {})) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new WebDecoderError('BAD_ARGUMENT', `limits.${k} must be a positive integer (got ${v})`);
  }
}

/**
 * Resolves once the browser has had the chance to render a frame, so that a preview drawn in
 * onProgress is on screen before the next pass occupies the thread. Immediate where nothing renders
 * (Node, workers, hidden pages); bounded, since a background tab may not run animation frames.
 */
export function nextPaint(): Promise<void> {
  const g = globalThis as { requestAnimationFrame?: (cb: () => void) => number; document?: { visibilityState?: string } };
  if (typeof g.requestAnimationFrame !== 'function' || g.document?.visibilityState !== 'visible') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    g.requestAnimationFrame!(() =>
      setTimeout(() => {
        clearTimeout(timer);
        resolve();
      }, 0),
    );
  });
}

/** A clearer error for an HTML page where a .dqc file was expected (a missing file behind an SPA fallback). */
export function htmlHint(e: unknown, bytes: Uint8Array, what: string): unknown {
  if (!(e instanceof DqcError) || e.code !== 'BAD_MAGIC') return e;
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (!head.startsWith('<')) return e;
  return new DqcError('BAD_MAGIC', `${what} is an HTML page, not a .dqc file (wrong URL? servers often answer unknown paths with their index page)`);
}

/**
 * Load a model and create its decoder session on this thread, importing onnxruntime-web builds
 * with `loadOrt` (load.ts on the page; the worker's statically imported build in a worker).
 * Rejects with WebDecoderError (fetch, WebGPU, session problems) or DqcError('BAD_MANIFEST').
 */
export async function createLocalDecoder(options: CreateDecoderOptions, loadOrt: (build: OrtBuild) => Promise<Ort>): Promise<WebDecoder> {
  checkOptions(options);
  const choice = options.provider ?? 'auto';
  const tileSize = options.tileSize ?? DEFAULT_TILE_SIZE;
  const fetchFn = options.fetch ?? globalThis.fetch?.bind(globalThis);
  const sessionTimeout = options.sessionTimeoutMs ?? 120_000;
  const decoderSettings: DecoderSettings = { tileSize, limits: options.limits, fetch: fetchFn };

  // The model download, the WebGPU probe and the runtime import run in parallel.
  const modelP = resolveModel(options.model, options.signal, fetchFn);
  const gpuP = choice === 'wasm' ? Promise.resolve({ adapter: null, reason: "provider 'wasm' was requested" }) : findWebGpuAdapter(options.adapterTimeoutMs ?? 5000);
  const ortFor = (build: Provider): Promise<Ort> => {
    const p = options.ort ? Promise.resolve(options.ort) : loadOrt(build);
    return withTimeout(p, sessionTimeout, () => new WebDecoderError('TIMEOUT', `loading onnxruntime-web did not finish within ${sessionTimeout} ms`));
  };
  modelP.catch(() => undefined); // awaited below; avoid an unhandled rejection while we wait for the GPU probe
  let gpu = await gpuP;
  const software = gpu.adapter ? softwareAdapter(gpu.adapter) : null;
  if (choice === 'auto' && software) {
    gpu = { adapter: null, reason: `the WebGPU adapter is a software one (${software}), far slower than WASM; provider 'webgpu' uses it anyway` };
  }
  if (choice === 'webgpu' && !gpu.adapter) {
    throw new WebDecoderError('WEBGPU_UNAVAILABLE', `WebGPU was requested but is not available: ${gpu.reason}; use provider 'auto' to fall back to WASM`);
  }
  const build: Provider = gpu.adapter ? 'webgpu' : 'wasm';
  const ortP = ortFor(build);
  ortP.catch(() => undefined);
  const resolved = await modelP;
  aborted(options.signal, 'loading the model');
  const settings = { wasmPaths: options.wasmPaths, numThreads: options.numThreads };
  const wasmRuntime = async (): Promise<Ort> => {
    const o = await ortFor('wasm');
    configureOrt(o, settings, null);
    return o;
  };

  if ('family' in resolved) {
    // No session yet: each member's is created when a file of that member first comes.
    const common = { family: resolved, settings: decoderSettings, sessionTimeout, fetch: fetchFn };
    if (build === 'wasm') return new FamilyDecoder({ ...common, ort: await wasmRuntime(), provider: 'wasm', fallbackReason: choice === 'auto' ? gpu.reason : null, adapter: null, wasmFallback: null });
    let ort: Ort;
    try {
      ort = await ortP;
      configureOrt(ort, settings, gpu.adapter);
    } catch (e) {
      const failure = sessionError('webgpu', e);
      if (choice === 'webgpu' || options.ort) throw failure;
      return new FamilyDecoder({ ...common, ort: await wasmRuntime(), provider: 'wasm', fallbackReason: `the WebGPU runtime failed to load: ${failure.message}`, adapter: null, wasmFallback: null });
    }
    // 'auto' without an `ort` module: should a member's WebGPU session fail, all members go to the WASM-only build (see below).
    const wasmFallback = choice === 'auto' && !options.ort ? wasmRuntime : null;
    return new FamilyDecoder({ ...common, ort, provider: 'webgpu', fallbackReason: null, adapter: gpu.adapter, wasmFallback });
  }
  const model = resolved;

  if (build === 'wasm') {
    const ort = await ortP;
    configureOrt(ort, settings, null);
    const session = await createSession(ort, model, 'wasm', sessionTimeout).catch((e: unknown) => {
      throw sessionError('wasm', e);
    });
    return new LocalDecoder(ort, session, 'wasm', model, choice === 'auto' ? gpu.reason : null, null, decoderSettings);
  }

  let failure: WebDecoderError;
  try {
    const ort = await ortP;
    configureOrt(ort, settings, gpu.adapter);
    const session = await createSession(ort, model, 'webgpu', sessionTimeout);
    return new LocalDecoder(ort, session, 'webgpu', model, null, gpu.adapter, decoderSettings);
  } catch (e) {
    failure = sessionError('webgpu', e);
  }
  if (choice === 'webgpu' || failure.code === 'MODEL_INVALID') throw failure;
  // 'auto': fall back to the WASM-only build. Not to the WASM EP of the runtime already loaded:
  // after a failed WebGPU session, onnxruntime-web 1.30's WebGPU build can block the page when
  // used again (seen with a failing requestDevice()), so it is not touched any more.
  if (options.ort) {
    throw new WebDecoderError('SESSION_FAILED', `${failure.message} (with an \`ort\` module given there is no separate runtime to fall back to; use provider 'wasm')`, { cause: failure });
  }
  const reason = `the WebGPU session failed: ${failure.message}`;
  const wasmOrt = await ortFor('wasm');
  configureOrt(wasmOrt, settings, null);
  const session = await createSession(wasmOrt, model, 'wasm', sessionTimeout).catch((e: unknown) => {
    throw sessionError('wasm', e);
  });
  return new LocalDecoder(wasmOrt, session, 'wasm', model, reason, null, decoderSettings);
}

interface DecoderSettings {
  tileSize: number;
  limits?: ContainerLimits;
  fetch?: typeof fetch;
}

/** The limits a header is read with before its model is known (a family): the pixel limit, and the format's index limit. */
function familyLimits(opts: ContainerLimits = {}): Required<ContainerLimits> {
  return { maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS, maxIndices: opts.maxIndices ?? 2 ** 28 };
}

/** `levels` as a family decoder can check it before the member is known. */
function checkLevelsArg(levels: number | undefined): void {
  if (levels !== undefined && (!Number.isInteger(levels) || levels < 1)) throw new WebDecoderError('BAD_ARGUMENT', `levels must be a positive integer (got ${levels})`);
}

/** A byte stream for a decodeProgressive source that is not bytes (fetching URLs with `fetchFn`). */
async function openByteStream(source: Exclude<ByteSource, Uint8Array | ArrayBuffer>, signal: AbortSignal | undefined, fetchFn: typeof fetch | undefined): Promise<ReadableStream<Uint8Array>> {
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return source;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.stream() as ReadableStream<Uint8Array>;
  let res: Response;
  if (typeof Response !== 'undefined' && source instanceof Response) res = source;
  else if (typeof source === 'string' || source instanceof URL) {
    if (!fetchFn) throw new WebDecoderError('FETCH_FAILED', 'this environment has no fetch()');
    let url: URL;
    try {
      url = new URL(source, (globalThis as { location?: { href?: string } }).location?.href);
    } catch {
      throw new WebDecoderError('BAD_ARGUMENT', `${String(source)} is not a URL`);
    }
    try {
      res = await fetchFn(url, { signal });
    } catch (e) {
      if (signal?.aborted) throw new WebDecoderError('ABORTED', 'decoding was aborted', { cause: e });
      throw new WebDecoderError('FETCH_FAILED', `cannot fetch ${url.href}: ${firstLine(e)}`, { cause: e });
    }
    if (!res.ok) throw new WebDecoderError('FETCH_FAILED', `cannot fetch ${url.href}: HTTP ${res.status} ${res.statusText}`.trim());
  } else {
    throw new WebDecoderError('BAD_ARGUMENT', 'decodeProgressive needs a URL, Response, ReadableStream, Blob, Uint8Array or ArrayBuffer');
  }
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    return new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
  }
  return res.body as ReadableStream<Uint8Array>;
}

interface FamilyDecoderInit {
  family: LoadedFamily;
  ort: Ort;
  provider: Provider;
  fallbackReason: string | null;
  adapter: GpuAdapterLike | null;
  /** With 'auto' on WebGPU: the WASM-only runtime to move to should a WebGPU session fail (null: no fallback). */
  wasmFallback: (() => Promise<Ort>) | null;
  settings: DecoderSettings;
  sessionTimeout: number;
  fetch?: typeof fetch;
}

/**
 * The decoder for a model family (on this thread; also what the worker runs): one LocalDecoder per
 * member, created on first use from the member's manifest.json and decoder graph and cached, so a
 * page that decodes files of three qualities loads three decoder graphs.
 */
export class FamilyDecoder implements WebDecoder {
  readonly worker = false;
  readonly manifest = null;
  readonly info = null;
  readonly family: ModelFamily;
  readonly adapterInfo: string | null;
  readonly tileSize: number;
  private ort: Ort;
  private currentProvider: Provider;
  private reason: string | null;
  private wasmFallback: (() => Promise<Ort>) | null;
  private readonly limits: Required<ContainerLimits>;
  private readonly members = new Map<number, Promise<LocalDecoder>>();
  /** Session creation, one member at a time (a WebGPU failure moves every later member to WASM). */
  private sessions: Promise<unknown> = Promise.resolve();
  private disposed = false;

  /** @internal Use createDecoder(). */
  constructor(private readonly init: FamilyDecoderInit) {
    this.family = init.family.family;
    this.ort = init.ort;
    this.currentProvider = init.provider;
    this.reason = init.fallbackReason;
    this.wasmFallback = init.wasmFallback;
    const info = init.provider === 'webgpu' ? init.adapter?.info : undefined;
    this.adapterInfo = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown adapter' : null;
    this.tileSize = init.settings.tileSize;
    this.limits = familyLimits(init.settings.limits);
  }

  /** The execution provider: the one members' sessions are created on ('wasm' after a WebGPU session failed under 'auto'). */
  get provider(): Provider {
    return this.currentProvider;
  }

  get fallbackReason(): string | null {
    return this.reason;
  }

  /** Qualities of the members loaded so far (or loading), in load order. */
  get loadedQualities(): number[] {
    return [...this.members.keys()];
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const members = [...this.members.values()];
    this.members.clear();
    await Promise.all(members.map((p) => p.then((d) => d.dispose(), () => undefined)));
  }

  readHeader(bytes: Uint8Array | ArrayBuffer): DqcHeader {
    return readHeader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), this.limits);
  }

  async decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): Promise<DecodeResult> {
    const t0 = now();
    this.checkOpen();
    if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
      throw new WebDecoderError('BAD_ARGUMENT', 'decode() needs the .dqc file as a Uint8Array or ArrayBuffer (use decodeProgressive for URLs, Blobs and streams)');
    }
    checkLevelsArg(options.levels);
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    let header: DqcHeader;
    try {
      header = this.readHeader(data);
    } catch (e) {
      throw htmlHint(e, data, 'the data');
    }
    const member = await this.memberFor(header, options.signal);
    return member.decode(data, options, t0);
  }

  async decodeProgressive(source: ByteSource, options: DecodeOptions = {}): Promise<DecodeResult> {
    const t0 = now();
    if (source instanceof Uint8Array || source instanceof ArrayBuffer) return this.decode(source, options);
    this.checkOpen();
    checkLevelsArg(options.levels);
    const what = typeof source === 'string' || source instanceof URL ? String(source) : 'the source';
    const stream = await openByteStream(source, options.signal, this.init.fetch);
    const reader = stream.getReader();
    const onAbort = (): void => void reader.cancel().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let handedOver = false;
    try {
      // Read until the header (which names the member) has arrived.
      let buf = new Uint8Array(0);
      let header: DqcHeader | null = null;
      let done = false;
      while (!header && !done) {
        aborted(options.signal, 'decoding');
        const next = await reader.read();
        done = next.done;
        if (next.value) {
          const bigger = new Uint8Array(buf.length + next.value.length);
          bigger.set(buf);
          bigger.set(next.value, buf.length);
          buf = bigger;
        }
        try {
          header = this.readHeader(buf);
        } catch (e) {
          if (done || !(e instanceof DqcError && e.code === 'TRUNCATED')) throw htmlHint(e, buf, what);
        }
      }
      aborted(options.signal, 'decoding');
      const member = await this.memberFor(header!, options.signal);
      // The member decodes the bytes read so far, then the rest of the stream.
      const head = buf;
      const rest = new ReadableStream<Uint8Array>({
        start(c) {
          if (head.length > 0) c.enqueue(head);
          if (done) c.close();
        },
        async pull(c) {
          const next = await reader.read();
          if (next.done) c.close();
          else c.enqueue(next.value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      });
      options.signal?.removeEventListener('abort', onAbort);
      handedOver = true;
      return await member.decodeProgressive(rest, options, t0);
    } catch (e) {
      if (!handedOver) await reader.cancel().catch(() => undefined);
      if (options.signal?.aborted && !(e instanceof WebDecoderError && e.code === 'ABORTED')) throw new WebDecoderError('ABORTED', 'decoding was aborted', { cause: e });
      throw e;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private checkOpen(): void {
    if (this.disposed) throw new WebDecoderError('ABORTED', 'the decoder was disposed');
  }

  /** The member that made this file (loaded on first use), or MODEL_MISMATCH naming the family. */
  private async memberFor(header: DqcHeader, signal: AbortSignal | undefined): Promise<LocalDecoder> {
    const member = familyMemberByFingerprint(this.family, header.fingerprint);
    if (!member) {
      const fp = header.fingerprint.length > 24 ? `${header.fingerprint.slice(0, 16)}…` : header.fingerprint;
      throw new DqcError('MODEL_MISMATCH', `file was encoded by another model (fingerprint ${fp}; none of the ${this.family.qualities.length} members of the loaded model family ${this.family.name} has it)`);
    }
    let p = this.members.get(member.quality);
    if (!p) {
      const loading = this.loadMember(member.quality);
      p = loading;
      this.members.set(member.quality, loading);
      // A failed load is forgotten, so that the next file of this member tries again.
      loading.catch(() => {
        if (this.members.get(member.quality) === loading) this.members.delete(member.quality);
      });
    }
    if (!signal) return p.then((d) => (this.checkOpen(), d));
    // This decode may stop waiting (its signal), the member keeps loading for the next files.
    let onAbort = (): void => undefined;
    const abortedP = new Promise<never>((_, reject) => {
      onAbort = () => reject(new WebDecoderError('ABORTED', 'decoding was aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const d = await Promise.race([p, abortedP]);
      this.checkOpen();
      return d;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async loadMember(quality: number): Promise<LocalDecoder> {
    const member = this.family.qualities[quality - 1];
    // Not tied to one decode's signal: other decodes may wait for the same member.
    const model = await loadFamilyMember(this.init.family, member, undefined, this.init.fetch);
    this.checkOpen();
    const next = this.sessions.then(() => this.createMemberSession(model));
    this.sessions = next.catch(() => undefined);
    const { ort, session, provider } = await next;
    const d = new LocalDecoder(ort, session, provider, model, null, this.init.adapter, this.init.settings);
    if (this.disposed) {
      await d.dispose();
      throw new WebDecoderError('ABORTED', 'the decoder was disposed');
    }
    return d;
  }

  private async createMemberSession(model: LoadedModel): Promise<{ ort: Ort; session: Session; provider: Provider }> {
    const timeout = this.init.sessionTimeout;
    if (this.currentProvider === 'webgpu') {
      try {
        const session = await createSession(this.ort, model, 'webgpu', timeout);
        this.wasmFallback = null; // WebGPU works: members stay on it
        return { ort: this.ort, session, provider: 'webgpu' };
      } catch (e) {
        const failure = sessionError('webgpu', e);
        if (!this.wasmFallback || failure.code === 'MODEL_INVALID') throw failure;
        // As createDecoder does for a single model: the WASM-only build, for this and every later member.
        this.ort = await this.wasmFallback();
        this.wasmFallback = null;
        this.currentProvider = 'wasm';
        this.reason = `the WebGPU session failed: ${failure.message}`;
      }
    }
    const session = await createSession(this.ort, model, 'wasm', timeout).catch((e: unknown) => {
      throw sessionError('wasm', e);
    });
    return { ort: this.ort, session, provider: 'wasm' };
  }
}

/** The decoder on this thread (createDecoder without `worker`; also what the worker runs). */
export class LocalDecoder implements WebDecoder {
  readonly worker = false;
  /** The validated manifest. */
  readonly manifest: Manifest;
  readonly family = null;
  /** Why 'auto' did not give WebGPU (null when it did, or when a provider was named). */
  readonly fallbackReason: string | null;
  /** The WebGPU adapter's vendor/architecture when WebGPU is used (e.g. "google swiftshader"). */
  readonly adapterInfo: string | null;
  /** Core tile size in pixels (0 = untiled). */
  readonly tileSize: number;
  private readonly io: DecoderIo;
  private readonly margins: TileMargins;
  /** What every file is checked against (CreateDecoderOptions.limits). */
  private readonly limits: Required<ContainerLimits>;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  /** @internal Use createDecoder(). */
  constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    /** The execution provider actually used: 'webgpu' or 'wasm'. */
    readonly provider: Provider,
    private readonly model: LoadedModel,
    fallbackReason: string | null,
    adapter: GpuAdapterLike | null,
    private readonly settings: DecoderSettings,
  ) {
    this.manifest = model.manifest;
    this.io = model.io;
    this.fallbackReason = fallbackReason;
    const info = provider === 'webgpu' ? adapter?.info : undefined;
    this.adapterInfo = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown adapter' : null;
    this.margins = modelMargins(model.manifest);
    this.limits = limitsForModel(model.manifest, settings.limits);
    const S = model.manifest.totalStride;
    this.tileSize = settings.tileSize === 0 ? 0 : roundUp(settings.tileSize, S);
  }

  get info(): ModelInfo {
    const m = this.manifest;
    const info: ModelInfo = { name: m.name, fingerprint: m.fingerprint, levels: m.levels, totalStride: m.totalStride };
    if (this.model.quality !== undefined) info.quality = this.model.quality;
    return info;
  }

  /** Release the onnxruntime session; later calls reject with WebDecoderError('ABORTED'). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => undefined);
    await this.session.release().catch(() => undefined);
  }

  /** Read a .dqc header (no decoding): size, channels, levels and where each stream lies. */
  readHeader(bytes: Uint8Array | ArrayBuffer): DqcHeader {
    return readHeader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), this.limits);
  }

  /**
   * Decode a complete .dqc file. With onProgress, the top-level preview is reported first, then
   * the final image (which the promise also resolves with).
   */
  async decode(bytes: Uint8Array | ArrayBuffer, options: DecodeOptions = {}, t0 = now()): Promise<DecodeResult> {
    const data = this.bytesOf(bytes);
    let header: DqcHeader;
    try {
      header = this.checkedHeader(data);
    } catch (e) {
      throw htmlHint(e, data, 'the data');
    }
    const n = this.levelCount(options.levels);
    if (this.wantPreview(options, n)) {
      const preview = await this.decodeStage(data, header, 1, false, t0, options.signal);
      options.onProgress?.(preview);
      await nextPaint();
    }
    const result = await this.decodeStage(data, header, n, true, t0, options.signal);
    options.onProgress?.(result);
    return result;
  }

  /**
   * Decode while the file downloads: the preview (top level) is decoded as soon as the header and
   * the top stream have arrived, the final image when everything has. Accepts a URL (fetched),
   * a Response, a ReadableStream, a Blob/File, or bytes.
   */
  async decodeProgressive(source: ByteSource, options: DecodeOptions = {}, t0 = now()): Promise<DecodeResult> {
    if (source instanceof Uint8Array || source instanceof ArrayBuffer) return this.decode(source, options, t0);
    this.checkOpen();
    const n = this.levelCount(options.levels);
    const stream = await openByteStream(source, options.signal, this.settings.fetch);
    const reader = stream.getReader();
    const onAbort = (): void => void reader.cancel().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let buf = new Uint8Array(64 * 1024);
    let len = 0;
    let header: DqcHeader | null = null;
    let preview: Promise<void> | null = null;
    let previewError: unknown = null;
    try {
      for (;;) {
        aborted(options.signal, 'decoding');
        const { done, value } = await reader.read();
        if (done) break;
        if (len + value.length > buf.length) {
          const bigger = new Uint8Array(Math.max(buf.length * 2, len + value.length));
          bigger.set(buf.subarray(0, len));
          buf = bigger;
        }
        buf.set(value, len);
        len += value.length;
        if (!header) {
          try {
            header = this.tryHeader(buf.subarray(0, len));
          } catch (e) {
            throw htmlHint(e, buf.subarray(0, len), typeof source === 'string' || source instanceof URL ? String(source) : 'the source');
          }
        }
        if (header) {
          // Bound what a misbehaving source can make us buffer: the streams, plus an alpha section of at most ~2 bytes per pixel.
          const limit = header.totalLength + (header.channels % 2 === 0 ? 8 + 2 * header.width * header.height + 4096 : 0);
          if (len > limit) throw new DqcError('TRAILING_DATA', `the source sent more than the ${limit} bytes its header accounts for`);
          const top = header.levels[0];
          if (!preview && this.wantPreview(options, n) && len >= top.streamOffset + top.streamLength) {
            const prefix = buf.subarray(0, top.streamOffset + top.streamLength);
            const h = header;
            preview = this.decodeStage(prefix, h, 1, false, t0, options.signal).then(
              (r) => options.onProgress?.(r),
              (e: unknown) => {
                previewError = e;
              },
            );
          }
        }
        if (previewError) throw previewError;
      }
      const data = buf.subarray(0, len);
      let full: DqcHeader;
      try {
        full = this.checkedHeader(data); // the proper error for a short or broken file
      } catch (e) {
        throw htmlHint(e, data, typeof source === 'string' || source instanceof URL ? String(source) : 'the source');
      }
      if (preview) {
        await preview;
        if (!previewError) await nextPaint(); // the preview on screen before the final pass
      }
      if (previewError) throw previewError;
      const result = await this.decodeStage(data, full, n, true, t0, options.signal);
      options.onProgress?.(result);
      return result;
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (preview) await preview;
      if (options.signal?.aborted && !(e instanceof WebDecoderError && e.code === 'ABORTED')) throw new WebDecoderError('ABORTED', 'decoding was aborted', { cause: e });
      throw e;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      reader.releaseLock?.();
    }
  }

  private bytesOf(bytes: Uint8Array | ArrayBuffer): Uint8Array {
    this.checkOpen();
    if (bytes instanceof Uint8Array) return bytes;
    if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
    throw new WebDecoderError('BAD_ARGUMENT', 'decode() needs the .dqc file as a Uint8Array or ArrayBuffer (use decodeProgressive for URLs, Blobs and streams)');
  }

  private checkOpen(): void {
    if (this.disposed) throw new WebDecoderError('ABORTED', 'the decoder was disposed');
  }

  private levelCount(levels: number | undefined): number {
    const L = this.manifest.levels.length;
    const n = levels ?? L;
    if (!Number.isInteger(n) || n < 1 || n > L) throw new WebDecoderError('BAD_ARGUMENT', `levels must be an integer from 1 to ${L} (got ${n})`);
    return n;
  }

  private wantPreview(options: DecodeOptions, n: number): boolean {
    return options.onProgress !== undefined && options.preview !== false && n > 1;
  }

  /** The header, or null while `bytes` is too short to hold it; other problems throw. */
  private tryHeader(bytes: Uint8Array): DqcHeader | null {
    try {
      return this.checkedHeader(bytes);
    } catch (e) {
      if (e instanceof DqcError && e.code === 'TRUNCATED') return null;
      throw e;
    }
  }

  /** Parse the header and check that the file belongs to this model and fits it. */
  private checkedHeader(bytes: Uint8Array): DqcHeader {
    const header = readHeader(bytes, this.limits);
    checkHeaderFitsModel(header, this.manifest);
    return header;
  }

  /** Run the decoder graph; runs are serialised (one session, one tile's activations at a time). */
  private run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
    const next = this.queue.then(async () => {
      this.checkOpen();
      try {
        return (await this.session.run(feeds)) as Record<string, OrtTensor>;
      } catch (e) {
        throw new WebDecoderError('INFERENCE_FAILED', `the decoder graph failed on ${this.provider}: ${firstLine(e)}`, { cause: e });
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Entropy-decode the top `n` levels of `bytes` and reconstruct the image from them. */
  private async decodeStage(bytes: Uint8Array, header: DqcHeader, requested: number, final: boolean, t0: number, signal: AbortSignal | undefined): Promise<DecodeResult> {
    const m = this.manifest;
    const L = m.levels.length;
    const io = this.io;
    const tA = now();
    // A file may hold only its model's top levels (the low-rate operating point).
    const n = Math.min(requested, header.levels.length);
    const decoded = decodeIndices(bytes, { tables: m.entropy, prior: m.prior, expectedFingerprint: m.fingerprint, maxLevels: n, alpha: final && n === header.levels.length, limits: this.limits });
    const tB = now();
    const { width, height, paddedWidth, paddedHeight } = header;
    const channels = header.channels as 1 | 2 | 3 | 4;
    // Model levels are bottom first: model level l is file level L−1−l; levels not used are zeros, masked out.
    const maps = m.levels.map((lv, l) => {
      const fileLevel = L - 1 - l;
      return fileLevel < n ? decoded.levels[fileLevel].indices : null;
    });
    const ort = this.ort;
    const mask = new ort.Tensor('float32', Float32Array.from(m.levels, (_, l) => (L - 1 - l < n ? 1 : 0)), [L]);
    const out = new Uint8ClampedArray(width * height * 4).fill(255); // opaque unless the file has alpha
    const grey = channels <= 2;
    const S = m.totalStride;
    const tile = this.tileSize === 0 ? Math.max(paddedWidth, paddedHeight) : this.tileSize;
    let inference = 0;
    let pixels = 0;
    for (const { core, region } of planTiles(paddedWidth, paddedHeight, tile, this.margins.decoder, S)) {
      if (core.x0 >= width || core.y0 >= height) continue; // padding only
      aborted(signal, 'decoding');
      const rw = region.x1 - region.x0;
      const rh = region.y1 - region.y0;
      const feeds: Record<string, OrtTensor> = { [io.levelMask]: mask };
      m.levels.forEach((lv, l) => {
        const s = lv.stride;
        const W = paddedWidth / s;
        const H = paddedHeight / s;
        const tw = rw / s, th = rh / s, ox = region.x0 / s, oy = region.y0 / s;
        const size = lv.M * th * tw;
        const src = maps[l];
        if (this.model.indexType === 'int64') {
          const data = new BigInt64Array(size);
          if (src) for (let c = 0; c < lv.M; c++) for (let y = 0; y < th; y++) for (let x = 0, from = (c * H + oy + y) * W + ox, to = (c * th + y) * tw; x < tw; x++) data[to + x] = BigInt(src[from + x]);
          feeds[io.indices[l]] = new ort.Tensor('int64', data, [1, lv.M, th, tw]);
        } else {
          const data = new Int32Array(size);
          if (src) {
            for (let c = 0; c < lv.M; c++) {
              for (let y = 0; y < th; y++) {
                const from = (c * H + oy + y) * W + ox;
                data.set(src.subarray(from, from + tw), (c * th + y) * tw);
              }
            }
          }
          feeds[io.indices[l]] = new ort.Tensor('int32', data, [1, lv.M, th, tw]);
        }
      });
      const tR = now();
      const result = await this.run(feeds);
      const t = result[io.reconstruction];
      const tP = now();
      inference += tP - tR;
      try {
        const d = t?.dims ?? [];
        if (!t || t.type !== 'float32' || d.length !== 4 || d[0] !== 1 || d[1] !== 3 || d[2] !== rh || d[3] !== rw) {
          throw new WebDecoderError('INFERENCE_FAILED', `decoder output ${io.reconstruction} is ${t?.type} [${d.join(', ')}], expected float32 [1, 3, ${rh}, ${rw}]`);
        }
        const rect = { x0: core.x0, y0: core.y0, x1: Math.min(core.x1, width), y1: Math.min(core.y1, height) };
        copyReconstruction({ data: t.data as Float32Array, x0: region.x0, y0: region.y0, w: rw, h: rh }, rect, out, width, { stride: 4, grey });
      } finally {
        for (const v of Object.values(result)) v.dispose?.();
      }
      pixels += now() - tP;
    }
    if (decoded.alpha) interleaveAlpha(out, decoded.alpha, 4);
    const end = now();
    // A preview sees only a prefix of the file: it reports the level streams' total (the file size unless there is alpha).
    const fileBytes = final ? bytes.length : header.totalLength;
    return {
      width,
      height,
      data: out,
      channels,
      levelsUsed: n,
      totalLevels: L,
      final,
      provider: this.provider,
      ms: end - t0,
      timings: { entropy: tB - tA, inference, pixels },
      fileBytes,
      bpp: (fileBytes * 8) / (width * height),
      header,
      model: this.info,
    };
  }
}
