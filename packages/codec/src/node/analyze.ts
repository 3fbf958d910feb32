/**
 * Codebook analysis over images (`dqcodec analyze`): each image is run through the encoder and
 * quantizer, its index maps go into a CodebookAnalyzer (core/analysis.ts), and the report can be
 * drawn as the paper's Fig. 3-style heat map (SVG from the core, PNG through sharp).
 */
import { extname } from 'node:path';
import sharp from 'sharp';
import { CodebookAnalyzer, miHeatmapSvg, type LevelAnalysis } from '@dqcodec/core';
import type { DqCodec } from './codec.js';
import { FileError, writeFileAtomic } from './files.js';

export interface AnalyzeOptions {
  /** Called after each image. */
  onProgress?: (e: { done: number; total: number; file: string; error?: string }) => void;
  /** Seed of the independence baseline (default 1). */
  seed?: number;
  /** With a model family, the quality whose member is analysed (default: the codec's own; see EncodeOptions.quality). */
  quality?: number | string;
}

export interface AnalysisReport {
  model: { name: string; fingerprint: string; dir: string };
  /** Images analysed. */
  images: number;
  /** Images that could not be read (skipped). */
  skipped: { file: string; message: string }[];
  /** Per level, TOP first. */
  levels: LevelAnalysis[];
}

/** Errors that mean "this image is unusable", not "the model or the program is broken". */
const SKIPPABLE = new Set(['ImageError', 'FileError']);

/** Analyse the tokens the codec's model gives for `files`; unreadable images are skipped and listed. */
export async function analyzeImages(family: DqCodec, files: readonly string[], opts: AnalyzeOptions = {}): Promise<AnalysisReport> {
  const codec = await family.member(opts.quality);
  const m = codec.manifest;
  const analyzer = new CodebookAnalyzer(m.levels.map(({ M, K, stride }) => ({ M, K, stride })).reverse());
  const skipped: AnalysisReport['skipped'] = [];
  for (const [i, file] of files.entries()) {
    try {
      analyzer.add((await codec.tokens(file)).levels);
      opts.onProgress?.({ done: i + 1, total: files.length, file });
    } catch (err) {
      if (!SKIPPABLE.has((err as Error).name)) throw err;
      const message = (err as Error).message;
      skipped.push({ file, message });
      opts.onProgress?.({ done: i + 1, total: files.length, file, error: message });
    }
  }
  if (analyzer.images === 0) throw new FileError(`none of the ${files.length} images could be read`);
  return { model: { name: m.name, fingerprint: m.fingerprint, dir: codec.modelDir }, images: analyzer.images, skipped, levels: analyzer.report(opts.seed) };
}

/** The report's heat map as SVG (`.svg`) or rendered to PNG (any other name; sharp rasterises the SVG). */
export async function writeHeatmap(report: AnalysisReport, path: string, opts: { overwrite?: boolean } = {}): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new FileError(`heat map ${path}: use a .png or .svg file name`);
  const title = `Codebook redundancy: model ${report.model.name} (${report.model.fingerprint.slice(0, 12)}…), ${report.images} image${report.images === 1 ? '' : 's'}`;
  const svg = miHeatmapSvg(report.levels, { title });
  const data = ext === '.svg' ? svg : await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer();
  await writeFileAtomic(path, data, { overwrite: opts.overwrite });
}
