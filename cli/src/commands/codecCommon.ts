/**
 * What encode, decode and fit-entropy share: the model/EP options, opening the codec with clear
 * errors, expanding inputs (files, directories, quoted globs) and the batch loop (progress bar,
 * keep going past bad files, report them at the end, non-zero exit).
 */
import { mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { checkColour, DEFAULT_MAX_PIXELS, DEFAULT_TILE_SIZE, defaultModelDir, DqCodec, isModelDir, MAX_THREADS, OUTPUT_FORMATS, type ExecutionProvider } from '@dqcodec/codec';
import { isUserError, UserError } from '../errors.js';
import { intOption, intRange } from '../options.js';
import { printable, printableError } from '../printable.js';

export interface CodecFlags {
  model?: string;
  ep: ExecutionProvider;
  threads?: number;
  tile: number;
  maxPixels: number;
  quiet: boolean;
}

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

/** Commander parser for a pixel count: an integer, optionally with a k, M or G suffix (powers of 1000). */
export function pixelCount(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)$/i.exec(value.trim());
  const n = m ? Math.round(Number(m[1]) * SUFFIX[m[2].toLowerCase()]) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a pixel count such as 100000000 or 100M, got "${value}"`);
  return n;
}

/** Commander parser for --flatten's colour: one sharp can parse, checked before any work. */
export function flattenColour(value: string): string {
  try {
    return checkColour(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** --flatten [colour], validated. */
export function addFlattenOption(cmd: Command, what: string): Command {
  return cmd.option('--flatten [colour]', what, flattenColour);
}

/** --allow-corrupt: damaged image data decoded with a note instead of refused. */
export function addAllowCorruptOption(cmd: Command): Command {
  return cmd.option('--allow-corrupt', 'decode damaged images (truncated or corrupt data) with a note instead of refusing them', false);
}

/** --force: replace read-only outputs. */
export function addForceOption(cmd: Command): Command {
  return cmd.option('-f, --force', 'replace existing outputs even when they are read-only (they keep their permissions)', false);
}

/** The options of commands that write images (decode, detokenize): levels, format, quality, overwrite. */
export function addImageOutputOptions(cmd: Command, formatDefault: string): Command {
  return cmd
    .option('--levels <n>', 'decode only the top n levels (progressive preview)', intOption(1))
    .addOption(new Option('--format <fmt>', `output format (default: ${formatDefault})`).choices([...OUTPUT_FORMATS]))
    .option('--quality <q>', 'JPEG quality (WebP and AVIF are written lossless)', intOption(1), 95);
}

export function addCodecOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <dir>', 'model directory or model family (default: $DQCODEC_MODEL, else the shipped models/default, a family of qualities 1–11)')
    .addOption(new Option('--ep <provider>', 'onnxruntime execution provider').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', `onnxruntime intra-op threads, 1 to ${MAX_THREADS} (default: one per core)`, intRange(1, MAX_THREADS))
    .option('--tile <px>', `tile size in pixels for large images (0 = no tiling; memory grows with the tile)`, intOption(0), DEFAULT_TILE_SIZE)
    .option('--max-pixels <n>', 'largest image accepted in pixels, e.g. 100M (memory grows with the image; 2^26 by default)', pixelCount, DEFAULT_MAX_PIXELS)
    .option('-q, --quiet', 'print nothing but errors', false);
}

export async function openCodec(o: CodecFlags): Promise<DqCodec> {
  try {
    return await openCodecUnsafe(o);
  } catch (err) {
    throw printableError(err);
  }
}

async function openCodecUnsafe(o: CodecFlags): Promise<DqCodec> {
  let dir = o.model ?? process.env.DQCODEC_MODEL;
  if (dir === undefined) {
    dir = defaultModelDir();
    if (!isModelDir(dir)) {
      throw new UserError(
        `no model given and the default model ${dir} is missing: pass --model <dir>, set DQCODEC_MODEL, ` +
          'or train and export one (`dqcodec train --config default ... --out runs/default`, then `dqcodec export runs/default -o models/default`)',
      );
    }
  }
  return DqCodec.load(dir, { ep: o.ep, threads: o.threads, tileSize: o.tile, maxPixels: o.maxPixels });
}

/** --quality for commands that read images with a model family (tokens, analyze): 1..N or an alias. */
export function addQualityOption(cmd: Command): Command {
  return cmd.option('--quality <q>', "with a model family (the default model: 1–11, default 6, aliases low, medium, high), the quality whose model is used");
}

/**
 * The member of root's family for --quality (undefined → root itself). A quality the family lacks,
 * or any quality for a single model directory, is a one-line UserError listing the valid ones.
 */
export async function qualityMember(root: DqCodec, quality: string | undefined): Promise<DqCodec> {
  if (quality === undefined) return root;
  const f = root.family;
  if (!f) {
    throw new UserError(`--quality ${printable(quality)}: model ${printable(root.manifest.name)} (${printable(root.modelDir)}) is a single model, not a model family with numbered qualities`);
  }
  try {
    return await root.member(quality);
  } catch (err) {
    if ((err as Error).name !== 'DqcError' || !/^quality /.test((err as Error).message)) throw err;
    const names = Object.entries(f.aliases).map(([k, v]) => `${k} = ${v}`);
    throw new UserError(
      `--quality ${printable(quality)}: model family ${printable(f.name)} has qualities 1–${f.qualities.length} (1 = smallest files)${names.length ? ` and the aliases ${names.join(', ')}` : ''}`,
    );
  }
}

export interface InputFile {
  /** Path as given or found. */
  path: string;
  /** Path relative to the directory/glob base it came from (for the output tree); basename for plain files. */
  rel: string;
}

export interface ExpandedInputs {
  files: InputFile[];
  /** Inputs that matched nothing or cannot be examined, each with its one-line reason. */
  missing: { file: string; message: string }[];
  /** What a directory search passed over on purpose (a symlink loop, a directory that cannot be read), one line each. */
  skipped: string[];
  /** True when a directory or glob was given (the output is then a directory). */
  expanded: boolean;
}

/** The reason a path cannot be examined, in one line: not always "no such file". */
export function pathProblem(path: string, e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return `${path}: no such file or directory`;
    case 'ELOOP':
      return `${path}: too many levels of symbolic links (a symlink loop?)`;
    case 'EACCES':
    case 'EPERM':
      return `${path}: permission denied (it or one of its directories cannot be read)`;
    case 'ENOTDIR':
      return `${path}: a part of the path is not a directory`;
    case 'ENAMETOOLONG':
      return `${path}: the name is too long`;
    default:
      return `${path}: ${String(e.message).split('\n')[0]}`;
  }
}

const GLOB_CHARS = /[*?[]/;

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Minimal glob (*, ?, [...], ** for any depth) for shells that pass patterns through (quoted, Windows). */
async function glob(pattern: string): Promise<{ base: string; files: string[] }> {
  const parts = pattern.split(/[\\/]/);
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  const base = parts.slice(0, firstGlob).join(sep) || (pattern.startsWith('/') ? sep : '.');
  const rest = parts.slice(firstGlob);
  const out: string[] = [];
  const walk = async (dir: string, i: number): Promise<void> => {
    if (i === rest.length) return;
    const seg = rest[i];
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (seg === '**') {
      await walk(dir, i + 1);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) await walk(join(dir, e.name), i);
      return;
    }
    const re = segmentRegex(seg);
    for (const e of entries) {
      if (!re.test(e.name) || (e.name.startsWith('.') && !seg.startsWith('.'))) continue;
      const p = join(dir, e.name);
      if (i === rest.length - 1) {
        if (e.isFile()) out.push(p);
      } else if (e.isDirectory()) await walk(p, i + 1);
    }
  };
  await walk(base, 0);
  return { base, files: [...new Set(out)].sort() };
}

/**
 * Files under `root` with one of `exts`, searched recursively. Symbolic links are followed, to
 * files and to directories alike; a directory reached twice (a symlink loop, or two links to one
 * place) is searched once and the repeat noted in `skipped`, as are directories that cannot be
 * read. Links that lead nowhere, and entries that are not regular files (a FIFO named x.png), are
 * returned in `broken` / as files, so that they are reported as failed inputs, not dropped.
 */
async function listDir(root: string, exts: Set<string>, skipped: string[], broken: { file: string; message: string }[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const wanted = (name: string): boolean => exts.has(extname(name).slice(1).toLowerCase());
  const walk = async (dir: string): Promise<void> => {
    const real = await realpath(dir).catch(() => dir);
    if (seen.has(real)) {
      skipped.push(`${dir}: leads to ${real}, which is already searched (a symlink loop or a second link); skipped`);
      return;
    }
    seen.add(real);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      skipped.push(`${pathProblem(dir, err as NodeJS.ErrnoException)}; skipped`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) {
        const st = await stat(p).catch((err: NodeJS.ErrnoException) => err);
        if (st instanceof Error) {
          if (wanted(e.name)) broken.push({ file: p, message: `${p}: a symbolic link that leads nowhere (${pathProblem(p, st).slice(p.length + 2)})` });
          continue;
        }
        if (st.isDirectory()) await walk(p);
        else if (wanted(e.name)) out.push(p);
      } else if (e.isDirectory()) await walk(p);
      else if (wanted(e.name)) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}

/** Files, directories (searched recursively for `exts`) and quoted globs → input files. */
export async function expandInputs(args: string[], exts: readonly string[]): Promise<ExpandedInputs> {
  const extSet = new Set(exts);
  const files: InputFile[] = [];
  const missing: { file: string; message: string }[] = [];
  const skipped: string[] = [];
  let expanded = false;
  for (const arg of args) {
    const st = await stat(arg).catch((err: NodeJS.ErrnoException) => err);
    if (!(st instanceof Error) && st.isDirectory()) {
      expanded = true;
      for (const f of await listDir(arg, extSet, skipped, missing)) files.push({ path: f, rel: relative(arg, f) });
    } else if (!(st instanceof Error)) {
      files.push({ path: arg, rel: basename(arg) });
    } else if (st.code === 'ENOENT' && GLOB_CHARS.test(arg)) {
      expanded = true;
      const g = await glob(arg);
      if (g.files.length === 0) missing.push({ file: arg, message: `${arg}: no such file or no matching files` });
      for (const f of g.files) files.push({ path: f, rel: relative(g.base, f) });
    } else {
      missing.push({ file: arg, message: pathProblem(arg, st) });
    }
  }
  return { files, missing, skipped, expanded };
}

/** Whether -o names a directory: several inputs, a directory/glob input, a trailing slash, or an existing directory. */
export async function outputIsDirectory(out: string, inputs: ExpandedInputs, argCount: number): Promise<boolean> {
  if (argCount > 1 || inputs.expanded || out.endsWith('/') || out.endsWith(sep)) return true;
  return (await stat(out).catch(() => null))?.isDirectory() ?? false;
}

/** Map inputs to outputs under `outDir`, with the extension replaced; name clashes are an error before any work. */
export function mapOutputs(files: InputFile[], outDir: string, ext: string): { input: string; output: string }[] {
  const seen = new Map<string, string>();
  return files.map((f) => {
    const rel = f.rel.slice(0, f.rel.length - extname(f.rel).length) + ext;
    const output = join(outDir, rel);
    const key = resolve(output);
    const prev = seen.get(key);
    if (prev !== undefined) throw new UserError(`${prev} and ${f.path} would both be written to ${output}; rename one of them or encode them separately`);
    seen.set(key, f.path);
    return { input: f.path, output };
  });
}

/** The message of a per-file failure, prefixed with the file unless it already names it; printable (one line). */
export function failureMessage(file: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const text = msg.includes(file) ? msg : `${file}: ${msg}`;
  return printable(isUserError(err) ? text : `${text} (internal error: ${err instanceof Error ? (err.stack?.split('\n')[1]?.trim() ?? '') : ''})`);
}

/** Make a user-facing error for a single-file run: prefixed with the file, still one line. */
export function singleFileError(file: string, err: unknown): unknown {
  if (!isUserError(err)) return err;
  return new UserError(failureMessage(file, err));
}

/** A user error for the first input a single-file command could not use. */
export function missingInputError(expanded: ExpandedInputs): UserError {
  return new UserError(printable(expanded.missing[0].message));
}

/** Open the codec, run `work`, and close the codec whatever happens; user errors come out printable. */
export async function withCodec<T>(o: CodecFlags, work: (codec: DqCodec) => Promise<T>): Promise<T> {
  const codec = await openCodec(o);
  try {
    return await work(codec);
  } catch (err) {
    throw printableError(err);
  } finally {
    await codec.close();
  }
}

/** withCodec for one input file: its user errors name the file (singleFileError). */
export function withCodecForFile<T>(o: CodecFlags, input: string, work: (codec: DqCodec) => Promise<T>): Promise<T> {
  return withCodec(o, async (codec) => {
    try {
      return await work(codec);
    } catch (err) {
      throw singleFileError(input, err);
    }
  });
}

export interface BatchJob {
  input: string;
  output: string;
}

/**
 * Run jobs one by one with a progress bar (TTY, not quiet) or one line per file (not quiet);
 * failures are collected and reported at the end, and set a non-zero exit code.
 */
export async function runBatch(
  verb: string,
  jobs: BatchJob[],
  inputs: Pick<ExpandedInputs, 'missing' | 'skipped'>,
  quiet: boolean,
  work: (job: BatchJob) => Promise<{ line: string; notes: string[] }>,
): Promise<{ ok: number; failed: { file: string; message: string }[] }> {
  const missing = inputs.missing;
  const failed = missing.map((m) => ({ file: m.file, message: printable(m.message) }));
  if (!quiet) for (const s of inputs.skipped) process.stderr.write(`note: ${printable(s)}\n`);
  const bar = process.stderr.isTTY && !quiet && jobs.length > 1 ? new cliProgress.SingleBar({ format: `${verb} [{bar}] {value}/{total} | {file}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  bar?.start(jobs.length, 0, { file: '' });
  let ok = 0;
  const made = new Set<string>();
  const notes: string[] = [];
  for (const job of jobs) {
    bar?.update({ file: printable(job.input) });
    try {
      const dir = dirname(job.output);
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      const r = await work(job);
      ok++;
      if (bar) notes.push(...r.notes.map((n) => printable(`note: ${job.input}: ${n}`)));
      else if (!quiet) {
        process.stdout.write(`${printable(r.line)}\n`);
        for (const n of r.notes) process.stderr.write(`${printable(`note: ${job.input}: ${n}`)}\n`);
      }
    } catch (err) {
      failed.push({ file: job.input, message: failureMessage(job.input, err) });
    }
    bar?.increment();
  }
  bar?.stop();
  for (const n of notes) process.stderr.write(`${n}\n`);
  const total = jobs.length + missing.length;
  if (failed.length > 0) {
    process.stderr.write(`dqcodec: ${failed.length} of ${total} inputs failed (${ok} ${verb}d):\n`);
    for (const f of failed) process.stderr.write(`  ${f.message}\n`);
    process.exitCode = 1;
  } else if (!quiet) {
    process.stderr.write(`${verb}d ${ok} file${ok === 1 ? '' : 's'}\n`);
  }
  return { ok, failed };
}

export function channelsName(c: number): string {
  return ['', 'grey', 'grey+alpha', 'RGB', 'RGBA'][c] ?? `${c} channels`;
}

export function kb(bytes: number): string {
  return bytes < 10_000 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}
