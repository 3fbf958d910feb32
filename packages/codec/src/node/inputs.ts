/**
 * How many bytes each kind of input may have, derived from the limits, and the bounded readers
 * that enforce it (files.ts does the reading: regular files only, size checked before reading,
 * reads that stop at the cap).
 *
 * - A .dqc file can never need more bytes than its header's image at the format's worst case:
 *   the header (≤ 340 bytes) says how many indices each level holds, every entropy method
 *   codes one range-coder symbol per index (total 2^16, frequency ≥ 1), and a stream of n
 *   symbols is at most 4 + 2n bytes (docs/format.md §5: at most 2 renormalisation bytes per
 *   symbol, 5 flushed at the end, the first dropped; a decoder never reads more); the alpha
 *   section is at most 8 + 1 + 4 + 2·19 bytes per pixel (§6.6: ≤ 19 binary symbols per
 *   sample). DqCodec.decode applies the same stream and alpha bounds to files in memory. Only the header is read before this is checked, and the file's real
 *   end (the streams' lengths, the alpha section's length) is checked against its size, so a
 *   valid file followed by gigabytes of junk is refused after reading at most 344 bytes.
 * - An image file may have 8 bytes per pixel of the pixel limit (16-bit RGBA, uncompressed) plus
 *   64 MiB for metadata (ICC profiles, EXIF, XMP).
 * - A token file (JSON) may have 24 bytes per index the limits allow plus 1 MiB, and never more
 *   than the longest string JavaScript can hold; a .npy array 8 bytes per index plus 64 KiB.
 * - manifest.json may have 64 MiB; a graph 2 GiB (protobuf's own limit).
 */
import { DqcError, hasAlphaSection, MAX_HEADER_BYTES, readHeader, type ContainerLimits, type DqcHeader } from '@dqcodec/core';
import { FileError, humanBytes, openInputFile, readAllBounded, readAt } from './files.js';

/** The most bytes a range-coder stream of `symbols` symbols can have (docs/format.md §5). */
export function streamWorstCase(symbols: number): number {
  return 4 + 2 * symbols;
}

/** Binary symbols per alpha sample, at most (docs/format.md §6.6). */
export const ALPHA_SYMBOLS_PER_SAMPLE = 19;
/** Alpha section prefix: payload length and CRC (docs/format.md §2.3). */
const ALPHA_PREFIX = 8;

/** The longest alpha payload a width × height plane can have: method byte + its stream. */
export function alphaPayloadWorstCase(samples: number): number {
  return 1 + streamWorstCase(ALPHA_SYMBOLS_PER_SAMPLE * samples);
}

/** The most bytes a .dqc file with this header can need: header, each level's stream, alpha section. */
export function dqcWorstCaseBytes(header: DqcHeader): number {
  let n = header.headerLength;
  for (const lv of header.levels) n += streamWorstCase(lv.M * lv.h * lv.w);
  if (hasAlphaSection(header.channels)) n += ALPHA_PREFIX + alphaPayloadWorstCase(header.width * header.height);
  return n;
}

/**
 * Refuse (BAD_HEADER) a header whose level streams are longer than their indices can ever need:
 * no encoder writes such a file, and a decoder never reads those bytes.
 */
export function checkStreamLengths(header: DqcHeader): void {
  header.levels.forEach((lv, i) => {
    const n = lv.M * lv.h * lv.w;
    if (lv.streamLength > streamWorstCase(n)) {
      throw new DqcError('BAD_HEADER', `level ${i} declares a stream of ${lv.streamLength} bytes, more than the ${streamWorstCase(n)} bytes that ${n} indices can ever take`);
    }
  });
}

/** Refuse (BAD_HEADER) an alpha section longer than a width × height plane can ever need. */
export function checkAlphaLength(header: DqcHeader, length: number): void {
  const worst = alphaPayloadWorstCase(header.width * header.height);
  if (length > worst) {
    throw new DqcError('BAD_HEADER', `alpha section declares ${length} bytes, more than the ${worst} bytes a ${header.width}×${header.height} alpha plane can ever take`);
  }
}

/** Both checks on a file in memory (the alpha length is read when the bytes hold it). */
export function checkDeclaredLengths(header: DqcHeader, bytes: Uint8Array): void {
  checkStreamLengths(header);
  const at = header.totalLength;
  if (hasAlphaSection(header.channels) && bytes.length >= at + 4) {
    checkAlphaLength(header, (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0);
  }
}

export interface ReadDqcOptions {
  /** Header limits (default: the format's, 2^28 pixels and indices). */
  limits?: ContainerLimits;
  /** Called with the validated header before anything past it is read (e.g. to check the model). */
  checkHeader?: (header: DqcHeader) => void;
}

/**
 * Read a .dqc file: the header first (validated against `limits`), then only as many bytes as the
 * header says the file has, which must be within the format's worst case for its image. A file
 * longer than that is refused (TRAILING_DATA) from its size, without reading the rest.
 */
export async function readDqcFile(path: string, opts: ReadDqcOptions = {}): Promise<Buffer> {
  const file = await openInputFile(path);
  try {
    const prefix = await readAt(file, 0, Math.min(file.size, MAX_HEADER_BYTES));
    const header = readHeader(prefix, opts.limits);
    opts.checkHeader?.(header);
    checkStreamLengths(header);
    let end = header.totalLength;
    if (hasAlphaSection(header.channels)) {
      end += ALPHA_PREFIX;
      if (file.size >= end) {
        const length = (await readAt(file, header.totalLength, 4)).readUInt32LE(0);
        checkAlphaLength(header, length);
        end += length;
      }
    }
    if (file.size > end) throw new DqcError('TRAILING_DATA', `file has ${file.size - end} unexpected bytes after the last stream`);
    return await readAllBounded(path, file, end, (n) => `${path} has grown to ${humanBytes(n)} while being read`);
  } finally {
    await file.fh.close();
  }
}

/** Bytes of metadata an image file may carry on top of its pixels. */
export const IMAGE_METADATA_BYTES = 64 * 2 ** 20;
/** Bytes per pixel an image file may use (16-bit RGBA, uncompressed). */
export const IMAGE_BYTES_PER_PIXEL = 8;

/** The largest image file accepted under a pixel limit. */
export function maxImageBytes(maxPixels: number): number {
  return IMAGE_METADATA_BYTES + IMAGE_BYTES_PER_PIXEL * maxPixels;
}

/** Read an image file, refusing it from its size when it is larger than any image within `maxPixels` needs. */
export async function readImageFile(path: string, maxPixels: number): Promise<Buffer> {
  const cap = maxImageBytes(maxPixels);
  const file = await openInputFile(path);
  try {
    return await readAllBounded(path, file, cap, (n) =>
      `${path} is ${humanBytes(n)}, more than an image within the limit of ${maxPixels} pixels can need (${humanBytes(cap)}: ${IMAGE_BYTES_PER_PIXEL} bytes per pixel plus ${IMAGE_METADATA_BYTES >> 20} MiB); raise it with --max-pixels if the image is that large`,
    );
  } finally {
    await file.fh.close();
  }
}

/** The longest string V8 can create (2^29 − 24 characters): JSON text beyond it cannot be parsed. */
export const MAX_STRING_LENGTH = 2 ** 29 - 24;
/** JSON bytes a token file may spend per index (a 5-digit index on its own indented line). */
export const TOKEN_JSON_BYTES_PER_INDEX = 24;

/** The largest token document (JSON) accepted for `maxIndices` indices. */
export function maxTokenJsonBytes(maxIndices: number): number {
  return Math.min(MAX_STRING_LENGTH, 2 ** 20 + TOKEN_JSON_BYTES_PER_INDEX * maxIndices);
}

/** The largest .npy array accepted for `maxIndices` indices (8-byte integers, 64 KiB of header). */
export function maxNpyBytes(maxIndices: number): number {
  return 2 ** 16 + 8 * maxIndices;
}

/** manifest.json may have this many bytes (the shipped one has about 110 kB). */
export const MAX_MANIFEST_BYTES = 64 * 2 ** 20;
/** A graph may have this many bytes (protobuf's limit for one message). */
export const MAX_GRAPH_BYTES = 2 ** 31 - 1;

export { FileError };
