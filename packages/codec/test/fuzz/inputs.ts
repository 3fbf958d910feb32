/**
 * Input-type and size fuzzing (issue 16): seeded cases of inputs that are not what they claim to
 * be, run through the Node API's file entry points (DqCodec.decodeFile, encodeFile, readTokens +
 * detokenizeFile). Kinds: .dqc files followed by up to 8 GiB of (sparse) junk, with stream or
 * alpha lengths edited, cut short; images of every accepted format cut short (with and without an
 * end marker), with edited dimensions, grown past the image cap (sparse), animated or
 * multi-page; SVG documents (filter bombs, disguised as .png, with prologs, BOMs and comments),
 * PDF, gzip, random bytes, a .dqc named .png; special files (FIFOs, /dev/zero, /dev/null,
 * directories, symlink loops, broken links, empty files); token files grown past their cap or
 * declaring huge shapes without the data.
 *
 * Rules: a case is accepted (written) or refused with a user error (DqcError, FileError,
 * ImageError) in one short line, within the time limit, leaving no output behind when refused;
 * kinds that must be refused (junk after a .dqc, SVG, special files, oversized files, …) are.
 * Cases are a pure function of (seed, index), so a failure re-runs alone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { crc32, detokenizeFile, isDqcError, maxImageBytes, maxTokenJsonBytes, readHeader, type DqCodec } from '../../src/index.js';
import { caseRand, FuzzFailure } from '../../../core/test/fuzz/harness.js';
import type { Rand } from '../../../core/test/synthetic.js';
import { alphaPlane, photoPixels, png, rgba } from '../node/helpers.js';

/** What the entry point is: decodeFile (.dqc), encodeFile (image) or detokenizeFile (tokens). */
type Entry = 'decode' | 'encode' | 'detokenize';

export interface InputCase {
  index: number;
  kind: string;
  entry: Entry;
  /** Path of the input (written by the generator). */
  input: string;
  /** True when any outcome but a refusal breaks the rules. */
  mustRefuse: boolean;
  /** A note the case must carry when accepted (multi-frame), if any. */
  note?: RegExp;
}

export interface InputBase {
  /** A valid RGB and a valid RGBA .dqc of the model under test. */
  dqc: Uint8Array;
  dqcAlpha: Uint8Array;
  /** A valid token file (JSON) of the model under test. */
  tokens: string;
}

const USER_ERRORS = new Set(['DqcError', 'FileError', 'ImageError']);

function int(rand: Rand, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)];
}

function fixCrc(b: Buffer): Buffer {
  const hl = b.readUInt16LE(6);
  b.writeUInt32LE(crc32(b, 0, hl - 4), hl - 4);
  return b;
}

/** A random photo-like image in a random accepted format (and its encoded bytes). */
async function randomImage(rand: Rand): Promise<{ format: string; bytes: Buffer }> {
  const w = int(rand, 1, 96);
  const h = int(rand, 1, 96);
  const alpha = rand() < 0.25;
  const px = alpha ? rgba(photoPixels(w, h, 3, int(rand, 1, 99)), alphaPlane(w, h)) : photoPixels(w, h, 3, int(rand, 1, 99));
  const img = sharp(Buffer.from(await png(px, w, h, alpha ? 4 : 3)));
  const format = pick(rand, ['png', 'jpeg', 'webp', 'gif', 'tiff', 'avif'] as const);
  return { format, bytes: await img.toFormat(format).toBuffer() };
}

function svgDocument(rand: Rand): string {
  const side = pick(rand, [1, 16, 300, 4000, 30000]);
  const filters = int(rand, 0, 20);
  const defs = Array.from({ length: filters }, (_, i) => `<filter id="f${i}"><feGaussianBlur stdDeviation="${int(rand, 1, 400)}"/><feMorphology radius="${int(rand, 1, 300)}"/></filter>`).join('');
  const open = Array.from({ length: filters }, (_, i) => `<g filter="url(#f${i})">`).join('');
  const body = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">${defs}${open}<rect width="${side}" height="${side}"/>${'</g>'.repeat(filters)}</svg>`;
  return pick(rand, ['', '<?xml version="1.0"?>\n', '\ufeff', '  \n', '<!-- generated -->', '<!DOCTYPE svg>']) + body;
}

const KINDS = [
  'dqc-trailing',
  'dqc-prefix',
  'dqc-stream-length',
  'dqc-alpha-length',
  'special-file',
  'image-truncated',
  'image-dimensions',
  'image-oversize',
  'svg',
  'foreign',
  'multi-frame',
  'tokens-oversize',
  'tokens-shape',
] as const;

/** Write case `index`'s input into `dir` (a fresh directory per case) and describe it. */
export async function makeInputCase(base: InputBase, seed: number, index: number, dir: string, limits: { maxPixels: number; maxIndices: number }): Promise<InputCase> {
  const rand = caseRand(seed ^ 0x16, index);
  const kind = pick(rand, KINDS);
  const c = (entry: Entry, input: string, mustRefuse: boolean, note?: RegExp): InputCase => ({ index, kind, entry, input, mustRefuse, note });
  const file = (name: string, data: Uint8Array | string): string => {
    writeFileSync(join(dir, name), data);
    return join(dir, name);
  };
  switch (kind) {
    case 'dqc-trailing': {
      const src = rand() < 0.3 ? base.dqcAlpha : base.dqc;
      const p = file('in.dqc', src);
      truncateSync(p, src.length + 2 ** int(rand, 0, 33)); // 1 byte to 8 GiB of zeros, sparse
      return c('decode', p, true);
    }
    case 'dqc-prefix': {
      const src = rand() < 0.3 ? base.dqcAlpha : base.dqc;
      return c('decode', file('in.dqc', src.subarray(0, int(rand, 0, src.length - 1))), true);
    }
    case 'dqc-stream-length': {
      const b = Buffer.from(base.dqc);
      const h = readHeader(b);
      const level = int(rand, 0, h.levels.length - 1);
      b.writeUInt32LE(pick(rand, [0xffffffff, 2 ** int(rand, 0, 31), h.levels[level].streamLength + int(rand, -3, 3) >>> 0]), 32 + h.fingerprint.length + 22 * level + 14);
      const p = file('in.dqc', fixCrc(b));
      if (rand() < 0.5) truncateSync(p, b.length + 2 ** int(rand, 0, 32));
      return c('decode', p, false);
    }
    case 'dqc-alpha-length': {
      const b = Buffer.from(base.dqcAlpha);
      const h = readHeader(b);
      b.writeUInt32LE(pick(rand, [0xffffffff, 2 ** int(rand, 0, 31), 0]), h.totalLength);
      const p = file('in.dqc', b);
      if (rand() < 0.5) truncateSync(p, b.length + 2 ** int(rand, 0, 32));
      return c('decode', p, true);
    }
    case 'special-file': {
      const entry = pick(rand, ['decode', 'encode', 'detokenize'] as const);
      const name = entry === 'decode' ? 'in.dqc' : entry === 'encode' ? 'in.png' : 'in.json';
      const p = join(dir, name);
      const what = pick(rand, ['fifo', '/dev/zero', '/dev/null', '/dev/urandom', 'directory', 'loop', 'broken', 'empty']);
      if (what === 'fifo') execFileSync('mkfifo', [p]);
      else if (what.startsWith('/dev/')) symlinkSync(what, p);
      else if (what === 'directory') mkdirSync(p);
      else if (what === 'loop') {
        symlinkSync(join(dir, 'other'), p);
        symlinkSync(p, join(dir, 'other'));
      } else if (what === 'broken') symlinkSync(join(dir, 'nowhere'), p);
      else writeFileSync(p, '');
      return { ...c(entry, p, true), kind: `special-file (${what})` };
    }
    case 'image-truncated': {
      const { format, bytes } = await randomImage(rand);
      const cut = int(rand, 0, bytes.length - 1);
      const tail = format === 'jpeg' && rand() < 0.5 ? Buffer.from([0xff, 0xd9]) : Buffer.alloc(0);
      // Cut short: the image data is incomplete; a cut inside trailing metadata may still decode.
      return { ...c('encode', file('in.png', Buffer.concat([bytes.subarray(0, cut), tail])), false), kind: `image-truncated (${format})` };
    }
    case 'image-dimensions': {
      const [w, h] = [int(rand, 1, 40), int(rand, 1, 40)];
      const b = Buffer.from(await png(photoPixels(w, h), w, h, 3));
      b.writeUInt32BE(pick(rand, [1, int(rand, 1, 70000), 0x7fffffff]), 16);
      b.writeUInt32BE(pick(rand, [1, int(rand, 1, 70000), 0x7fffffff]), 20);
      b.writeUInt32BE(crc32(b.subarray(12, 29)), 29);
      return c('encode', file('in.png', b), false);
    }
    case 'image-oversize': {
      const { bytes } = await randomImage(rand);
      const p = file('in.png', bytes);
      truncateSync(p, maxImageBytes(limits.maxPixels) + 2 ** int(rand, 0, 33));
      return c('encode', p, true);
    }
    case 'svg':
      return c('encode', file(rand() < 0.5 ? 'in.svg' : 'in.png', svgDocument(rand)), true);
    case 'foreign': {
      const what = pick(rand, ['pdf', 'gzip', 'random', 'dqc-as-image', 'image-as-dqc', 'text']);
      if (what === 'image-as-dqc') return { ...c('decode', file('in.dqc', (await randomImage(rand)).bytes), true), kind: `foreign (${what})` };
      const data =
        what === 'pdf'
          ? '%PDF-1.7\n1 0 obj'
          : what === 'gzip'
            ? Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])
            : what === 'random'
              ? Buffer.from(Array.from({ length: int(rand, 1, 4096) }, () => int(rand, 0, 255)))
              : what === 'dqc-as-image'
                ? base.dqc
                : 'hello, world';
      return { ...c('encode', file('in.png', data), true), kind: `foreign (${what})` };
    }
    case 'multi-frame': {
      const frames = int(rand, 2, 4);
      const w = int(rand, 4, 48);
      const h = int(rand, 4, 48);
      const imgs = await Promise.all(Array.from({ length: frames }, (_, i) => png(photoPixels(w, h, 3, i + 1), w, h, 3)));
      const format = pick(rand, ['gif', 'webp', 'tiff'] as const);
      const bytes = await sharp(imgs, { join: { animated: true } }).toFormat(format).toBuffer();
      return { ...c('encode', file(`in.${format}`, bytes), false, new RegExp(`the image has ${frames} (frames|pages)`)), kind: `multi-frame (${format})` };
    }
    case 'tokens-oversize': {
      const p = file('in.json', base.tokens);
      truncateSync(p, maxTokenJsonBytes(limits.maxIndices) + 2 ** int(rand, 0, 32));
      return c('detokenize', p, true);
    }
    case 'tokens-shape': {
      const doc = JSON.parse(base.tokens) as { image: Record<string, number>; levels: Record<string, unknown>[] };
      const side = 8 * int(rand, 1, 2048);
      doc.image = { width: side, height: side, channels: 3, paddedWidth: side, paddedHeight: side };
      doc.levels = doc.levels.map((lv) => ({ ...lv, h: side / (lv.stride as number), w: side / (lv.stride as number), indices: pick(rand, [[], [[]], lv.indices]) }));
      return c('detokenize', file('in.json', JSON.stringify(doc)), true);
    }
  }
}

/** Run one case: 'accepted' or the refusal reason; a FuzzFailure when a rule is broken. */
export async function runInputCase(codec: DqCodec, c: InputCase, dir: string, limitMs: number): Promise<string> {
  const out = join(dir, c.entry === 'encode' ? 'out.dqc' : 'out.png');
  let outcome: string;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFailure(`input case ${c.index} (${c.kind}) did not finish within ${limitMs} ms`)), limitMs);
  });
  try {
    const work = async (): Promise<string[]> => {
      if (c.entry === 'decode') return (await codec.decodeFile(c.input, out), []);
      if (c.entry === 'encode') return (await codec.encodeFile(c.input, out)).notes;
      return (await detokenizeFile(codec, c.input, out), []);
    };
    const notes = await Promise.race([work(), deadline]);
    if (c.mustRefuse) throw new FuzzFailure(`input case ${c.index} (${c.kind}) was accepted but must be refused`);
    if (c.note && !notes.some((n) => c.note!.test(n))) throw new FuzzFailure(`input case ${c.index} (${c.kind}) was accepted without its note (${notes.join('; ')})`);
    outcome = 'accepted';
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    const e = err instanceof Error ? err : null;
    if (!e || !USER_ERRORS.has(e.name)) throw new FuzzFailure(`input case ${c.index} (${c.kind}) crashed: ${e ? `${e.name}: ${e.message}\n${e.stack}` : String(err)}`);
    if (e.message.length === 0 || e.message.length > 600 || e.message.includes('\n')) throw new FuzzFailure(`input case ${c.index} (${c.kind}): message is not one short line: ${JSON.stringify(e.message)}`);
    if (readdirSync(dir).some((f) => f.startsWith('out.') || f.startsWith('.out.'))) throw new FuzzFailure(`input case ${c.index} (${c.kind}) was refused but left an output behind`);
    outcome = isDqcError(e) ? e.code : e.name;
  } finally {
    clearTimeout(timer);
  }
  return outcome;
}

/** Counts per kind and outcome, the slowest case, and the process's peak RSS. */
export class InputStats {
  readonly byKind = new Map<string, Map<string, number>>();
  cases = 0;
  slowestMs = 0;

  add(c: InputCase, outcome: string, ms: number): void {
    this.cases++;
    this.slowestMs = Math.max(this.slowestMs, ms);
    const kind = c.kind.replace(/ \(.*\)$/, '');
    const m = this.byKind.get(kind) ?? new Map<string, number>();
    m.set(outcome, (m.get(outcome) ?? 0) + 1);
    this.byKind.set(kind, m);
  }

  line(): string {
    const outcomes = new Map<string, number>();
    for (const m of this.byKind.values()) for (const [o, n] of m) outcomes.set(o, (outcomes.get(o) ?? 0) + n);
    const list = [...outcomes].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ${n}`).join(', ');
    return `${this.cases} input cases: ${list}; slowest ${this.slowestMs.toFixed(1)} ms`;
  }

  table(): string {
    return [...this.byKind]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([k, m]) => `${k}: ${[...m].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ${n}`).join(', ')}`)
      .join('\n');
  }

  toJSON(): object {
    return { cases: this.cases, slowestMs: this.slowestMs, byKind: Object.fromEntries([...this.byKind].map(([k, m]) => [k, Object.fromEntries(m)])) };
  }
}

/** The base files: a valid RGB and RGBA .dqc and a token file, made by `codec`. */
export async function inputBase(codec: DqCodec): Promise<InputBase> {
  const rgb = await png(photoPixels(61, 45), 61, 45, 3);
  const t = await codec.tokens(rgb);
  const { makeTokenSet, tokensToJson } = await import('../../src/index.js');
  return {
    dqc: await codec.encode(rgb),
    dqcAlpha: await codec.encode(await png(rgba(photoPixels(40, 28), alphaPlane(40, 28)), 40, 28, 4)),
    tokens: tokensToJson(makeTokenSet(codec.manifest, t, t.levels)),
  };
}

export interface RunInputOptions {
  limitMs?: number;
  onCase?: (c: InputCase) => void | Promise<void>;
  /**
   * Keep the inputs of cases for the CLI: those whose name a directory search picks up
   * (in.dqc for decode, in.png/.gif/.webp/.tiff for encode) are moved to `keep` as
   * case-<index>.<ext>, with their library outcome.
   */
  keep?: { dir: string; outcomes: Map<string, string> };
}

/** Generate and run cases [from, from + count) in fresh directories under `root`. */
export async function runInputCases(codec: DqCodec, base: InputBase, seed: number, from: number, count: number, root: string, opts: RunInputOptions = {}): Promise<InputStats> {
  const stats = new InputStats();
  for (let i = from; i < from + count; i++) {
    const dir = join(root, `case-${i}`);
    mkdirSync(dir, { recursive: true });
    const c = await makeInputCase(base, seed, i, dir, codec.limits);
    await opts.onCase?.(c);
    const t0 = performance.now();
    const outcome = await runInputCase(codec, c, dir, opts.limitMs ?? 20_000);
    stats.add(c, outcome, performance.now() - t0);
    const ext = extname(c.input);
    if (opts.keep && c.entry !== 'detokenize' && ['.dqc', '.png', '.gif', '.webp', '.tiff'].includes(ext) && !/loop|broken|directory/.test(c.kind)) {
      const name = `case-${String(i).padStart(6, '0')}${ext}`;
      renameSync(c.input, join(opts.keep.dir, name));
      opts.keep.outcomes.set(name, outcome);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return stats;
}
