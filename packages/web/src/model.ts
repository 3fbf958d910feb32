/**
 * The model, as the browser needs it: manifest.json (validated by the core's parseManifest) and
 * decoder.onnx. The encoder and quantizer graphs are never fetched.
 *
 * The manifest's fingerprint is a SHA-256 over all three graphs, so it cannot be re-computed from
 * the decoder alone; the decoder's byte size is checked against the manifest's `sizes.decoder`
 * (and its SHA-256 against `hashes.decoder` when a manifest carries one).
 */
import { DqcError, parseManifest, type Manifest } from '@dqcodec/core';
import { firstLine, WebDecoderError } from './errors.js';

/** A model given as data rather than a URL (e.g. files the user picked, or bytes from a cache). */
export interface ModelFiles {
  /** manifest.json: its text, its bytes, or the parsed JSON value. */
  manifest: string | Uint8Array | ArrayBuffer | object;
  /** decoder.onnx bytes. */
  decoder: Uint8Array | ArrayBuffer;
}

/** A model directory URL (with or without the trailing '/'), the URL of its manifest.json, or the files. */
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

function parseJson(data: string | Uint8Array | ArrayBuffer | object, label: string): unknown {
  if (typeof data === 'object' && !(data instanceof Uint8Array) && !(data instanceof ArrayBuffer)) return data;
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  try {
    return JSON.parse(text);
  } catch (e) {
    if (/^\s*</.test(text)) throw new DqcError('BAD_MANIFEST', `manifest.json of ${label} is an HTML page, not JSON (wrong model URL? servers often answer unknown paths with their index page)`);
    throw new DqcError('BAD_MANIFEST', `manifest.json of ${label} is not valid JSON (${firstLine(e)})`);
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
  const label = url.href.replace(/manifest\.json$/, '');
  const json = parseJson(await fetchBytes(url, 'manifest.json', signal, fetchFn), label);
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
