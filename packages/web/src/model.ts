/**
 * The model, as the browser needs it: manifest.json (validated by the core's parseManifest) and
 * decoder.onnx. The encoder and quantizer graphs are never fetched.
 *
 * A model family (family.json: one model directory per operating point, core family.ts) is
 * resolved here too: only family.json is fetched up front; each member's manifest.json and
 * decoder.onnx are fetched when a file of that member is first decoded (loadFamilyMember).
 *
 * The manifest's fingerprint is a SHA-256 over all three graphs, so it cannot be re-computed from
 * the decoder alone; the decoder's byte size is checked against the manifest's `sizes.decoder`
 * (and its SHA-256 against `hashes.decoder` when a manifest carries one).
 */
import { DqcError, isFamilyJson, parseFamily, parseManifest, type FamilyMember, type Manifest, type ModelFamily } from '@dqcodec/core';
import { firstLine, WebDecoderError } from './errors.js';

/** A model given as data rather than a URL (e.g. files the user picked, or bytes from a cache). */
export interface ModelFiles {
  /** manifest.json: its text, its bytes, or the parsed JSON value. */
  manifest: string | Uint8Array | ArrayBuffer | object;
  /** decoder.onnx bytes. */
  decoder: Uint8Array | ArrayBuffer;
}

/**
 * A model directory URL (with or without the trailing '/'), the URL of its manifest.json, a model
 * family's directory URL or the URL of its family.json, or the files of a single model.
 */
export type ModelSource = string | URL | ModelFiles;

/** Graph tensor names of decoder.onnx. */
export interface DecoderIo {
  /** indices_l inputs, model order (level 0 = bottom). */
  indices: string[];
  levelMask: string;
  reconstruction: string;
}

export interface LoadedModel {
  manifest: Manifest;
  decoderBytes: Uint8Array;
  io: DecoderIo;
  indexType: 'int32' | 'int64';
  /** Where the model came from (for messages). */
  label: string;
  /** The member's quality when the model is a member of a family. */
  quality?: number;
}

/** A model family whose family.json has been fetched and validated (members are loaded on demand). */
export interface LoadedFamily {
  family: ModelFamily;
  /** family.json's URL (member directories resolve against it). */
  url: URL;
  /** Where the family came from (for messages). */
  label: string;
}

type Fetch = typeof fetch;

async function fetchBytes(url: URL, what: string, signal: AbortSignal | undefined, fetchFn: Fetch): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw new WebDecoderError('ABORTED', `loading the model was aborted`, { cause: e });
    throw new WebDecoderError('MODEL_FETCH', `cannot fetch ${what} from ${url.href}: ${firstLine(e)}`, { cause: e });
  }
  if (!res.ok) throw new WebDecoderError('MODEL_FETCH', `cannot fetch ${what} from ${url.href}: HTTP ${res.status} ${res.statusText}`.trim());
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new WebDecoderError('MODEL_FETCH', `cannot read ${what} from ${url.href}: ${firstLine(e)}`, { cause: e });
  }
}

/** The bytes at `url`, or null when the server has no such file (an HTTP error, or an HTML page where JSON was expected). */
async function tryFetchJson(url: URL, signal: AbortSignal | undefined, fetchFn: Fetch): Promise<Uint8Array | null> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw new WebDecoderError('ABORTED', `loading the model was aborted`, { cause: e });
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    if (signal?.aborted) throw new WebDecoderError('ABORTED', `loading the model was aborted`, { cause: e });
    return null;
  }
  // Servers often answer unknown paths with their index page.
  return /^\s*</.test(new TextDecoder().decode(bytes.subarray(0, 256))) ? null : bytes;
}

function baseUrl(): string | undefined {
  return (globalThis as { location?: { href?: string } }).location?.href;
}

/** manifest.json's URL for a model directory URL or a manifest URL (relative URLs resolve against the page). */
export function manifestUrl(model: string | URL): URL {
  let url: URL;
  try {
    url = new URL(model, baseUrl());
  } catch {
    throw new WebDecoderError('BAD_ARGUMENT', `model ${String(model)} is not a URL (give the model directory's URL, e.g. "/models/default/")`);
  }
  if (/\.json$/i.test(url.pathname)) return url;
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL('manifest.json', url);
}

function parseJson(data: string | Uint8Array | ArrayBuffer | object, label: string, file = 'manifest.json'): unknown {
  if (typeof data === 'object' && !(data instanceof Uint8Array) && !(data instanceof ArrayBuffer)) return data;
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  try {
    return JSON.parse(text);
  } catch (e) {
    if (/^\s*</.test(text)) throw new DqcError('BAD_MANIFEST', `${file} of ${label} is an HTML page, not JSON (wrong model URL? servers often answer unknown paths with their index page)`);
    throw new DqcError('BAD_MANIFEST', `${file} of ${label} is not valid JSON (${firstLine(e)})`);
  }
}

function decoderIo(manifest: Manifest): DecoderIo {
  const L = manifest.levels.length;
  const dec = (manifest.io as { decoder?: { inputs?: unknown; outputs?: unknown } } | undefined)?.decoder;
  const names = (v: unknown, n: number): string[] | null => (Array.isArray(v) && v.length === n && v.every((s) => typeof s === 'string' && s.length > 0) ? (v as string[]) : null);
  const inputs = names(dec?.inputs, L + 1);
  const outputs = names(dec?.outputs, 1);
  if (dec !== undefined && (!inputs || !outputs)) {
    throw new DqcError('BAD_MANIFEST', `manifest.json: field io.decoder must list ${L + 1} inputs (indices per level, bottom first, then the level mask) and 1 output`);
  }
  return {
    indices: inputs ? inputs.slice(0, L) : Array.from({ length: L }, (_, l) => `indices${l}`),
    levelMask: inputs ? inputs[L] : 'levelMask',
    reconstruction: outputs ? outputs[0] : 'reconstruction',
  };
}

async function sha256Hex(bytes: Uint8Array): Promise<string | null> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (!subtle) return null; // not a secure context: no WebCrypto
  const digest = await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Validate a manifest and its decoder graph bytes. */
export async function checkModel(json: unknown, decoderBytes: Uint8Array, label: string): Promise<LoadedModel> {
  const manifest = parseManifest(json);
  const indexType = manifest.indexType ?? 'int32';
  if (indexType !== 'int32' && indexType !== 'int64') {
    throw new WebDecoderError('MODEL_INVALID', `model ${label}: manifest indexType ${JSON.stringify(indexType)} is not supported (int32 or int64)`);
  }
  const sizes = manifest.sizes as { decoder?: unknown } | undefined;
  if (typeof sizes?.decoder === 'number' && sizes.decoder !== decoderBytes.length) {
    throw new WebDecoderError(
      'MODEL_INVALID',
      `model ${label}: ${manifest.graphs.decoder} has ${decoderBytes.length} bytes but the manifest says ${sizes.decoder} (damaged or from another export)`,
    );
  }
  const want = (manifest.hashes as { decoder?: unknown } | undefined)?.decoder;
  if (typeof want === 'string') {
    const got = await sha256Hex(decoderBytes);
    if (got !== null && got !== want.toLowerCase()) {
      throw new WebDecoderError('MODEL_INVALID', `model ${label}: ${manifest.graphs.decoder} does not match the manifest's SHA-256 (damaged or from another export)`);
    }
  }
  return { manifest, decoderBytes, io: decoderIo(manifest), indexType, label };
}

/** Fetch (or take) manifest.json and decoder.onnx, and validate them. */
export async function loadModel(model: ModelSource, signal?: AbortSignal, fetchFn: Fetch = globalThis.fetch?.bind(globalThis)): Promise<LoadedModel> {
  const r = await resolveModel(model, signal, fetchFn);
  if ('family' in r) throw new WebDecoderError('BAD_ARGUMENT', `${r.label} is a model family, not a single model`);
  return r;
}

function familyLabel(url: URL): string {
  return url.href.replace(/family\.json$/i, '');
}

function parseFamilyAt(json: unknown, url: URL): LoadedFamily {
  const label = familyLabel(url);
  try {
    return { family: parseFamily(json), url, label };
  } catch (e) {
    if (e instanceof DqcError) throw new DqcError(e.code, `${e.message} (model family ${label})`);
    throw e;
  }
}

/**
 * What a model source names: a single model (its manifest.json and decoder.onnx fetched and
 * validated) or a model family (family.json fetched and validated; no member is loaded yet).
 *
 * A directory URL is tried as a family first (`family.json`), then as a model (`manifest.json`):
 * one request for a family, two for a single model. A `.json` URL is fetched and is a family when
 * its `format` says so ("dqc-family"), else a manifest.
 */
export async function resolveModel(model: ModelSource, signal?: AbortSignal, fetchFn: Fetch = globalThis.fetch?.bind(globalThis)): Promise<LoadedModel | LoadedFamily> {
  if (typeof model === 'object' && model !== null && !(model instanceof URL)) {
    const files = model as ModelFiles;
    if (files.manifest === undefined || files.decoder === undefined) {
      throw new WebDecoderError('BAD_ARGUMENT', 'model files need both `manifest` (manifest.json) and `decoder` (decoder.onnx bytes)');
    }
    const dec = files.decoder instanceof Uint8Array ? files.decoder : new Uint8Array(files.decoder);
    return checkModel(parseJson(files.manifest, 'the given model files'), dec, 'the given model files');
  }
  if (typeof model !== 'string' && !(model instanceof URL)) throw new WebDecoderError('BAD_ARGUMENT', 'model must be a URL or { manifest, decoder }');
  if (typeof fetchFn !== 'function') throw new WebDecoderError('MODEL_FETCH', 'this environment has no fetch(); pass the model as { manifest, decoder } bytes');
  const url = manifestUrl(model);
  if (/\/manifest\.json$/.test(url.pathname) && !/\.json$/i.test(new URL(model, baseUrl()).pathname)) {
    // A directory: a family's, or a single model's.
    const familyUrl = new URL('family.json', url);
    const bytes = await tryFetchJson(familyUrl, signal, fetchFn);
    if (bytes) return parseFamilyAt(parseJson(bytes, familyLabel(familyUrl), 'family.json'), familyUrl);
    const label = url.href.replace(/manifest\.json$/, '');
    let manifestBytes: Uint8Array;
    try {
      manifestBytes = await fetchBytes(url, 'manifest.json', signal, fetchFn);
    } catch (e) {
      if (e instanceof WebDecoderError && e.code === 'MODEL_FETCH') throw new WebDecoderError('MODEL_FETCH', `${e.message} (nor a family.json: ${label} is neither a model nor a model family directory)`, { cause: e });
      throw e;
    }
    return loadFromManifest(parseJson(manifestBytes, label), url, label, signal, fetchFn);
  }
  const isFamilyFile = /\/family\.json$/i.test(url.pathname);
  const label = isFamilyFile ? familyLabel(url) : url.href.replace(/manifest\.json$/, '');
  const json = parseJson(await fetchBytes(url, url.pathname.split('/').pop() ?? 'manifest.json', signal, fetchFn), label, isFamilyFile ? 'family.json' : 'manifest.json');
  if (isFamilyFile || isFamilyJson(json)) return parseFamilyAt(json, url);
  return loadFromManifest(json, url, label, signal, fetchFn);
}

async function loadFromManifest(json: unknown, url: URL, label: string, signal: AbortSignal | undefined, fetchFn: Fetch): Promise<LoadedModel> {
  let graph: URL;
  try {
    const m = parseManifest(json);
    graph = new URL(m.graphs.decoder, url);
  } catch (e) {
    if (e instanceof DqcError) throw new DqcError(e.code, `${e.message} (model ${label})`);
    throw e;
  }
  const bytes = await fetchBytes(graph, 'the decoder graph', signal, fetchFn);
  return checkModel(json, bytes, label);
}

/**
 * Fetch and validate one member of a family: `<dir>/manifest.json` and its decoder graph, next to
 * family.json. The member's manifest must carry the fingerprint family.json lists for it.
 */
export async function loadFamilyMember(family: LoadedFamily, member: FamilyMember, signal?: AbortSignal, fetchFn: Fetch = globalThis.fetch?.bind(globalThis)): Promise<LoadedModel> {
  if (typeof fetchFn !== 'function') throw new WebDecoderError('MODEL_FETCH', 'this environment has no fetch()');
  const url = new URL(`${member.dir}/manifest.json`, family.url);
  const label = `${url.href.replace(/manifest\.json$/, '')} (quality ${member.quality} of model family ${family.family.name})`;
  const json = parseJson(await fetchBytes(url, 'manifest.json', signal, fetchFn), label);
  const model = await loadFromManifest(json, url, label, signal, fetchFn);
  if (model.manifest.fingerprint !== member.fingerprint) {
    throw new WebDecoderError(
      'MODEL_INVALID',
      `model ${label}: its manifest's fingerprint ${model.manifest.fingerprint.slice(0, 16)}… is not the ${member.fingerprint.slice(0, 16)}… family.json lists (the family's files are from different exports)`,
    );
  }
  return { ...model, quality: member.quality };
}
