/**
 * Outputs are never half-written: a disk that fills up mid-write (simulated by a file handle that
 * writes part of the data, then fails with ENOSPC), a failing fsync, a real ENOSPC from /dev/full,
 * and devices/FIFOs, which are written in place instead of being replaced by a renamed file.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DqCodec, writeFileAtomic } from '../../src/index.js';
import { makeModel, photoPixels, png, rejection, tmp } from './helpers.js';

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, open: vi.fn(real.open) };
});
const realFs = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');

afterEach(() => {
  vi.mocked(fsp.open).mockReset();
  vi.mocked(fsp.open).mockImplementation(realFs.open);
});

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * The next file opened for writing writes only half of what it is given, then fails as a full
 * disk does (files opened for reading, such as the input, are opened normally).
 */
function diskFillsUpMidWrite(): void {
  let armed = true;
  vi.mocked(fsp.open).mockImplementation(async (path, flags, mode) => {
    const fh = await realFs.open(path, flags, mode);
    if (!armed || typeof flags !== 'string' || !flags.includes('w')) return fh;
    armed = false;
    const writeFile = async (data: Uint8Array | string): Promise<void> => {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      await fh.write(bytes.subarray(0, bytes.length >> 1));
      throw errno('ENOSPC', 'no space left on device, write');
    };
    return Object.assign(Object.create(fh) as FileHandle, { writeFile, sync: () => fh.sync(), close: () => fh.close() });
  });
}

describe('writeFileAtomic when the disk fills up', () => {
  it('a new file: one-line FileError, no file under the target name, no temporary file left', async () => {
    const dir = tmp();
    diskFillsUpMidWrite();
    const e = await rejection(writeFileAtomic(join(dir, 'out.png'), new Uint8Array(100_000).fill(7)));
    expect([e.name, e.message]).toEqual(['FileError', `cannot write ${join(dir, 'out.png')}: ENOSPC: no space left on device, write`]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an existing file keeps its old content', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'out.png'), 'old and complete');
    diskFillsUpMidWrite();
    await expect(writeFileAtomic(join(dir, 'out.png'), new Uint8Array(100_000))).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(join(dir, 'out.png'), 'utf8')).toBe('old and complete');
    expect(readdirSync(dir)).toEqual(['out.png']);
  });

  it('a failing fsync (EIO) is a failure too', async () => {
    const dir = tmp();
    vi.mocked(fsp.open).mockImplementationOnce(async (path, flags, mode) => {
      const fh = await realFs.open(path, flags, mode);
      const sync = async (): Promise<void> => {
        throw errno('EIO', 'i/o error, fsync');
      };
      return Object.assign(Object.create(fh) as FileHandle, { writeFile: (d: Uint8Array) => fh.writeFile(d), sync, close: () => fh.close() });
    });
    await expect(writeFileAtomic(join(dir, 'x.dqc'), new Uint8Array(10))).rejects.toThrow(/^cannot write .*x\.dqc: EIO: i\/o error, fsync$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('DqCodec.decodeFile and encodeFile leave nothing behind on a full disk', async () => {
    const codec = await DqCodec.load(await makeModel(1));
    const dir = tmp();
    writeFileSync(join(dir, 'in.png'), await png(photoPixels(40, 30), 40, 30, 3));
    await codec.encodeFile(join(dir, 'in.png'), join(dir, 'in.dqc'));
    diskFillsUpMidWrite();
    expect((await rejection(codec.decodeFile(join(dir, 'in.dqc'), join(dir, 'out.png')))).message).toMatch(/out\.png: ENOSPC/);
    diskFillsUpMidWrite();
    expect((await rejection(codec.encodeFile(join(dir, 'in.png'), join(dir, 'again.dqc')))).message).toMatch(/again\.dqc: ENOSPC/);
    expect(readdirSync(dir).sort()).toEqual(['in.dqc', 'in.png']);
    await codec.close();
  });
});

describe('devices and FIFOs are written in place', () => {
  it('/dev/full: a real ENOSPC, one line, and /dev/full is still a device', async () => {
    const e = await rejection(writeFileAtomic('/dev/full', new Uint8Array(1000)));
    expect([e.name, e.message]).toEqual(['FileError', 'cannot write /dev/full: ENOSPC: no space left on device, write']);
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
    await writeFileAtomic('/dev/null', new Uint8Array(1000));
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('other special files (a socket) are refused, not replaced', async () => {
    const path = join(tmp(), 'sock');
    const server = createServer().listen(path);
    await new Promise((r) => server.once('listening', r));
    const e = await rejection(writeFileAtomic(path, new Uint8Array(10)));
    expect([e.name, e.message]).toEqual(['FileError', `cannot write ${path}: not a regular file`]);
    expect(statSync(path).isSocket()).toBe(true);
    server.close();
  });

  it('a FIFO receives the data and stays a FIFO', async () => {
    const fifo = join(tmp(), 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const received = new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      createReadStream(fifo).on('data', (c) => chunks.push(c as Buffer)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    });
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => i & 255);
    await writeFileAtomic(fifo, data);
    expect(Buffer.compare(await received, data)).toBe(0);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });
});
