/**
 * File output that is never half-written: data goes to a temporary file in the destination's
 * directory (same file system, so the final rename is atomic), is flushed, then renamed over the
 * destination. On any failure the temporary file is removed and the destination is untouched.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** A file cannot be read or written (missing input, existing output with overwrite off, …). */
export class FileError extends Error {
  override name = 'FileError';
}

export interface WriteOptions {
  /** Replace an existing file (default true; the replacement is atomic). */
  overwrite?: boolean;
}

/**
 * Atomically write `data` to `path`. A character device or FIFO (/dev/stdout, /dev/null, a pipe)
 * is written to directly: renaming a temporary file over it would replace the device node
 * itself (as root, even /dev/null), and a stream has no half-written file to protect.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, opts: WriteOptions = {}): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const st = await stat(dir).catch(() => null);
  if (!st || !st.isDirectory()) throw new FileError(`cannot write ${path}: directory ${dirname(path)} does not exist`);
  const existing = await stat(target).catch(() => null);
  if (existing?.isDirectory()) throw new FileError(`cannot write ${path}: it is a directory`);
  if (existing && (existing.isCharacterDevice() || existing.isFIFO())) return writeStream(path, data);
  if (existing && !existing.isFile()) throw new FileError(`cannot write ${path}: not a regular file`);
  if (existing && opts.overwrite === false) throw new FileError(`${path} already exists (remove it, or allow overwriting)`);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.overwrite === false) {
      // link() fails if the target appeared meanwhile: no-clobber without a race.
      await link(tmp, target);
      await unlink(tmp);
    } else {
      await rename(tmp, target);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new FileError(`${path} already exists (remove it, or allow overwriting)`);
    throw writeError(path, e);
  }
}

/** Write to a device or FIFO in place (no temporary file, no rename, no fsync). */
async function writeStream(path: string, data: Uint8Array | string): Promise<void> {
  try {
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw writeError(path, err as NodeJS.ErrnoException);
  }
}

/** One line naming the file and the system's reason (ENOSPC, EFBIG, EACCES, …). */
function writeError(path: string, e: NodeJS.ErrnoException): FileError {
  return new FileError(`cannot write ${path}: ${String(e.message).split('\n')[0]}`);
}

/** Read a whole input file with a one-line error for the usual problems. */
export async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new FileError(`${path}: no such file`);
    if (e.code === 'EISDIR') throw new FileError(`${path} is a directory, not a file`);
    if (e.code === 'EACCES') throw new FileError(`${path}: permission denied`);
    throw new FileError(`cannot read ${path}: ${e.message}`);
  }
}

/** Refuse to write the output over the input (it would destroy the input). */
export async function checkNotSameFile(input: string, output: string): Promise<void> {
  const a = await realpath(input).catch(() => resolve(input));
  const b = await realpath(output).catch(() => resolve(output));
  if (a === b) throw new FileError(`output ${output} is the input file; choose another output path`);
}
