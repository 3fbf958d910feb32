/**
 * Seeded mutations of valid .dqc files for the fuzzing suite (test/core/fuzz.test.ts,
 * test/node/hardening.test.ts, cli/test/hardening.test.ts and `npm run fuzz`).
 *
 * Each mutation says whether it re-established the checksums it disturbed. A file whose bytes
 * changed without that must be rejected by a full decode (every byte of a .dqc file is covered
 * by a CRC, a length or the trailing-data check); a file with fixed checksums may decode — to
 * whatever indices its streams now say — and must otherwise be rejected cleanly.
 */
import { crc32 } from '../../src/index.js';
import type { Rand } from '../synthetic.js';

export interface Mutant {
  /** Mutation name (for the per-kind counts). */
  kind: string;
  bytes: Uint8Array;
  /** True when every checksum the mutation disturbed was recomputed, so decoding may succeed. */
  checksumsFixed: boolean;
}

/** Where things are in a valid file (mutators only parse the valid base files). */
interface Layout {
  headerLength: number;
  fpLength: number;
  levels: { record: number; start: number; length: number }[];
  /** End of the level streams (= start of the alpha section, if any). */
  streamsEnd: number;
}

export function layout(file: Uint8Array): Layout {
  const v = view(file);
  const headerLength = v.getUint16(6, true);
  const fpLength = file[11];
  const levels: Layout['levels'] = [];
  let start = headerLength;
  for (let i = 0; i < file[9]; i++) {
    const record = 32 + fpLength + 22 * i;
    const length = v.getUint32(record + 14, true);
    levels.push({ record, start, length });
    start += length;
  }
  return { headerLength, fpLength, levels, streamsEnd: start };
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

const int = (rand: Rand, n: number): number => Math.floor(rand() * n);
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)];

/** Values that tend to break parsers: bounds, powers of two, off-by-ones. */
function interesting(rand: Rand, bytes: 1 | 2 | 4): number {
  const max = 2 ** (8 * bytes) - 1;
  const p = 2 ** int(rand, 8 * bytes);
  return (pick(rand, [0, 1, 2, max, max - 1, Math.floor(max / 2), Math.floor(max / 2) + 1, p, p - 1, p + 1, int(rand, max + 1)]) & max) >>> 0;
}

function randomBytes(rand: Rand, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => int(rand, 256));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Recompute the header CRC where a reader will look for it (at headerLength − 4), if that is inside the file. */
export function fixHeaderCrc(b: Uint8Array): Uint8Array {
  const hl = b.length >= 8 ? view(b).getUint16(6, true) : 0;
  if (hl >= 8 && hl <= b.length) view(b).setUint32(hl - 4, crc32(b, 0, hl - 4), true);
  return b;
}

/** Replace level i's stream, fixing its length and CRC in the header and the header CRC. */
export function replaceStream(file: Uint8Array, i: number, stream: Uint8Array): Uint8Array {
  const lay = layout(file);
  const lv = lay.levels[i];
  const out = concat(file.subarray(0, lv.start), stream, file.subarray(lv.start + lv.length));
  view(out).setUint32(lv.record + 14, stream.length, true);
  view(out).setUint32(lv.record + 18, crc32(stream), true);
  return fixHeaderCrc(out);
}

type Mutator = (file: Uint8Array, rand: Rand, donor: Uint8Array) => Mutant | null;

const truncate: Mutator = (f, rand) => {
  // Half of the cuts land in the header, where the parser has the most decisions to make.
  const hl = layout(f).headerLength;
  const n = rand() < 0.5 ? int(rand, hl + 1) : int(rand, f.length);
  return { kind: 'truncate', bytes: f.slice(0, n), checksumsFixed: false };
};

const bitFlips: Mutator = (f, rand) => {
  const b = f.slice();
  for (let k = 1 + int(rand, 8); k > 0; k--) b[int(rand, b.length)] ^= 1 << int(rand, 8);
  return { kind: 'bit-flips', bytes: b, checksumsFixed: false };
};

const byteEdits: Mutator = (f, rand) => {
  const b = f.slice();
  for (let k = 1 + int(rand, 4); k > 0; k--) b[int(rand, b.length)] = interesting(rand, 1);
  return { kind: 'byte-edits', bytes: b, checksumsFixed: false };
};

const insertDelete: Mutator = (f, rand) => {
  const at = int(rand, f.length + 1);
  if (rand() < 0.5) return { kind: 'insert-bytes', bytes: concat(f.subarray(0, at), randomBytes(rand, 1 + int(rand, 16)), f.subarray(at)), checksumsFixed: false };
  const n = 1 + int(rand, Math.max(1, Math.min(64, f.length - at)));
  return { kind: 'delete-bytes', bytes: concat(f.subarray(0, at), f.subarray(at + n)), checksumsFixed: false };
};

const append: Mutator = (f, rand) => ({ kind: 'trailing-bytes', bytes: concat(f, randomBytes(rand, 1 + int(rand, 64))), checksumsFixed: false });

const noise: Mutator = (_f, rand) => {
  const body = randomBytes(rand, int(rand, 400));
  if (rand() < 0.5) return { kind: 'random-bytes', bytes: body, checksumsFixed: false };
  // Past the magic and version, so the random part reaches the header-length and CRC checks.
  const head = Uint8Array.of(0x44, 0x51, 0x43, 0x31, 1, 0, int(rand, 256), int(rand, 2));
  return { kind: 'random-after-magic', bytes: concat(head, body), checksumsFixed: false };
};

const rawSplice: Mutator = (f, rand, donor) => {
  const bytes = concat(f.subarray(0, int(rand, f.length + 1)), donor.subarray(int(rand, donor.length + 1)));
  return { kind: 'splice-files', bytes, checksumsFixed: false };
};

/** Header fields as (offset, size); level fields are relative to a level record. */
const FIXED_FIELDS: [number, 1 | 2 | 4][] = [[4, 2], [6, 2], [8, 1], [9, 1], [10, 1], [11, 1], [12, 4], [16, 4], [20, 4], [24, 4], [28, 4]];
const LEVEL_FIELDS: [number, 1 | 2 | 4][] = [[0, 2], [2, 4], [6, 4], [10, 4], [14, 4], [18, 4]];

const headerField: Mutator = (f, rand) => {
  const lay = layout(f);
  const b = f.slice();
  const v = view(b);
  const [off, size] = rand() < 0.5 ? pick(rand, FIXED_FIELDS) : ((lf) => [pick(rand, lay.levels).record + lf[0], lf[1]] as const)(pick(rand, LEVEL_FIELDS));
  const value = interesting(rand, size);
  if (size === 1) v.setUint8(off, value);
  else if (size === 2) v.setUint16(off, value, true);
  else v.setUint32(off, value, true);
  return { kind: 'header-field', bytes: fixHeaderCrc(b), checksumsFixed: true };
};

const streamGarble: Mutator = (f, rand) => {
  const lay = layout(f);
  const i = int(rand, lay.levels.length);
  const { start, length } = lay.levels[i];
  let s: Uint8Array;
  if (length > 0 && rand() < 0.6) {
    s = f.slice(start, start + length);
    for (let k = 1 + int(rand, 4); k > 0; k--) s[int(rand, s.length)] ^= 1 << int(rand, 8);
  } else {
    s = randomBytes(rand, int(rand, 2 * length + 8));
  }
  return { kind: 'stream-garbled', bytes: replaceStream(f, i, s), checksumsFixed: true };
};

const streamSplice: Mutator = (f, rand, donor) => {
  const d = layout(donor);
  const src = pick(rand, d.levels);
  const i = int(rand, layout(f).levels.length);
  return { kind: 'stream-spliced', bytes: replaceStream(f, i, donor.slice(src.start, src.start + src.length)), checksumsFixed: true };
};

/** Another model's fingerprint: same length (in place) or another length (header rebuilt). */
const fingerprint: Mutator = (f, rand) => {
  const lay = layout(f);
  const fpLength = rand() < 0.5 ? lay.fpLength : 1 + int(rand, 128);
  const fp = Uint8Array.from({ length: fpLength }, () => 0x21 + int(rand, 94));
  const head = concat(f.subarray(0, 32), fp, f.subarray(32 + lay.fpLength, lay.headerLength));
  view(head).setUint16(6, head.length, true);
  head[11] = fpLength;
  const bytes = fixHeaderCrc(concat(head, f.subarray(lay.headerLength)));
  return { kind: 'wrong-fingerprint', bytes, checksumsFixed: true };
};

const tablesCrc: Mutator = (f, rand) => {
  const b = f.slice();
  view(b).setUint32(28, interesting(rand, 4), true);
  return { kind: 'wrong-tables-crc', bytes: fixHeaderCrc(b), checksumsFixed: true };
};

/**
 * Every size field scaled by 2^k with the shapes kept consistent: a tiny file that claims a
 * huge image. Small k decode (streams read as zeros past their end); large k must be refused
 * by the size limits before anything is allocated.
 */
const grow: Mutator = (f, rand) => {
  const lay = layout(f);
  const b = f.slice();
  const v = view(b);
  const k = 1 + int(rand, 14);
  const scale = (off: number): void => v.setUint32(off, Math.min(0xffffffff, v.getUint32(off, true) * 2 ** k), true);
  for (const off of [12, 16, 20, 24]) scale(off);
  for (const lv of lay.levels) {
    scale(lv.record + 2);
    scale(lv.record + 6);
  }
  return { kind: `grow-size`, bytes: fixHeaderCrc(b), checksumsFixed: true };
};

/** A new crop inside (or outside) the padded size. */
const cropSize: Mutator = (f, rand) => {
  const b = f.slice();
  const v = view(b);
  const pw = v.getUint32(20, true);
  const ph = v.getUint32(24, true);
  v.setUint32(12, 1 + int(rand, pw + 2), true);
  v.setUint32(16, 1 + int(rand, ph + 2), true);
  return { kind: 'crop-size', bytes: fixHeaderCrc(b), checksumsFixed: true };
};

/** The alpha section (channels 2 or 4): garbled payload with a fixed CRC, or a bad length. */
const alpha: Mutator = (f, rand) => {
  if (f[8] !== 2 && f[8] !== 4) return null;
  const start = layout(f).streamsEnd;
  const b = f.slice();
  const v = view(b);
  if (rand() < 0.3) {
    v.setUint32(start, interesting(rand, 4), true);
    return { kind: 'alpha-length', bytes: b, checksumsFixed: false };
  }
  const n = v.getUint32(start, true);
  const payload = rand() < 0.5 ? randomBytes(rand, 1 + int(rand, 2 * n + 4)) : b.slice(start + 8, start + 8 + n);
  if (rand() < 0.5) payload[0] = int(rand, 4); // method byte: constant, adaptive or unknown
  for (let k = int(rand, 4); k > 0; k--) payload[int(rand, payload.length)] ^= 1 << int(rand, 8);
  const prefix = new Uint8Array(8);
  view(prefix).setUint32(0, payload.length, true);
  view(prefix).setUint32(4, crc32(payload), true);
  return { kind: 'alpha-garbled', bytes: concat(b.subarray(0, start), prefix, payload), checksumsFixed: true };
};

const identity: Mutator = (f) => ({ kind: 'unchanged', bytes: f.slice(), checksumsFixed: true });

/** Mutators with weights (how often each is drawn). */
const MUTATORS: [Mutator, number][] = [
  [truncate, 10],
  [bitFlips, 14],
  [byteEdits, 8],
  [insertDelete, 6],
  [append, 3],
  [noise, 6],
  [rawSplice, 5],
  [headerField, 16],
  [streamGarble, 12],
  [streamSplice, 6],
  [fingerprint, 4],
  [tablesCrc, 2],
  [grow, 5],
  [cropSize, 3],
  [alpha, 6],
  [identity, 1],
];
const TOTAL_WEIGHT = MUTATORS.reduce((n, [, w]) => n + w, 0);

/** One seeded mutation of `file` (`donor` is another valid file, for splices). */
export function mutate(file: Uint8Array, donor: Uint8Array, rand: Rand): Mutant {
  for (;;) {
    let r = rand() * TOTAL_WEIGHT;
    const [m] = MUTATORS.find(([, w]) => (r -= w) < 0) ?? MUTATORS[0];
    const out = m(file, rand, donor);
    if (out) return out;
  }
}
