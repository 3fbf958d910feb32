/**
 * File input and output with bounds.
 *
 * Output is never half-written: data goes to a temporary file in the destination's directory
 * (same file system, so the final rename is atomic), is flushed, then renamed over the
 * destination. On any failure the temporary file is removed and the destination is untouched.
 * A destination without write permission is refused unless the caller forces it; a replaced
 * file keeps its permission bits.
 *
 * Input is read only from regular files (opened without blocking, so a FIFO can never hang a
 * read), and only up to a cap the caller derives from its limits: the size is checked before a
 * byte is read, and the read stops at the cap even if the file grows meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, link, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** A file cannot be read or written (missing input, existing output with overwrite off, …). */
export class FileError extends Error {
  override name = 'FileError';
}

export interface WriteOptions {
  /** Replace an existing file (default true; the replacement is atomic). */
  overwrite?: boolean;
  /** Replace an existing file even when it is read-only (no write permission bits). Default false. */
  force?: boolean;
}

/** Longest file name (one path component) the usual file systems accept, in bytes. */
export const NAME_MAX = 255;

/**
 * The temporary name beside `target`: `.<name>.<pid>.<random>.tmp`, with <name> shortened (at a
 * UTF-8 character boundary) so that the whole stays within NAME_MAX bytes.
 */
export function temporaryName(target: string, random = randomBytes(4).toString('hex')): string {
  const suffix = `.${process.pid}.${random}.tmp`;
  const room = NAME_MAX - 1 - Buffer.byteLength(suffix);
  let name = basename(target);
  while (Buffer.byteLength(name) > room) name = [...name].slice(0, -1).join('');
  return join(dirname(target), `.${name}${suffix}`);
}

/** True when an existing file must not be replaced without --force: no write permission bit, or no write access. */
async function isReadOnly(path: string, mode: number): Promise<boolean> {
  if ((mode & 0o222) === 0) return true;
  return access(path, constants.W_OK).then(
    () => false,
    () => true,
  );
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
  if (Buffer.byteLength(basename(target)) > NAME_MAX) throw new FileError(`cannot write ${path}: the file name is longer than ${NAME_MAX} bytes`);
  const existing = await stat(target).catch(() => null);
  if (existing?.isDirectory()) throw new FileError(`cannot write ${path}: it is a directory`);
  if (existing && (existing.isCharacterDevice() || existing.isFIFO())) return writeStream(path, data);
  if (existing && !existing.isFile()) throw new FileError(`cannot write ${path}: not a regular file`);
  if (existing && opts.overwrite === false) throw new FileError(`${path} already exists (remove it, or allow overwriting)`);
  if (existing && !opts.force && (await isReadOnly(target, existing.mode))) {
    throw new FileError(`${path} is read-only (mode ${(existing.mode & 0o777).toString(8).padStart(4, '0')}); use --force (library: the force option) to replace it`);
  }
  const tmp = temporaryName(target);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // A replaced file keeps its permission bits (0444 stays 0444 when forced).
    if (existing) await chmod(tmp, existing.mode & 0o7777);
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

/** One line for a path that cannot be opened or examined, with the real reason (not always "no such file"). */
export function pathError(path: string, e: NodeJS.ErrnoException): FileError {
  switch (e.code) {
    case 'ENOENT':
      return new FileError(`${path}: no such file`);
    case 'ELOOP':
      return new FileError(`${path}: too many levels of symbolic links (a symlink loop?)`);
    case 'EACCES':
    case 'EPERM':
      return new FileError(`${path}: permission denied (the file or one of its directories cannot be read)`);
    case 'ENOTDIR':
      return new FileError(`${path}: a part of the path is not a directory`);
    case 'ENAMETOOLONG':
      return new FileError(`${path}: the name is too long`);
    case 'EISDIR':
      return new FileError(`${path} is a directory, not a file`);
    case 'ENXIO':
      return new FileError(`${path}: not a regular file (a socket or a device without a reader); dqcodec reads regular files only`);
    default:
      return new FileError(`cannot read ${path}: ${String(e.message).split('\n')[0]}`);
  }
}

/** What a non-regular file is, for messages. */
function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Human size: 1.5 GB, 12.3 MB, 900 kB, 512 B (powers of 1000, as `ls -lh --si`). */
export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/** An open regular input file: refuses FIFOs, devices, sockets and directories without blocking. */
export interface InputFile {
  fh: FileHandle;
  size: number;
}

/**
 * Open `path` for reading, without blocking (O_NONBLOCK: a FIFO with no writer does not hang the
 * open) and without following it onto anything but a regular file (checked on the open handle,
 * so nothing can be swapped in between the check and the read).
 */
export async function openInputFile(path: string): Promise<InputFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw pathError(path, err as NodeJS.ErrnoException);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new FileError(`${path} is a directory, not a file`);
    if (!st.isFile()) throw new FileError(`${path} is ${kindOf(st)}, not a regular file; dqcodec reads regular files only (save the data to a file first)`);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Read bytes [position, position + length) of an open file (fewer at its end). */
export async function readAt(file: InputFile, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await file.fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Read a whole open file, refusing it (with `tooBig(bytes)` as the message) when it holds more
 * than `maxBytes`: first from its size, then while reading, so a file that grows (or lies about
 * its size, as /proc files do) still stops at the cap.
 */
export async function readAllBounded(path: string, file: InputFile, maxBytes: number, tooBig: (bytes: number) => string): Promise<Buffer> {
  if (file.size > maxBytes) throw new FileError(tooBig(file.size));
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Math.max(1, Math.min(maxBytes + 1, Math.max(file.size, 1 << 16)));
  for (;;) {
    const want = Math.min(chunk, maxBytes + 1 - total);
    let part: Buffer;
    try {
      part = await readAt(file, total, want);
    } catch (err) {
      throw pathError(path, err as NodeJS.ErrnoException);
    }
    if (part.length === 0) break;
    chunks.push(part);
    total += part.length;
    if (total > maxBytes) throw new FileError(tooBig(total));
    if (part.length < want) break;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

export interface ReadInputOptions {
  /** Refuse files larger than this many bytes (default: no cap beyond what a Buffer can hold). */
  maxBytes?: number;
  /** The message for a file over the cap (default: "<path> is <size>, more than the limit of <cap>"). */
  tooBig?: (bytes: number) => string;
}

/** Read a whole regular input file, bounded, with one-line errors for the usual problems. */
export async function readInputFile(path: string, opts: ReadInputOptions = {}): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? 2 ** 31 - 1;
  const tooBig = opts.tooBig ?? ((n: number) => `${path} is ${humanBytes(n)}, more than the limit of ${humanBytes(maxBytes)} for this input`);
  const file = await openInputFile(path);
  try {
    return await readAllBounded(path, file, maxBytes, tooBig);
  } finally {
    await file.fh.close();
  }
}

/** Refuse to write the output over the input (it would destroy the input). */
export async function checkNotSameFile(input: string, output: string): Promise<void> {
  const a = await realpath(input).catch(() => resolve(input));
  const b = await realpath(output).catch(() => resolve(output));
  if (a === b) throw new FileError(`output ${output} is the input file; choose another output path`);
}
