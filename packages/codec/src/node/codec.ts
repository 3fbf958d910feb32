/**
 * DqCodec: images ⇄ .dqc bytes through a model directory and onnxruntime-node.
 *
 *   encode:  image → (tiles) encoder.onnx → quantizer.onnx → index maps → entropy coding (core)
 *   decode:  .dqc → entropy decoding (core) → index maps → (tiles) decoder.onnx → image
 *
 * The model is a model directory or a model family (a directory with family.json and one model
 * directory per quality, like the shipped models/default). A family codec encodes at the quality
 * asked for (EncodeOptions.quality; default the family's defaultQuality) and decodes each file
 * with the member whose fingerprint the file records. Members are loaded on first use and shared
 * by the family's codecs; each loads only the sessions it uses.
 *
 * Sessions are created on first use and reused; decoding never loads the encoder or quantizer.
 * Graph runs are serialised per codec, so concurrent calls share the memory bound of one tile.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import {
  decodeIndices,
  DqcError,
  encodeIndices,
  encodingTables,
  familyMember,
  familyMemberByFingerprint,
  isDqcError,
  checkHeaderFitsModel,
  copyReconstruction,
  interleaveAlpha,
  limitsForModel,
  readHeader,
  type ContainerLimits,
  type DqcHeader,
  type EntropyMethod,
  type FamilyMember,
  type LevelIndices,
  type Manifest,
  type ModelFamily,
} from '@dqcodec/core';
import { checkNotSameFile, FileError, writeFileAtomic } from './files.js';
import { checkDeclaredLengths, readDqcFile } from './inputs.js';
import { encodeImageBuffer, outputFormat, readImage, regionTensor, type OutputFormat, type SourceImage } from './image.js';
import { GRAPH_KEYS, isFamilyDir, loadFamilyMember, loadModelBundle, ModelError, readModelFamily, readVerifiedGraph, type GraphKey, type ModelBundle } from './model.js';
import { createSession, cudaAvailable, CUDA_INSTALL_HINT, ExecutionProviderError, ort, type ExecutionProvider } from './runtime.js';
import { modelMargins, planTiles, type TileMargins } from '@dqcodec/core';

/** Default core tile size in pixels (see DqCodecOptions.tileSize). */
export const DEFAULT_TILE_SIZE = 1024;

/**
 * Most intra-op threads a codec accepts: 64, or the number of cores when that is larger. Each
 * thread costs memory and start-up time (100000 took over 60 s and 2.5 GB), and more threads
 * than cores buy nothing.
 */
export const MAX_THREADS = Math.max(64, availableParallelism());


export interface DqCodecOptions {
  /** Execution provider (default 'cpu'). */
  ep?: ExecutionProvider;
  /** Intra-op threads per graph, 1..MAX_THREADS (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /**
   * Core tile size in pixels, rounded up to a multiple of the model's total stride (default 1024).
   * Each graph run sees at most (tileSize + 2·margin)² pixels, which bounds memory whatever the
   * image size; 0 disables tiling (whole image in one run).
   */
  tileSize?: number;
  /**
   * Keep onnxruntime's memory arena between runs: faster (no page faults for fresh buffers), but
   * the session keeps its peak until close(). Default: on for the decoder graph (decoding speed;
   * its arena peaks near 0.25 GB at 1024 px tiles), off for the encoder and quantizer.
   */
  memArena?: boolean;
  /** Rewrite ConvTranspose into sub-pixel Conv + DepthToSpace for the CPU EP (default true; see graphRewrite.ts). */
  rewriteGraphs?: boolean;
  /** Largest image accepted, in pixels of the padded size (default DEFAULT_MAX_PIXELS); checked before anything is allocated. */
  maxPixels?: number;
  /**
   * Container limits for .dqc files. limits.maxPixels is the same as maxPixels (which wins);
   * maxIndices defaults to what maxPixels allows for this model's levels.
   */
  limits?: ContainerLimits;
}

export interface EncodeOptions {
  /** Composite alpha onto a background (CSS colour; `true` = white) instead of storing it losslessly. */
  flatten?: boolean | string;
  /** Entropy coding method (default: the model's, see encodingTables in @dqcodec/core). */
  method?: EntropyMethod;
  /** Encode damaged images (truncated, corrupt data) with a note instead of refusing them (default false). */
  allowCorrupt?: boolean;
  /**
   * Store only the top N levels (default: all). Fewer levels = a smaller file and a coarser image:
   * the low-rate operating point (see QUALITY_LEVELS). Decoders treat such a file like a preview.
   */
  levels?: number;
  /**
   * Operating point. With a model family (such as the shipped models/default: qualities 1–11,
   * about 0.09 to 1.6 bpp, default 6, aliases low = 2, medium = 6, high = 10): a quality 1…N
   * (1 = smallest files), as a number or numeric string, or one of the family's aliases; the
   * member of that quality encodes the image. Default: this codec's own quality (for a codec from
   * DqCodec.load, the family's defaultQuality). With a single model directory: 'high' stores every
   * level, 'low' only the top one (see levelsForQuality; `levels` wins), and numbers are refused.
   * Decoding needs no quality: the file records its model. A quality that is not the model's
   * throws (DqcError BAD_MANIFEST for a family, RangeError for a single model) before any work.
   */
  quality?: number | string;
}

/** A single model's named operating points: how many top levels a file stores ('high' = all of them). Families have their own qualities (EncodeOptions.quality). */
export type Quality = 'high' | 'low';
export const QUALITIES: readonly Quality[] = ['high', 'low'];

/** Levels stored for a quality on a model with `total` levels. */
export function levelsForQuality(quality: Quality, total: number): number {
  return quality === 'low' ? 1 : total;
}

export interface ImageTokens {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  paddedWidth: number;
  paddedHeight: number;
  /** Index maps, TOP level first (file order), each [M, h, w] row-major. */
  levels: LevelIndices[];
  /** The alpha plane when the image keeps one. */
  alpha: Uint8Array | null;
  notes: string[];
}

export interface EncodeResult {
  /** The .dqc file. */
  bytes: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** Bits per pixel of the whole file. */
  bpp: number;
  notes: string[];
  /** Milliseconds spent reading the image, in the graphs, and entropy coding. */
  timings: { read: number; infer: number; entropy: number };
}

export interface DecodeOptions {
  /** Decode only the top N levels (a progressive preview); the rest are zero-filled and masked. Default: all. */
  levels?: number;
}

export interface DecodedImage {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA: the channels of the encoded image. */
  channels: 1 | 2 | 3 | 4;
  /** Interleaved 8-bit pixels, width × height × channels. */
  pixels: Uint8Array;
  /** Levels used (top first) out of `totalLevels`. */
  levels: number;
  totalLevels: number;
  header: DqcHeader;
  timings: { entropy: number; infer: number };
}

export interface EncodeFileResult extends Omit<EncodeResult, 'bytes'> {
  output: string;
  size: number;
}

export interface DecodeFileResult extends Omit<DecodedImage, 'pixels'> {
  output: string;
  size: number;
  format: OutputFormat;
}

export interface FileOptions {
  /** Replace an existing output file (atomically). Default true. */
  overwrite?: boolean;
  /** Replace an existing output file even when it is read-only (it keeps its permissions). Default false. */
  force?: boolean;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** What the codecs of one model family share: the family and its members, loaded on first use. */
interface FamilyContext {
  /** The directory as given (error messages) and resolved. */
  given: string;
  dir: string;
  family: ModelFamily;
  members: Map<number, Promise<DqCodec>>;
}

export class DqCodec {
  readonly manifest: Manifest;
  readonly modelDir: string;
  /** Receptive-field margins used around tiles (image pixels, multiples of the total stride). */
  readonly margins: TileMargins;
  /** Core tile size in pixels (0 = untiled). */
  readonly tileSize: number;
  /** The limits every input is checked against (image pixels, code indices). */
  readonly limits: Required<ContainerLimits>;
  /** The model family this codec is a member of; null for a single model directory. */
  readonly family: ModelFamily | null;
  /** The family's directory (absolute); null for a single model directory. */
  readonly familyDir: string | null;
  /** This codec's quality in its family (1 = smallest files); null for a single model directory. */
  readonly quality: number | null;
  private readonly sessions = new Map<GraphKey, Promise<ort.InferenceSession>>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly bundle: ModelBundle,
    private readonly opts: DqCodecOptions,
    private readonly ctx: FamilyContext | null = null,
    quality: number | null = null,
  ) {
    this.family = ctx?.family ?? null;
    this.familyDir = ctx?.dir ?? null;
    this.quality = quality;
    this.manifest = bundle.manifest;
    this.modelDir = bundle.dir;
    this.margins = modelMargins(bundle.manifest);
    const S = bundle.manifest.totalStride;
    const t = opts.tileSize ?? DEFAULT_TILE_SIZE;
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`tileSize must be a non-negative integer (got ${t})`);
    this.tileSize = t === 0 ? 0 : roundUp(t, S);
    this.limits = codecLimits(bundle.manifest, opts);
  }

  /**
   * Read and verify a model directory, or a model family (a directory with family.json: its
   * family.json and its default member are read; other members on first use). Sessions are
   * created lazily, on first use of each graph.
   */
  static async load(modelDir: string, opts: DqCodecOptions = {}): Promise<DqCodec> {
    const ep = opts.ep ?? 'cpu';
    if (ep !== 'cpu' && ep !== 'cuda') throw new ExecutionProviderError(`unknown execution provider "${ep as string}" (use cpu or cuda)`);
    if (ep === 'cuda' && !cudaAvailable()) throw new ExecutionProviderError(CUDA_INSTALL_HINT);
    const threads = opts.threads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)) {
      throw new RangeError(`threads must be an integer from 1 to ${MAX_THREADS} (got ${threads})`);
    }
    const o = { ...opts, ep };
    if (isFamilyDir(modelDir)) {
      const family = await readModelFamily(modelDir);
      const ctx: FamilyContext = { given: modelDir, dir: resolve(modelDir), family, members: new Map() };
      const m = familyMember(family);
      const codec = new DqCodec(await loadFamilyMember(modelDir, family, m), o, ctx, m.quality);
      ctx.members.set(m.quality, Promise.resolve(codec));
      return codec;
    }
    return new DqCodec(await loadModelBundle(modelDir), o);
  }

  /**
   * The codec of one quality of this codec's family: a number 1…N, a numeric string or an alias
   * (see EncodeOptions.quality); undefined → this codec. Members are loaded (and verified against
   * family.json) on first use and shared by the family's codecs. A single model directory has
   * only itself: 'high' and 'low' give this codec, anything else throws a RangeError.
   */
  async member(quality?: number | string): Promise<DqCodec> {
    if (quality === undefined) return this;
    if (!this.ctx) {
      if (quality === 'high' || quality === 'low') return this;
      throw new RangeError(
        `quality ${JSON.stringify(quality)}: model ${this.manifest.name} (${this.modelDir}) is a single model, not a model family; its qualities are high (every level) and low (the top level only)`,
      );
    }
    return this.memberCodec(familyMember(this.ctx.family, quality));
  }

  /** Qualities of this codec's family whose members are loaded (or loading); [] for a single model. */
  get loadedQualities(): number[] {
    return this.ctx ? [...this.ctx.members.keys()].sort((a, b) => a - b) : [];
  }

  private memberCodec(m: FamilyMember): Promise<DqCodec> {
    const ctx = this.ctx!;
    let p = ctx.members.get(m.quality);
    if (!p) {
      p = loadFamilyMember(ctx.given, ctx.family, m).then((b) => new DqCodec(b, this.opts, ctx, m.quality));
      ctx.members.set(m.quality, p);
      p.catch(() => ctx.members.delete(m.quality));
    }
    return p;
  }

  /**
   * The codec for data made by the model with this fingerprint: this codec, or for a family the
   * member that made it. Data of no member throws DqcError MODEL_MISMATCH naming the family; for a
   * single model this codec is returned and its own checks refuse foreign data.
   */
  async forFingerprint(fingerprint: string, what = 'file was encoded'): Promise<DqCodec> {
    const ctx = this.ctx;
    if (!ctx || fingerprint === this.manifest.fingerprint) return this;
    const m = familyMemberByFingerprint(ctx.family, fingerprint);
    if (!m) throw this.notInFamily(fingerprint, what);
    return this.memberCodec(m);
  }

  private notInFamily(fingerprint: string, what: string): DqcError {
    const ctx = this.ctx!;
    return new DqcError(
      'MODEL_MISMATCH',
      `${what} by another model (fingerprint ${fingerprint.slice(0, 16)}…), not by any of the ${ctx.family.qualities.length} qualities of model family ${ctx.family.name} (${ctx.given})`,
    );
  }

  /** For a family, the member that made a .dqc file (its header read within this codec's pixel limit). */
  private async codecForBytes(bytes: Uint8Array): Promise<DqCodec> {
    if (!this.ctx) return this;
    const header = withSizeHint(() => readHeader(bytes, { maxPixels: this.limits.maxPixels }));
    return this.forFingerprint(header.fingerprint);
  }

  /** Graphs whose sessions have been created (or are being created). */
  get loadedGraphs(): GraphKey[] {
    return GRAPH_KEYS.filter((k) => this.sessions.has(k));
  }

  private session(key: GraphKey): Promise<ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.createChecked(key);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  private async createChecked(key: GraphKey): Promise<ort.InferenceSession> {
    const bytes = await readVerifiedGraph(this.bundle, key);
    let session: ort.InferenceSession;
    try {
      const memArena = this.opts.memArena ?? key === 'decoder';
      session = await createSession(bytes, key, { ep: this.opts.ep ?? 'cpu', threads: this.opts.threads, memArena, rewrite: this.opts.rewriteGraphs });
    } catch (err) {
      if (err instanceof ExecutionProviderError) throw err;
      throw new ModelError(`model ${this.modelDir}: cannot load ${this.manifest.graphs[key]}: ${(err as Error).message.split('\n')[0]}`);
    }
    const io = this.bundle.io;
    const want: Record<GraphKey, [string[], string[]]> = {
      encoder: [[io.image], io.e],
      quantizer: [io.e, io.indices],
      decoder: [[...io.indices, io.levelMask], [io.reconstruction]],
    };
    const [ins, outs] = want[key];
    const missing = [...ins.filter((n) => !session.inputNames.includes(n)), ...outs.filter((n) => !session.outputNames.includes(n))];
    if (missing.length > 0) {
      await session.release().catch(() => undefined);
      throw new ModelError(`model ${this.modelDir}: ${this.manifest.graphs[key]} lacks the tensors ${missing.join(', ')} named in the manifest`);
    }
    return session;
  }

  /** Run one graph; runs are serialised so only one tile's activations exist at a time. */
  private run(key: GraphKey, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    const next = this.queue.then(async () => (await this.session(key)).run(feeds));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Release the onnxruntime sessions, of every loaded member for a family (the codec can still be
   * used; sessions are recreated on demand).
   */
  async close(): Promise<void> {
    if (this.ctx) {
      for (const p of [...this.ctx.members.values()]) await (await p.catch(() => null))?.closeSessions();
    }
    await this.closeSessions();
  }

  private async closeSessions(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await this.queue;
    for (const s of all) await (await s.catch(() => null))?.release();
  }

  private async read(input: string | Uint8Array, opts: EncodeOptions): Promise<SourceImage> {
    // A path is read bounded (regular files only, at most maxImageBytes) by readImage.
    const name = typeof input === 'string' ? input : 'input';
    return readImage(input, { maxPixels: this.limits.maxPixels, padTo: this.manifest.totalStride, flatten: opts.flatten, allowCorrupt: opts.allowCorrupt, name });
  }

  /** Image → index maps (top level first): the model's discrete tokens for the image. */
  async tokens(input: string | Uint8Array, opts: EncodeOptions = {}): Promise<ImageTokens> {
    const c = await this.member(opts.quality);
    if (c !== this) return c.tokens(input, { ...opts, quality: undefined });
    const img = await this.read(input, opts);
    return this.tokensOf(img);
  }

  private async tokensOf(img: SourceImage): Promise<ImageTokens> {
    const m = this.manifest;
    const S = m.totalStride;
    const L = m.levels.length;
    const io = this.bundle.io;
    const paddedWidth = roundUp(img.width, S);
    const paddedHeight = roundUp(img.height, S);
    const maps = m.levels.map((lv) => {
      const h = paddedHeight / lv.stride;
      const w = paddedWidth / lv.stride;
      return { M: lv.M, K: lv.K, h, w, indices: new Uint16Array(lv.M * h * w) };
    });
    const tile = this.tileSize === 0 ? Math.max(paddedWidth, paddedHeight) : this.tileSize;
    for (const { core, region } of planTiles(paddedWidth, paddedHeight, tile, this.margins.encoder, S)) {
      const rw = region.x1 - region.x0;
      const rh = region.y1 - region.y0;
      const image = new ort.Tensor('float32', regionTensor(img, region.x0, region.y0, rw, rh), [1, 3, rh, rw]);
      const e = await this.run('encoder', { [io.image]: image });
      const q = await this.run(
        'quantizer',
        Object.fromEntries(io.e.map((n) => [n, e[n] as ort.Tensor])),
      );
      for (let l = 0; l < L; l++) {
        const { stride: s } = m.levels[l];
        const map = maps[l];
        const t = q[io.indices[l]] as ort.Tensor;
        const th = rh / s;
        const tw = rw / s;
        const dims = t.dims;
        if (t.type !== 'int32' || dims.length !== 4 || dims[0] !== 1 || dims[1] !== map.M || dims[2] !== th || dims[3] !== tw) {
          throw new ModelError(`model ${this.modelDir}: quantizer output ${io.indices[l]} is ${t.type} [${dims.join(', ')}], expected int32 [1, ${map.M}, ${th}, ${tw}]`);
        }
        const data = t.data as Int32Array;
        const cy0 = core.y0 / s, cy1 = core.y1 / s, cx0 = core.x0 / s, cx1 = core.x1 / s;
        const oy = region.y0 / s, ox = region.x0 / s;
        for (let c = 0; c < map.M; c++) {
          for (let y = cy0; y < cy1; y++) {
            const src = (c * th + (y - oy)) * tw - ox;
            const dst = (c * map.h + y) * map.w;
            for (let x = cx0; x < cx1; x++) {
              const v = data[src + x];
              if (!(v >= 0 && v < map.K)) throw new ModelError(`model ${this.modelDir}: quantizer produced index ${v} outside [0, ${map.K}) at level ${l}`);
              map.indices[dst + x] = v;
            }
          }
        }
      }
    }
    return {
      width: img.width,
      height: img.height,
      channels: img.channels,
      paddedWidth,
      paddedHeight,
      levels: maps.reverse(),
      alpha: img.alpha,
      notes: img.notes,
    };
  }

  /** Image (path or encoded bytes: PNG, JPEG, WebP, AVIF, TIFF, …) → .dqc bytes, with details. */
  async encodeImage(input: string | Uint8Array, opts: EncodeOptions = {}): Promise<EncodeResult> {
    const c = await this.member(opts.quality);
    if (c !== this) return c.encodeImage(input, { ...opts, quality: undefined });
    const L = this.manifest.levels.length;
    const keep = opts.levels ?? (!this.ctx && opts.quality === 'low' ? levelsForQuality('low', L) : L);
    if (!Number.isInteger(keep) || keep < 1 || keep > L) throw new RangeError(`levels must be an integer from 1 to ${L} (got ${keep})`);
    const t0 = performance.now();
    const img = await this.read(input, opts);
    const t1 = performance.now();
    const tok = await this.tokensOf(img);
    const t2 = performance.now();
    const { tables, method } = encodingTables(this.manifest, opts.method);
    const bytes = encodeIndices(
      tok.levels.slice(0, keep),
      { fingerprint: this.manifest.fingerprint, width: tok.width, height: tok.height, channels: tok.channels, paddedWidth: tok.paddedWidth, paddedHeight: tok.paddedHeight },
      tables,
      { method, limits: this.limits, alpha: tok.alpha ?? undefined },
    );
    const t3 = performance.now();
    return {
      bytes,
      width: tok.width,
      height: tok.height,
      channels: tok.channels,
      bpp: (bytes.length * 8) / (tok.width * tok.height),
      notes: tok.notes,
      timings: { read: t1 - t0, infer: t2 - t1, entropy: t3 - t2 },
    };
  }

  /** Image (path or encoded bytes) → .dqc bytes. */
  async encode(input: string | Uint8Array, opts: EncodeOptions = {}): Promise<Uint8Array> {
    return (await this.encodeImage(input, opts)).bytes;
  }

  /**
   * The header, checked against this codec's pixel limit (a too-large image says how to allow it)
   * and then against the model (fingerprint, levels, shapes), so a file whose shapes do not fit
   * is told so rather than told to raise a limit. The model check bounds the index count by the
   * pixel count, so the codec's index limit holds too.
   */
  private readHeader(bytes: Uint8Array): DqcHeader {
    const header = withSizeHint(() => readHeader(bytes, { maxPixels: this.limits.maxPixels }));
    checkHeaderFitsModel(header, this.manifest);
    // Streams (and an alpha section) longer than the format's worst case: refused like decodeFile refuses them.
    checkDeclaredLengths(header, bytes);
    return header;
  }

  /**
   * Read a .dqc file for this codec: its header is checked like decode() checks it (limits, then
   * the model) before anything else is read, and only the bytes the header accounts for are read
   * (inputs.ts readDqcFile: regular files only; a file longer than its header says is refused).
   */
  async readDqcFile(path: string): Promise<Uint8Array> {
    const ctx = this.ctx;
    const check = (h: DqcHeader): void => {
      // A family's other members are checked when they decode the bytes (decode() reads the header again).
      if (ctx && h.fingerprint !== this.manifest.fingerprint) {
        if (!familyMemberByFingerprint(ctx.family, h.fingerprint)) throw this.notInFamily(h.fingerprint, 'file was encoded');
        return;
      }
      checkHeaderFitsModel(h, this.manifest);
    };
    return withSizeHint(() => readDqcFile(path, { limits: { maxPixels: this.limits.maxPixels }, checkHeader: check }));
  }

  /** .dqc bytes → image. */
  async decode(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<DecodedImage> {
    const c = await this.codecForBytes(bytes);
    if (c !== this) return c.decode(bytes, opts);
    const m = this.manifest;
    const L = m.levels.length;
    const requested = opts.levels ?? L;
    if (!Number.isInteger(requested) || requested < 1 || requested > L) throw new RangeError(`levels must be an integer from 1 to ${L} (got ${requested})`);
    const t0 = performance.now();
    const header = this.readHeader(bytes);
    // A file holding only its model's top levels (a low-rate operating point) decodes like a preview.
    const n = Math.min(requested, header.levels.length);
    const decoded = decodeIndices(bytes, { tables: m.entropy, prior: m.prior, expectedFingerprint: m.fingerprint, maxLevels: n, alpha: true, limits: this.limits });
    const t1 = performance.now();
    const { width, height, paddedWidth, paddedHeight } = header;
    const channels = header.channels as 1 | 2 | 3 | 4;
    // Model levels bottom first: level l is file level L−1−l.
    const maps = m.levels.map((lv, l) => {
      const fileLevel = L - 1 - l;
      return fileLevel < n ? decoded.levels[fileLevel].indices : new Uint16Array(lv.M * (paddedWidth / lv.stride) * (paddedHeight / lv.stride));
    });
    const mask = new ort.Tensor('float32', Float32Array.from(m.levels, (_, l) => (L - 1 - l < n ? 1 : 0)), [L]);
    const io = this.bundle.io;
    const pixels = new Uint8Array(width * height * channels);
    const tile = this.tileSize === 0 ? Math.max(paddedWidth, paddedHeight) : this.tileSize;
    for (const { core, region } of planTiles(paddedWidth, paddedHeight, tile, this.margins.decoder, m.totalStride)) {
      if (core.x0 >= width || core.y0 >= height) continue; // padding only
      const rw = region.x1 - region.x0;
      const rh = region.y1 - region.y0;
      const feeds: Record<string, ort.Tensor> = { [io.levelMask]: mask };
      m.levels.forEach((lv, l) => {
        const s = lv.stride;
        const W = paddedWidth / s, H = paddedHeight / s;
        const tw = rw / s, th = rh / s, ox = region.x0 / s, oy = region.y0 / s;
        const data = new Int32Array(lv.M * th * tw);
        const src = maps[l];
        for (let c = 0; c < lv.M; c++) {
          for (let y = 0; y < th; y++) {
            const from = (c * H + oy + y) * W + ox;
            const to = (c * th + y) * tw;
            for (let x = 0; x < tw; x++) data[to + x] = src[from + x];
          }
        }
        feeds[io.indices[l]] = new ort.Tensor('int32', data, [1, lv.M, th, tw]);
      });
      const out = (await this.run('decoder', feeds))[io.reconstruction] as ort.Tensor;
      const d = out.dims;
      if (out.type !== 'float32' || d.length !== 4 || d[0] !== 1 || d[1] !== 3 || d[2] !== rh || d[3] !== rw) {
        throw new ModelError(`model ${this.modelDir}: decoder output is ${out.type} [${d.join(', ')}], expected float32 [1, 3, ${rh}, ${rw}]`);
      }
      const rect = { x0: core.x0, y0: core.y0, x1: Math.min(core.x1, width), y1: Math.min(core.y1, height) };
      copyReconstruction({ data: out.data as Float32Array, x0: region.x0, y0: region.y0, w: rw, h: rh }, rect, pixels, width, { stride: channels, grey: channels <= 2 });
    }
    if (decoded.alpha) interleaveAlpha(pixels, decoded.alpha, channels);
    const t2 = performance.now();
    return { width, height, channels, pixels, levels: n, totalLevels: L, header, timings: { entropy: t1 - t0, infer: t2 - t1 } };
  }

  /** Encode an image file into a .dqc file, written atomically. */
  async encodeFile(input: string, output: string, opts: EncodeOptions & FileOptions = {}): Promise<EncodeFileResult> {
    await checkNotSameFile(input, output);
    const { bytes, ...rest } = await this.encodeImage(input, opts);
    await writeFileAtomic(output, bytes, { overwrite: opts.overwrite, force: opts.force });
    return { ...rest, output, size: bytes.length };
  }

  /**
   * Decode a .dqc file into an image file, written atomically. The format comes from `format` or
   * the output's extension (png, jpg, webp, avif, tiff; WebP and AVIF are written lossless).
   */
  async decodeFile(input: string, output: string, opts: DecodeOptions & FileOptions & { format?: string; quality?: number } = {}): Promise<DecodeFileResult> {
    const format = outputFormat(output, opts.format);
    await checkNotSameFile(input, output);
    const bytes = await this.readDqcFile(input);
    const codec = await this.codecForBytes(bytes);
    const header = codec.readHeader(bytes);
    if ((header.channels === 2 || header.channels === 4) && (format === 'jpg' || format === 'jpeg')) {
      throw new FileError(`${output}: JPEG cannot store the alpha channel of ${input}; write .png, .webp, .avif or .tiff instead`);
    }
    const img = await codec.decode(bytes, opts);
    const encoded = await encodeImageBuffer(img.pixels, img.width, img.height, img.channels, format, { quality: opts.quality });
    await writeFileAtomic(output, encoded, { overwrite: opts.overwrite, force: opts.force });
    const { pixels: _pixels, ...rest } = img;
    return { ...rest, output, size: encoded.length, format };
  }
}

/** A pixel-limit ABSURD_SIZE gets the flag that raises the limit (not an index count: that is the format's own limit). */
function withSizeHint<T>(read: () => T): T {
  const hint = (err: unknown): never => {
    if (!isDqcError(err, 'ABSURD_SIZE') || err.message.includes('code indices')) throw err;
    throw new DqcError('ABSURD_SIZE', `${err.message}; raise it with --max-pixels (library: the maxPixels option) if you have the memory`);
  };
  try {
    const r = read();
    return (r instanceof Promise ? r.catch(hint) : r) as T;
  } catch (err) {
    return hint(err);
  }
}

/** Effective limits: DqCodecOptions.maxPixels wins over limits.maxPixels (see limitsForModel). */
function codecLimits(manifest: Manifest, opts: DqCodecOptions): Required<ContainerLimits> {
  return limitsForModel(manifest, { maxPixels: opts.maxPixels ?? opts.limits?.maxPixels, maxIndices: opts.limits?.maxIndices });
}

export { FileError };
