/**
 * Fit the entropy tables of a model to real photos: run the encoder over a directory of images,
 * collect their index maps and store buildEntropyTables(...) as manifest.entropy (written
 * atomically). The graphs, and so the fingerprint, are unchanged; .dqc files written with the
 * previous tables no longer decode (their tablesCrc differs), so fit before publishing a model.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { buildEntropyTables, compilePriorTables, DqcError, encodeLevel, isCoefficientTables, isPriorTables, priorLevelBits, type PriorTables, levelSpecsTopFirst, parseManifest, type EntropyTables, type LevelIndices } from '@dqcodec/core';
import { DqCodec, type DqCodecOptions } from './codec.js';
import { FileError, writeFileAtomic } from './files.js';
import { INPUT_EXTENSIONS } from './image.js';

export interface FitEntropyOptions extends DqCodecOptions {
  /** Use at most this many images, spread evenly over the sorted list (default 200). */
  maxImages?: number;
  /** Successor codes per code in the tables (default: the core's, 8). */
  successors?: number;
  /** Called after each image. */
  onProgress?: (e: { done: number; total: number; file: string; error?: string }) => void;
}

export interface LevelFit {
  M: number;
  K: number;
  /** Mean bits per index on the fitting images with the previous tables (or the defaults) and with the new ones. */
  bitsBefore: number;
  bitsAfter: number;
}

export interface FitEntropyResult {
  manifestPath: string;
  images: number;
  /** Images that could not be read (skipped). */
  skipped: { file: string; message: string }[];
  /** Per level, TOP first. */
  levels: LevelFit[];
  tables: EntropyTables;
  /** A rate model's learned prior stays in the manifest ('conditional' files keep decoding). */
  keptPrior: boolean;
}

/** Image files under `dir` (recursively), sorted. */
export async function listImages(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileError(code === 'ENOENT' ? `${dir}: no such directory` : code === 'ENOTDIR' ? `${dir} is not a directory` : `cannot read ${dir}: ${(err as Error).message}`);
  }
  const exts = new Set<string>(INPUT_EXTENSIONS);
  return entries
    .filter((e) => e.isFile() && exts.has(extname(e.name).slice(1).toLowerCase()))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

function spread<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)]);
}

function meanBits(samples: LevelIndices[][], level: number, tables: EntropyTables | undefined): number {
  let bits = 0;
  let count = 0;
  for (const s of samples) {
    const lv = s[level];
    bits += encodeLevel(lv, tables?.levelsTopFirst[level]).length * 8;
    count += lv.indices.length;
  }
  return count > 0 ? bits / count : 0;
}

/** Bits per index of level `level` under a rate model's prior (its code length; the file pays the same). */
function meanPriorBits(samples: LevelIndices[][], level: number, prior: PriorTables): number {
  const t = compilePriorTables(prior);
  let bits = 0;
  let count = 0;
  for (const s of samples) {
    bits += priorLevelBits(s[level], level > 0 ? s[level - 1] : null, t[level]);
    count += s[level].indices.length;
  }
  return count > 0 ? bits / count : 0;
}

export async function fitEntropy(modelDir: string, imagesDir: string, opts: FitEntropyOptions = {}): Promise<FitEntropyResult> {
  const codec = await DqCodec.load(modelDir, opts);
  const before = codec.manifest.entropy;
  if (isCoefficientTables(before)) {
    await codec.close();
    const what = codec.family ? `model family ${codec.family.name} holds transform models; they code` : `${codec.manifest.name} is a transform model; it codes`;
    throw new DqcError('BAD_TABLES', `${modelDir}: ${what} with the adaptive 'coefficient' method, which has no tables to fit (fit-entropy is for DQ-AE models, e.g. models/dq-ae)`);
  }
  if (codec.family) {
    await codec.close();
    throw new DqcError('BAD_TABLES', `${modelDir} is a model family (${codec.family.name}); fit the tables of one member directory at a time (e.g. ${join(modelDir, codec.family.qualities[0].dir)}; fitting keeps the fingerprint, so family.json stays valid)`);
  }
  const files = spread(await listImages(imagesDir), opts.maxImages ?? 200);
  if (files.length === 0) throw new FileError(`${imagesDir}: no images found (looked for ${INPUT_EXTENSIONS.join(', ')})`);
  const samples: LevelIndices[][] = [];
  const skipped: { file: string; message: string }[] = [];
  try {
    for (const [i, file] of files.entries()) {
      try {
        samples.push((await codec.tokens(file)).levels);
        opts.onProgress?.({ done: i + 1, total: files.length, file });
      } catch (err) {
        const message = (err as Error).message;
        if (!['ImageError', 'FileError'].includes((err as Error).name)) throw err;
        skipped.push({ file: relative(imagesDir, file) || file, message });
        opts.onProgress?.({ done: i + 1, total: files.length, file, error: message });
      }
    }
  } finally {
    await codec.close();
  }
  if (samples.length === 0) throw new FileError(`${imagesDir}: none of the ${files.length} images could be read`);
  const specs = levelSpecsTopFirst(codec.manifest);
  const tables = buildEntropyTables(samples, specs, { successors: opts.successors });
  const manifestPath = join(codec.modelDir, 'manifest.json');
  const raw = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  if (raw.fingerprint !== codec.manifest.fingerprint) throw new FileError(`${manifestPath} changed while fitting; run again`);
  // A rate model keeps its learned prior (the 'conditional' method, still readable) beside the
  // fitted tables, which become its default method.
  if (isPriorTables(raw.entropy) && raw.prior === undefined) raw.prior = raw.entropy;
  raw.entropy = tables;
  parseManifest(raw); // never write a manifest the decoder would refuse
  await writeFileAtomic(manifestPath, `${JSON.stringify(raw, null, 2)}\n`);
  const levels = specs.map((s, l) => ({ M: s.M, K: s.K, bitsBefore: isPriorTables(before) ? meanPriorBits(samples, l, before) : meanBits(samples, l, before), bitsAfter: meanBits(samples, l, tables) }));
  return { manifestPath, images: samples.length, skipped, levels, tables, keptPrior: raw.prior !== undefined };
}
