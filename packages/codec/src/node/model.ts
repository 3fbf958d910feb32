/**
 * A model directory on disk: manifest.json plus encoder/quantizer/decoder graphs. Loading it
 * validates the manifest (core parseManifest) and checks the graphs against the manifest's
 * fingerprint (SHA-256 over encoder, quantizer, decoder bytes, in that order), so a modified or
 * damaged graph is refused before it can produce indices that another copy of the model would
 * decode differently. Each graph is hashed again when its session is created from the very bytes
 * that were hashed, so nothing can change between the check and the use.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DqcError, parseFamily, parseManifest, type FamilyMember, type Manifest, type ModelFamily } from '@dqcodec/core';
import { FileError, humanBytes, readInputFile } from './files.js';
import { MAX_GRAPH_BYTES, MAX_MANIFEST_BYTES } from './inputs.js';

export type GraphKey = 'encoder' | 'quantizer' | 'decoder';
export const GRAPH_KEYS: readonly GraphKey[] = ['encoder', 'quantizer', 'decoder'];

/** The model directory is missing, incomplete, or does not match its manifest. */
export class ModelError extends Error {
  override name = 'ModelError';
}

export interface IoNames {
  image: string;
  e: string[];
  indices: string[];
  levelMask: string;
  reconstruction: string;
}

export interface ModelBundle {
  dir: string;
  manifest: Manifest;
  /** Absolute paths of the graphs. */
  graphPaths: Record<GraphKey, string>;
  /** Lowercase hex SHA-256 of each graph file, as verified at load. */
  graphHashes: Record<GraphKey, string>;
  io: IoNames;
}

/** The system's reason for an errno error, without the syscall and path. */
function reason(e: NodeJS.ErrnoException): string {
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'ELOOP') return 'too many levels of symbolic links (a symlink loop?)';
  if (e.code === 'ENOTDIR') return 'a part of the path is not a directory';
  return String(e.message).split('\n')[0];
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Graph tensor names: the manifest's `io` when present (exporter output), else the exporter's defaults. */
function ioNames(manifest: Manifest): IoNames {
  const L = manifest.levels.length;
  const io = manifest.io as { encoder?: { inputs?: unknown; outputs?: unknown }; quantizer?: { outputs?: unknown }; decoder?: { inputs?: unknown; outputs?: unknown } } | undefined;
  const strings = (v: unknown, n: number): string[] | null => (Array.isArray(v) && v.length === n && v.every((s) => typeof s === 'string') ? (v as string[]) : null);
  const encIn = strings(io?.encoder?.inputs, 1);
  const encOut = strings(io?.encoder?.outputs, L);
  const quaOut = strings(io?.quantizer?.outputs, L);
  const decIn = strings(io?.decoder?.inputs, L + 1);
  const decOut = strings(io?.decoder?.outputs, 1);
  return {
    image: encIn?.[0] ?? 'image',
    e: encOut ?? Array.from({ length: L }, (_, l) => `e${l}`),
    indices: quaOut ?? Array.from({ length: L }, (_, l) => `indices${l}`),
    levelMask: decIn?.[L] ?? 'levelMask',
    reconstruction: decOut?.[0] ?? 'reconstruction',
  };
}

/** Read and verify a model directory (manifest + graph fingerprints); creates no sessions. */
export async function loadModelBundle(modelDir: string): Promise<ModelBundle> {
  const dir = resolve(modelDir);
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    if (st.code === 'ENOENT') throw new ModelError(`model directory ${modelDir} does not exist`);
    throw new ModelError(`model directory ${modelDir}: ${reason(st)}`);
  }
  if (!st.isDirectory()) throw new ModelError(`model ${modelDir} is not a directory (a model is a directory with manifest.json and three .onnx graphs)`);
  let text: string;
  try {
    const bytes = await readInputFile(join(dir, 'manifest.json'), {
      maxBytes: MAX_MANIFEST_BYTES,
      tooBig: (n) => `manifest.json in ${modelDir} is ${humanBytes(n)}, more than the ${MAX_MANIFEST_BYTES >> 20} MiB a manifest may have (the shipped model's is about 110 kB)`,
    });
    text = bytes.toString('utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof FileError && /no such file$/.test(err.message)) {
      throw new ModelError(`${modelDir} has no readable manifest.json or family.json (not a model directory or model family; export one with \`dqcodec export\`)`);
    }
    if (err instanceof FileError) throw new ModelError(err.message.includes(modelDir) ? err.message : `model ${modelDir}: ${err.message}`);
    throw new ModelError(`model ${modelDir}: cannot read manifest.json (${e.message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DqcError('BAD_MANIFEST', `manifest.json in ${modelDir} is not valid JSON (${(e as Error).message})`);
  }
  const manifest = parseManifest(json);
  if (manifest.indexType !== undefined && manifest.indexType !== 'int32') {
    throw new DqcError('BAD_MANIFEST', `manifest.json: field indexType must be "int32" (got ${JSON.stringify(manifest.indexType)})`);
  }
  const graphPaths = {} as Record<GraphKey, string>;
  const graphHashes = {} as Record<GraphKey, string>;
  const all = createHash('sha256');
  for (const k of GRAPH_KEYS) {
    const path = join(dir, manifest.graphs[k]);
    let bytes: Buffer;
    try {
      bytes = await readInputFile(path, { maxBytes: MAX_GRAPH_BYTES });
    } catch (err) {
      if (err instanceof FileError && /no such file$/.test(err.message)) throw new ModelError(`model ${modelDir} is incomplete: cannot read ${manifest.graphs[k]}`);
      throw new ModelError(`model ${modelDir}: cannot read ${manifest.graphs[k]}: ${(err as Error).message}`);
    }
    graphPaths[k] = path;
    graphHashes[k] = sha256(bytes);
    all.update(bytes);
  }
  const actual = all.digest('hex');
  if (actual !== manifest.fingerprint) {
    throw new ModelError(
      `model ${modelDir}: the graph files do not match the manifest fingerprint (sha256 ${actual}, manifest says ${manifest.fingerprint}); the directory was modified or damaged — re-export the model`,
    );
  }
  return { dir, manifest, graphPaths, graphHashes, io: ioNames(manifest) };
}

/** The bytes of one graph, re-checked against the hash verified at load. */
export async function readVerifiedGraph(bundle: ModelBundle, key: GraphKey): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readInputFile(bundle.graphPaths[key], { maxBytes: MAX_GRAPH_BYTES });
  } catch {
    throw new ModelError(`model ${bundle.dir}: cannot read ${bundle.manifest.graphs[key]}`);
  }
  if (sha256(bytes) !== bundle.graphHashes[key]) {
    throw new ModelError(`model ${bundle.dir}: ${bundle.manifest.graphs[key]} changed after the model was loaded (fingerprint mismatch); reload the model`);
  }
  return bytes;
}

/** The file that makes a directory a model family (core family.ts). */
export const FAMILY_FILE = 'family.json';

/** family.json may have this many bytes (the shipped one has about 2 kB). */
const MAX_FAMILY_BYTES = 1 << 20;

/** Whether `dir` is a model family: it holds family.json and no manifest.json (a model directory wins). */
export function isFamilyDir(dir: string): boolean {
  return !existsSync(join(dir, 'manifest.json')) && existsSync(join(dir, FAMILY_FILE));
}

/** Whether `dir` looks like a model directory or a model family (has manifest.json or family.json). */
export function isModelDir(dir: string): boolean {
  return existsSync(join(dir, 'manifest.json')) || existsSync(join(dir, FAMILY_FILE));
}

/**
 * Read and validate `<dir>/family.json` (core parseFamily); the members are not loaded (see
 * loadFamilyMember). Errors are one line and name the directory.
 */
export async function readModelFamily(modelDir: string): Promise<ModelFamily> {
  let text: string;
  try {
    text = (
      await readInputFile(join(modelDir, FAMILY_FILE), {
        maxBytes: MAX_FAMILY_BYTES,
        tooBig: (n) => `family.json in ${modelDir} is ${humanBytes(n)}, more than the 1 MiB a family.json may have`,
      })
    ).toString('utf8');
  } catch (err) {
    if (err instanceof FileError) throw new ModelError(err.message.includes(modelDir) ? err.message : `model family ${modelDir}: ${err.message}`);
    throw new ModelError(`model family ${modelDir}: cannot read family.json (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DqcError('BAD_MANIFEST', `family.json in ${modelDir} is not valid JSON (${(e as Error).message})`);
  }
  try {
    return parseFamily(json);
  } catch (err) {
    if (err instanceof DqcError) throw new DqcError(err.code, err.message.replace(/^family\.json:/, `family.json in ${modelDir}:`));
    throw err;
  }
}

/**
 * Load one member of a family (manifest + graph fingerprints, like loadModelBundle) and check
 * that its fingerprint is the one family.json records for it. Errors name the family and quality.
 */
export async function loadFamilyMember(familyDir: string, family: ModelFamily, member: FamilyMember): Promise<ModelBundle> {
  const where = `model family ${family.name} (${familyDir}), quality ${member.quality}`;
  let bundle: ModelBundle;
  try {
    bundle = await loadModelBundle(join(familyDir, member.dir));
  } catch (err) {
    if (err instanceof DqcError) throw new DqcError(err.code, `${where}: ${err.message}`);
    if (err instanceof ModelError) throw new ModelError(`${where}: ${err.message}`);
    throw err;
  }
  if (bundle.manifest.fingerprint !== member.fingerprint) {
    throw new ModelError(
      `${where}: ${member.dir} has fingerprint ${bundle.manifest.fingerprint.slice(0, 16)}…, but family.json says ${member.fingerprint.slice(0, 16)}…; the family was modified or damaged — re-export it`,
    );
  }
  return bundle;
}
