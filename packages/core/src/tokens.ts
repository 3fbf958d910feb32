/**
 * Token files: a model's discrete code indices for one image, for ML work (`dqcodec tokens`),
 * and the way back to an image (`dqcodec detokenize`). One JSON document, two layouts:
 *
 * - inline ("json"): each level holds `indices`, nested arrays [M][h][w] (np.array(level["indices"])
 *   has shape (M, h, w));
 * - sidecar ("npy"): each level names a `file` instead, a .npy array (M, h, w) of uint16 in the
 *   same directory (a .npy holds one array, so one per level).
 *
 * Levels are TOP first (level 0 = coarsest), as in .dqc files and `dqcodec info`. The document
 * records the model fingerprint so tokens are never decoded by another model. Files are
 * untrusted input: every field is validated, with messages that name it, before it is used.
 */
import { MAX_LEVELS, MAX_M } from './container.js';
import { DqcError } from './errors.js';
import type { LevelIndices, LevelShape } from './entropy/types.js';
import { fingerprintPair, type Manifest } from './manifest.js';
import { readNpy } from './npy.js';

export const TOKENS_FORMAT = 'dqcodec-tokens';
export const TOKENS_VERSION = 1;
/** Largest image (padded pixels) and index count a token file may declare; the .dqc format's limits. */
const MAX_PIXELS = 2 ** 28;
const MAX_INDICES = 2 ** 28;
const MAX_SIDE = 1 << 24;

export interface TokenImage {
  width: number;
  height: number;
  /** Channels of the source image (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA); tokens carry no alpha. */
  channels: 1 | 2 | 3 | 4;
  /** Size the model saw: width and height rounded up to the model's total stride. */
  paddedWidth: number;
  paddedHeight: number;
}

/** One level's index map, row-major [M][h][w], with its stride in image pixels. */
export interface TokenLevel extends LevelIndices {
  stride: number;
}

/** Everything a token file holds. */
export interface TokenSet {
  model: { name: string; fingerprint: string };
  image: TokenImage;
  /** TOP level first. */
  levels: TokenLevel[];
}

/** Loads a sidecar's .npy file by the name the document gives (relative to the document). */
export type NpyLoader = (file: string) => Promise<Uint8Array>;

/** A TokenSet from a model's manifest, image facts and index maps (TOP level first, as DqCodec.tokens returns them). */
export function makeTokenSet(manifest: Pick<Manifest, 'name' | 'fingerprint' | 'levels'>, image: TokenImage, levelsTopFirst: LevelIndices[]): TokenSet {
  const strides = manifest.levels.map((l) => l.stride).reverse();
  if (levelsTopFirst.length !== strides.length) throw new RangeError(`model ${manifest.name} has ${strides.length} levels, got ${levelsTopFirst.length} index maps`);
  const { width, height, channels, paddedWidth, paddedHeight } = image;
  return {
    model: { name: manifest.name, fingerprint: manifest.fingerprint },
    image: { width, height, channels, paddedWidth, paddedHeight },
    levels: levelsTopFirst.map(({ M, K, h, w, indices }, i) => ({ stride: strides[i], M, K, h, w, indices })),
  };
}

/** File name of level `i`'s array in the npy layout: `<stem>.level<i>.npy`. */
export function npyFileName(stem: string, level: number): string {
  return `${stem}.level${level}.npy`;
}

/** One level as nested JSON rows, one row per line, indented to sit under `"indices": ` (readable, diff-able). */
function nestedIndices({ M, h, w, indices }: LevelIndices): string {
  const pad = (n: number): string => ' '.repeat(n);
  const planes: string[] = [];
  for (let m = 0; m < M; m++) {
    const rows: string[] = [];
    for (let y = 0; y < h; y++) {
      const at = (m * h + y) * w;
      rows.push(`${pad(10)}[${Array.prototype.join.call(indices.subarray(at, at + w), ', ')}]`);
    }
    planes.push(`${pad(8)}[\n${rows.join(',\n')}\n${pad(8)}]`);
  }
  return `[\n${planes.join(',\n')}\n${pad(6)}]`;
}

function documentJson(set: TokenSet, levelField: (i: number) => Record<string, unknown>): string {
  return `${JSON.stringify(
    {
      format: TOKENS_FORMAT,
      version: TOKENS_VERSION,
      model: set.model,
      image: set.image,
      levels: set.levels.map((lv, i) => ({ stride: lv.stride, M: lv.M, K: lv.K, h: lv.h, w: lv.w, dtype: 'uint16', ...levelField(i) })),
    },
    null,
    2,
  )}\n`;
}

/** The inline layout: one JSON document holding every level's indices. */
export function tokensToJson(set: TokenSet): string {
  // Placeholders keep the document pretty-printed while the big arrays stay one row per line.
  const text = documentJson(set, (i) => ({ indices: `@@indices${i}@@` }));
  return text.replace(/"@@indices(\d+)@@"/g, (_, i: string) => nestedIndices(set.levels[Number(i)]));
}

/** The npy layout's sidecar: the same document with `file` names instead of indices. */
export function tokensSidecarJson(set: TokenSet, files: readonly string[]): string {
  if (files.length !== set.levels.length) throw new RangeError(`need ${set.levels.length} file names, got ${files.length}`);
  return documentJson(set, (i) => ({ file: files[i] }));
}

// ---------------------------------------------------------------------------------------------
// Reading (untrusted input)

function fail(name: string, field: string, msg: string): DqcError {
  return new DqcError('BAD_TOKENS', `${name}: field ${field} ${msg}`);
}

function obj(v: unknown, name: string, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(name, field, 'must be an object');
  return v as Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string, name: string, field: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(name, field, `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  return v;
}

function parseJson(text: string, name: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DqcError('BAD_TOKENS', `${name}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const o = obj(json, name, '(root)');
  if (o.format !== TOKENS_FORMAT) throw fail(name, 'format', `must be "${TOKENS_FORMAT}" (got ${JSON.stringify(o.format)}; is this a token file from \`dqcodec tokens\`?)`);
  if (o.version !== TOKENS_VERSION) throw fail(name, 'version', `must be ${TOKENS_VERSION} (got ${JSON.stringify(o.version)})`);
  return o;
}

function parseModel(v: unknown, name: string): TokenSet['model'] {
  const m = obj(v, name, 'model');
  if (typeof m.name !== 'string' || m.name.length < 1 || m.name.length > 256) throw fail(name, 'model.name', 'must be a non-empty string');
  if (typeof m.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(m.fingerprint)) throw fail(name, 'model.fingerprint', 'must be a lowercase hex SHA-256 (64 characters)');
  return { name: m.name, fingerprint: m.fingerprint };
}

function parseImage(v: unknown, name: string): TokenImage {
  const o = obj(v, name, 'image');
  const width = int(o, 'width', name, 'image.width', 1, MAX_SIDE);
  const height = int(o, 'height', name, 'image.height', 1, MAX_SIDE);
  const channels = int(o, 'channels', name, 'image.channels', 1, 4) as TokenImage['channels'];
  const paddedWidth = int(o, 'paddedWidth', name, 'image.paddedWidth', width, MAX_SIDE);
  const paddedHeight = int(o, 'paddedHeight', name, 'image.paddedHeight', height, MAX_SIDE);
  if (paddedWidth * paddedHeight > MAX_PIXELS) throw fail(name, 'image', `declares ${paddedWidth}×${paddedHeight} pixels, more than the limit of ${MAX_PIXELS}`);
  return { width, height, channels, paddedWidth, paddedHeight };
}

/** A level's shape; h and w must be the padded size divided by the stride. */
function parseLevelShape(v: unknown, image: TokenImage, name: string, f: string): LevelShape & { stride: number } {
  const o = obj(v, name, f);
  const stride = int(o, 'stride', name, `${f}.stride`, 1, 65536);
  if (!Number.isInteger(Math.log2(stride))) throw fail(name, `${f}.stride`, `must be a power of two (got ${stride})`);
  const M = int(o, 'M', name, `${f}.M`, 1, MAX_M);
  const K = int(o, 'K', name, `${f}.K`, 2, 65536);
  const h = int(o, 'h', name, `${f}.h`, 1, MAX_SIDE);
  const w = int(o, 'w', name, `${f}.w`, 1, MAX_SIDE);
  if (h * stride !== image.paddedHeight || w * stride !== image.paddedWidth) {
    throw fail(name, f, `is ${w}×${h} at stride ${stride}, but the padded image ${image.paddedWidth}×${image.paddedHeight} needs ${image.paddedWidth / stride}×${image.paddedHeight / stride}`);
  }
  return { stride, M, K, h, w };
}

function outOfRange(name: string, where: string, v: number, K: number): DqcError {
  return new DqcError('BAD_INDICES', `${name}: ${where} = ${v} is outside [0, ${K}) (K = ${K})`);
}

/** Nested arrays [M][h][w] of integers in [0, K). */
function inlineIndices(v: unknown, lv: LevelShape, name: string, f: string): Uint16Array {
  const { M, h, w, K } = lv;
  if (!Array.isArray(v) || v.length !== M) throw fail(name, f, `must be an array of M = ${M} planes (got ${Array.isArray(v) ? `${v.length}` : typeof v})`);
  // Every plane and row is checked before the output is allocated, so the allocation is backed by
  // data that is really there, not by the declared shape alone.
  v.forEach((plane: unknown, m) => {
    if (!Array.isArray(plane) || plane.length !== h) throw fail(name, `${f}[${m}]`, `must be an array of h = ${h} rows (got ${Array.isArray(plane) ? plane.length : typeof plane})`);
    plane.forEach((row: unknown, y) => {
      if (!Array.isArray(row) || row.length !== w) throw fail(name, `${f}[${m}][${y}]`, `must be an array of w = ${w} integers (got ${Array.isArray(row) ? row.length : typeof row})`);
    });
  });
  const out = new Uint16Array(M * h * w);
  (v as unknown[][][]).forEach((plane, m) => {
    plane.forEach((row, y) => {
      const at = (m * h + y) * w;
      row.forEach((x: unknown, i) => {
        if (typeof x !== 'number' || !Number.isInteger(x)) throw fail(name, `${f}[${m}][${y}][${i}]`, `must be an integer (got ${JSON.stringify(x)})`);
        if (x < 0 || x >= K) throw outOfRange(name, `${f}[${m}][${y}][${i}]`, x, K);
        out[at + i] = x;
      });
    });
  });
  return out;
}

/** A sidecar's .npy file name: a plain name in the document's directory, nothing else. */
function sidecarFile(v: unknown, name: string, f: string): string {
  const ok = typeof v === 'string' && v.length > 0 && v.length <= 255 && !/[/\\\0]/.test(v) && v !== '.' && v !== '..';
  if (!ok) throw fail(name, f, `must be the name of a .npy file next to the document, without a directory (got ${JSON.stringify(v)})`);
  return v as string;
}

/** A level's array from .npy bytes: shape (M, h, w), integers in [0, K). */
export function npyIndices(bytes: Uint8Array, lv: LevelShape, file: string, where = 'the level'): Uint16Array {
  const a = readNpy(bytes, file);
  const { M, h, w, K } = lv;
  if (a.shape.length !== 3 || a.shape[0] !== M || a.shape[1] !== h || a.shape[2] !== w) {
    throw new DqcError('BAD_TOKENS', `${file}: shape (${a.shape.join(', ')}) does not match ${where}: (M, h, w) = (${M}, ${h}, ${w})`);
  }
  const out = new Uint16Array(a.values.length);
  for (let i = 0; i < out.length; i++) {
    const v = a.values[i];
    if (!(v >= 0 && v < K)) {
      const x = i % w, y = Math.floor(i / w) % h, m = Math.floor(i / (w * h));
      throw outOfRange(file, `[${m}, ${y}, ${x}]`, v, K);
    }
    out[i] = v;
  }
  return out;
}

async function parseLevel(v: unknown, image: TokenImage, name: string, f: string, load?: NpyLoader): Promise<TokenLevel> {
  const shape = parseLevelShape(v, image, name, f);
  const o = v as Record<string, unknown>;
  if ((o.indices === undefined) === (o.file === undefined)) throw fail(name, f, 'must have exactly one of "indices" (inline) and "file" (.npy)');
  if (o.indices !== undefined) return { ...shape, indices: inlineIndices(o.indices, shape, name, `${f}.indices`) };
  const file = sidecarFile(o.file, name, `${f}.file`);
  if (!load) throw fail(name, `${f}.file`, 'names a .npy file, but no way to load files was given');
  return { ...shape, indices: npyIndices(await load(file), shape, file, `${f} of ${name}`) };
}

/**
 * Parse a token document (either layout). `load` reads the npy layout's arrays, by the name the
 * document gives; `name` prefixes every message. Throws DqcError ('BAD_TOKENS', 'BAD_INDICES').
 */
export async function parseTokens(text: string, name: string, load?: NpyLoader): Promise<TokenSet> {
  const o = parseJson(text, name);
  const model = parseModel(o.model, name);
  const image = parseImage(o.image, name);
  if (!Array.isArray(o.levels) || o.levels.length < 1 || o.levels.length > MAX_LEVELS) throw fail(name, 'levels', `must be an array of 1 to ${MAX_LEVELS} levels (top first)`);
  const shapes = o.levels.map((lv: unknown, i) => parseLevelShape(lv, image, name, `levels[${i}]`));
  const total = shapes.reduce((n, s) => n + s.M * s.h * s.w, 0);
  if (total > MAX_INDICES) throw fail(name, 'levels', `declare ${total} indices, more than the limit of ${MAX_INDICES}`);
  shapes.forEach((s, i) => {
    if (i > 0 && s.stride >= shapes[i - 1].stride) throw fail(name, `levels[${i}].stride`, `must be smaller than levels[${i - 1}].stride (levels are top first)`);
  });
  const levels: TokenLevel[] = [];
  for (const [i, lv] of o.levels.entries()) levels.push(await parseLevel(lv, image, name, `levels[${i}]`, load));
  return { model, image, levels };
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Refuse tokens that another model made, or whose shapes this model cannot decode. */
export function checkTokensForModel(set: TokenSet, manifest: Pick<Manifest, 'name' | 'fingerprint' | 'levels' | 'totalStride'>, name = 'tokens'): void {
  if (set.model.fingerprint !== manifest.fingerprint) {
    const [tokens, model] = fingerprintPair(set.model.fingerprint, manifest.fingerprint);
    throw new DqcError('MODEL_MISMATCH', `${name}: tokens were made by another model (${set.model.name}, fingerprint ${tokens}; the loaded model ${manifest.name} is ${model})`);
  }
  const { image } = set;
  const S = manifest.totalStride;
  if (image.paddedWidth !== roundUp(image.width, S) || image.paddedHeight !== roundUp(image.height, S)) {
    throw new DqcError('BAD_TOKENS', `${name}: padded size ${image.paddedWidth}×${image.paddedHeight} is not ${image.width}×${image.height} rounded up to the model's stride ${S}`);
  }
  const L = manifest.levels.length;
  if (set.levels.length !== L) throw new DqcError('BAD_TOKENS', `${name}: has ${set.levels.length} levels but model ${manifest.name} has ${L}`);
  set.levels.forEach((lv, i) => {
    const ml = manifest.levels[L - 1 - i];
    if (lv.M !== ml.M || lv.K !== ml.K || lv.stride !== ml.stride) {
      throw new DqcError('BAD_TOKENS', `${name}: level ${i} (M=${lv.M}, K=${lv.K}, stride ${lv.stride}) does not fit model ${manifest.name} (M=${ml.M}, K=${ml.K}, stride ${ml.stride})`);
    }
  });
}
