/**
 * The .dqc container (docs/format.md §2–4): a small CRC-protected header followed by one
 * entropy-coded stream per level, top level first. The header alone says where every stream
 * is, so a browser can fetch the first bytes, then only the top stream, for a quick preview.
 *
 * Everything read from a file is validated before it is trusted or used to size an allocation.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { crc32 } from './crc32.js';
import { DqcError } from './errors.js';
import type { EntropyMethod } from './entropy/model.js';
import type { LevelShape } from './entropy/types.js';

export const MAGIC = new Uint8Array([0x44, 0x51, 0x43, 0x31]); // "DQC1"
export const FORMAT_VERSION = 1;
/** Fixed part of the header: magic … tablesCrc. */
const FIXED_BYTES = 32;
const LEVEL_BYTES = 22;
const CRC_BYTES = 4;
export const MAX_FINGERPRINT = 128;
export const MAX_LEVELS = 8;
export const MAX_M = 256;
/** No v1 header is longer than this: fetching this many bytes always yields the whole header. */
export const MAX_HEADER_BYTES = FIXED_BYTES + MAX_FINGERPRINT + MAX_LEVELS * LEVEL_BYTES + CRC_BYTES;

const METHOD_IDS: Record<EntropyMethod, number> = { static: 1, context: 2, conditional: 3, coefficient: 4 };
const METHODS: Record<number, EntropyMethod> = { 1: 'static', 2: 'context', 3: 'conditional', 4: 'coefficient' };

export interface ContainerLimits {
  /** Max width·height, both original and padded (default 2^28). */
  maxPixels?: number;
  /** Max total code indices Σ M·h·w over all levels (default 2^28; decoding allocates 2 bytes each). */
  maxIndices?: number;
}

export const DEFAULT_LIMITS: Required<ContainerLimits> = { maxPixels: 2 ** 28, maxIndices: 2 ** 28 };

/** What a writer supplies; stream lengths and CRCs are derived from the streams. */
export interface HeaderFields {
  fingerprint: string;
  width: number;
  height: number;
  channels: number;
  paddedWidth: number;
  paddedHeight: number;
  method: EntropyMethod;
  /** CRC-32 of the entropy tables the streams were coded with (entropy/tables.ts tablesCrc). */
  tablesCrc: number;
  /** Level shapes, TOP level first. */
  levels: LevelShape[];
}

export interface LevelHeader extends LevelShape {
  /** Byte offset of this level's stream from the start of the file. */
  streamOffset: number;
  streamLength: number;
  streamCrc: number;
}

export interface DqcHeader extends HeaderFields {
  version: number;
  levels: LevelHeader[];
  /** Header size in bytes (= offset of the first stream). */
  headerLength: number;
  /**
   * End of the last level stream: the size of the complete file, except for images with alpha
   * (channels 2 or 4), whose alpha section (§2.3) follows.
   */
  totalLength: number;
}

export interface Container {
  header: DqcHeader;
  /** One stream per level, top first (views into the input, not copies). */
  streams: Uint8Array[];
  /** The alpha payload (§2.3) when channels is 2 or 4, else null (a view into the input). */
  alpha: Uint8Array | null;
}

/** Images with 2 (grey + alpha) or 4 (RGBA) channels carry an alpha section (§2.3). */
export function hasAlphaSection(channels: number): boolean {
  return channels === 2 || channels === 4;
}

/** Alpha section prefix: payload length (u32) and payload CRC-32 (u32). */
export const ALPHA_PREFIX_BYTES = 8;

/**
 * Serialise a header and its streams (top level first) into a .dqc file. `alpha` is the alpha
 * payload (alpha.ts encodeAlphaPlane), required exactly when channels is 2 or 4.
 */
export function writeContainer(fields: HeaderFields, streams: Uint8Array[], limits: ContainerLimits = {}, alpha: Uint8Array | null = null): Uint8Array {
  if (streams.length !== fields.levels.length) {
    throw new DqcError('BAD_HEADER', `${fields.levels.length} levels but ${streams.length} streams`);
  }
  validateFields(fields, { ...DEFAULT_LIMITS, ...limits });
  if (hasAlphaSection(fields.channels) !== (alpha !== null)) {
    throw new DqcError('BAD_HEADER', `an image with ${fields.channels} channels ${alpha ? 'must not have' : 'needs'} an alpha payload`);
  }
  if (alpha !== null && alpha.length < 1) throw new DqcError('BAD_HEADER', 'alpha payload is empty');
  const fp = new TextEncoder().encode(fields.fingerprint);
  const w = new ByteWriter();
  w.bytes(MAGIC);
  w.u16(FORMAT_VERSION);
  w.u16(FIXED_BYTES + fp.length + fields.levels.length * LEVEL_BYTES + CRC_BYTES);
  w.u8(fields.channels);
  w.u8(fields.levels.length);
  w.u8(METHOD_IDS[fields.method]);
  w.u8(fp.length);
  for (const v of [fields.width, fields.height, fields.paddedWidth, fields.paddedHeight, fields.tablesCrc]) w.u32(v);
  w.bytes(fp);
  fields.levels.forEach((lv, i) => {
    w.u16(lv.M);
    for (const v of [lv.h, lv.w, lv.K, streams[i].length, crc32(streams[i])]) w.u32(v);
  });
  const head = w.finish();
  w.u32(crc32(head));
  for (const s of streams) w.bytes(s);
  if (alpha !== null) {
    w.u32(alpha.length);
    w.u32(crc32(alpha));
    w.bytes(alpha);
  }
  return w.finish();
}

/**
 * Parse and validate only the header. `bytes` may be a prefix of the file as long as it holds
 * the whole header (MAX_HEADER_BYTES always suffices); streams are not touched.
 */
export function readHeader(bytes: Uint8Array, limits: ContainerLimits = {}): DqcHeader {
  const headerLength = checkPreamble(bytes);
  const head = bytes.subarray(0, headerLength);
  const stored = new ByteReader(head.subarray(headerLength - CRC_BYTES), 'header').u32();
  const actual = crc32(head, 0, headerLength - CRC_BYTES);
  if (stored !== actual) {
    throw new DqcError('HEADER_CRC', `header checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the file is corrupt`);
  }
  const header = parseFields(head, headerLength);
  validateFields(header, { ...DEFAULT_LIMITS, ...limits });
  return header;
}

/** Parse a complete file: header plus every stream (and the alpha section), each checked against its CRC. */
export function readContainer(bytes: Uint8Array, limits: ContainerLimits = {}): Container {
  const header = readHeader(bytes, limits);
  if (!hasAlphaSection(header.channels)) checkNoTrailing(bytes, header.totalLength);
  const streams = header.levels.map((_, i) => levelStream(bytes, header, i));
  let alpha: Uint8Array | null = null;
  if (hasAlphaSection(header.channels)) {
    const section = alphaSection(bytes, header);
    checkNoTrailing(bytes, section.end);
    alpha = section.payload;
  }
  return { header, streams, alpha };
}

/** TRAILING_DATA when `bytes` extends past `end`, the end of the last section. */
export function checkNoTrailing(bytes: Uint8Array, end: number): void {
  if (bytes.length > end) {
    throw new DqcError('TRAILING_DATA', `file has ${bytes.length - end} unexpected bytes after the last stream`);
  }
}

/**
 * The CRC-checked alpha payload (§2.3), which starts where the level streams end
 * (header.totalLength); `end` is the byte after it, i.e. the size of the complete file.
 */
export function alphaSection(bytes: Uint8Array, header: DqcHeader): { payload: Uint8Array; end: number } {
  if (!hasAlphaSection(header.channels)) throw new DqcError('BAD_HEADER', `an image with ${header.channels} channels has no alpha section`);
  const start = header.totalLength;
  if (bytes.length < start + ALPHA_PREFIX_BYTES) {
    throw new DqcError('TRUNCATED', `file is truncated: the alpha section starts at byte ${start}, but only ${bytes.length} bytes are present`);
  }
  const r = new ByteReader(bytes.subarray(start, start + ALPHA_PREFIX_BYTES), 'alpha section');
  const length = r.u32();
  const crc = r.u32();
  const end = start + ALPHA_PREFIX_BYTES + length;
  if (length < 1) throw new DqcError('BAD_HEADER', 'alpha section is empty');
  if (bytes.length < end) {
    throw new DqcError('TRUNCATED', `file is truncated: the alpha section ends at byte ${end}, but only ${bytes.length} bytes are present`);
  }
  const payload = bytes.subarray(start + ALPHA_PREFIX_BYTES, end);
  const actual = crc32(payload);
  if (actual !== crc) throw new DqcError('STREAM_CRC', `alpha section is corrupt (checksum ${hex(actual)}, expected ${hex(crc)})`);
  return { payload, end };
}

/** The CRC-checked stream of level i (top = 0); `bytes` may be a prefix of the file that contains it. */
export function levelStream(bytes: Uint8Array, header: DqcHeader, i: number): Uint8Array {
  const lv = header.levels[i];
  const end = lv.streamOffset + lv.streamLength;
  if (bytes.length < end) {
    throw new DqcError('TRUNCATED', `file is truncated: stream of level ${i} ends at byte ${end}, but only ${bytes.length} bytes are present`);
  }
  const s = bytes.subarray(lv.streamOffset, end);
  const crc = crc32(s);
  if (crc !== lv.streamCrc) {
    throw new DqcError('STREAM_CRC', `stream of level ${i} is corrupt (checksum ${hex(crc)}, expected ${hex(lv.streamCrc)})`);
  }
  return s;
}

/** Magic, version and header length: everything needed before the CRC can be checked. */
function checkPreamble(bytes: Uint8Array): number {
  const r = new ByteReader(bytes, 'file');
  if (bytes.length >= 4 && !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new DqcError('BAD_MAGIC', 'not a .dqc file (bad magic bytes; expected "DQC1")');
  }
  r.bytes(4);
  const version = r.u16();
  if (version !== FORMAT_VERSION) {
    throw new DqcError('UNSUPPORTED_VERSION', `.dqc format version ${version} is not supported (this decoder reads version ${FORMAT_VERSION})`);
  }
  const headerLength = r.u16();
  const min = FIXED_BYTES + 1 + LEVEL_BYTES + CRC_BYTES;
  if (headerLength < min || headerLength > MAX_HEADER_BYTES) {
    throw new DqcError('BAD_HEADER', `header length ${headerLength} is outside [${min}, ${MAX_HEADER_BYTES}]`);
  }
  if (bytes.length < headerLength) {
    throw new DqcError('TRUNCATED', `file is truncated: header needs ${headerLength} bytes, got ${bytes.length}`);
  }
  return headerLength;
}

function parseFields(head: Uint8Array, headerLength: number): DqcHeader {
  const r = new ByteReader(head, 'header');
  r.pos = 8;
  const channels = r.u8();
  const levelCount = r.u8();
  const methodId = r.u8();
  const fpLength = r.u8();
  const [width, height, paddedWidth, paddedHeight, tablesCrc] = [r.u32(), r.u32(), r.u32(), r.u32(), r.u32()];
  const expected = FIXED_BYTES + fpLength + levelCount * LEVEL_BYTES + CRC_BYTES;
  if (expected !== headerLength) {
    throw new DqcError('BAD_HEADER', `header length ${headerLength} disagrees with its contents (${expected} bytes)`);
  }
  const method = METHODS[methodId];
  if (method === undefined) {
    throw new DqcError('UNSUPPORTED_VERSION', `entropy method ${methodId} is not supported (known: 1 = static, 2 = context, 3 = conditional, 4 = coefficient)`);
  }
  const fingerprint = String.fromCharCode(...r.bytes(fpLength));
  let offset = headerLength;
  const levels: LevelHeader[] = [];
  for (let i = 0; i < levelCount; i++) {
    const M = r.u16();
    const [h, w, K, streamLength, streamCrc] = [r.u32(), r.u32(), r.u32(), r.u32(), r.u32()];
    levels.push({ M, h, w, K, streamOffset: offset, streamLength, streamCrc });
    offset += streamLength;
  }
  const fields = { fingerprint, width, height, channels, paddedWidth, paddedHeight, method, tablesCrc, levels };
  return { version: FORMAT_VERSION, headerLength, totalLength: offset, ...fields };
}

function validateFields(f: HeaderFields, limits: Required<ContainerLimits>): void {
  if (!/^[\x21-\x7e]{1,128}$/.test(f.fingerprint)) {
    throw new DqcError('BAD_HEADER', 'model fingerprint must be 1-128 printable ASCII characters without spaces');
  }
  if (!Number.isInteger(f.channels) || f.channels < 1 || f.channels > 4) {
    throw new DqcError('BAD_HEADER', `channels must be 1..4 (got ${f.channels})`);
  }
  if (!(f.method in METHOD_IDS)) throw new DqcError('BAD_HEADER', `unknown entropy method ${JSON.stringify(f.method)}`);
  if (!Number.isInteger(f.tablesCrc) || f.tablesCrc < 0 || f.tablesCrc > 0xffffffff) throw new DqcError('BAD_HEADER', 'tablesCrc must be a u32');
  checkSize('image', f.width, f.height, limits);
  checkSize('padded image', f.paddedWidth, f.paddedHeight, limits);
  if (f.paddedWidth < f.width || f.paddedHeight < f.height) {
    throw new DqcError('BAD_HEADER', `padded size ${f.paddedWidth}×${f.paddedHeight} is smaller than the image ${f.width}×${f.height}`);
  }
  if (f.levels.length < 1 || f.levels.length > MAX_LEVELS) throw new DqcError('BAD_HEADER', `level count must be 1..${MAX_LEVELS} (got ${f.levels.length})`);
  let total = 0;
  let prevStride = Infinity;
  f.levels.forEach((lv, i) => {
    const stride = checkLevel(lv, i, f);
    if (stride >= prevStride) {
      throw new DqcError('BAD_HEADER', `level ${i} has stride ${stride}, not smaller than the level above (${prevStride}); levels are stored top first`);
    }
    prevStride = stride;
    total += lv.M * lv.h * lv.w;
  });
  if (total > limits.maxIndices) {
    throw new DqcError('ABSURD_SIZE', `file holds ${total} code indices, more than the limit of ${limits.maxIndices}`);
  }
}

function checkSize(what: string, w: number, h: number, limits: Required<ContainerLimits>): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || w > 0xffffffff || h > 0xffffffff) {
    throw new DqcError('BAD_HEADER', `${what} size ${w}×${h} is invalid`);
  }
  if (w * h > limits.maxPixels) {
    throw new DqcError('ABSURD_SIZE', `${what} size ${w}×${h} exceeds the limit of ${limits.maxPixels} pixels`);
  }
}

/** Check one level's shape against the padded size; returns its stride. */
function checkLevel(lv: LevelShape, i: number, f: HeaderFields): number {
  const where = `level ${i}`;
  if (!Number.isInteger(lv.M) || lv.M < 1 || lv.M > MAX_M) throw new DqcError('BAD_HEADER', `${where}: M must be 1..${MAX_M} (got ${lv.M})`);
  if (!Number.isInteger(lv.K) || lv.K < 2 || lv.K > 65536) throw new DqcError('BAD_HEADER', `${where}: K must be 2..65536 (got ${lv.K})`);
  if (!Number.isInteger(lv.h) || !Number.isInteger(lv.w) || lv.h < 1 || lv.w < 1) {
    throw new DqcError('BAD_HEADER', `${where}: map size ${lv.w}×${lv.h} is invalid`);
  }
  const stride = f.paddedWidth / lv.w;
  const consistent = lv.w * stride === f.paddedWidth && lv.h * stride === f.paddedHeight;
  if (!consistent || !Number.isInteger(Math.log2(stride))) {
    throw new DqcError(
      'BAD_HEADER',
      `${where}: map ${lv.w}×${lv.h} does not tile the padded image ${f.paddedWidth}×${f.paddedHeight} with one power-of-two stride`,
    );
  }
  return stride;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}
