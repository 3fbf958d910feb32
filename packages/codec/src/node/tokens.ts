/**
 * Token files on disk (the formats are in core/tokens.ts): an image's code indices written for ML
 * work, and read back and decoded into an image.
 *
 * Layouts: "json" writes one file; "npy" writes a JSON sidecar `<stem>.tokens.json` (or whatever
 * name is given) plus one `<stem>.level<i>.npy` per level next to it, level 0 = top. Every file
 * is written atomically, the sidecar last, so a sidecar never names an array that is not there.
 */
import { basename, dirname, join } from 'node:path';
import { checkTokensForModel, DqcError, encodeIndices, encodingTables, isCoefficientTables, isPriorTables, makeTokenSet, npyFileName, parseTokens, tokensSidecarJson, tokensToJson, writeNpy, type TokenSet } from '@dqcodec/core';
import type { DecodedImage, DecodeOptions, DqCodec, EncodeOptions, FileOptions } from './codec.js';
import { checkNotSameFile, humanBytes, readInputFile, writeFileAtomic } from './files.js';
import { maxNpyBytes, maxTokenJsonBytes, TOKEN_JSON_BYTES_PER_INDEX } from './inputs.js';
import { encodeImageBuffer, outputFormat } from './image.js';

/** Decoded tokens: like DecodedImage, without the header of a .dqc file (there is none). */
export type DetokenizedImage = Omit<DecodedImage, 'header'>;

export const TOKEN_FORMATS = ['json', 'npy'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];

export interface WriteTokensOptions extends FileOptions {
  /** Default 'json'. */
  format?: TokenFormat;
}

/**
 * An image's tokens (path or encoded bytes), with the model's name and fingerprint. With a model
 * family, `opts.quality` picks the member (default: the codec's own quality); the tokens record
 * that member's fingerprint, so detokenize finds it again.
 */
export async function imageTokens(codec: DqCodec, input: string | Uint8Array, opts: EncodeOptions = {}): Promise<TokenSet> {
  const c = await codec.member(opts.quality);
  const t = await c.tokens(input, { ...opts, quality: undefined });
  return makeTokenSet(c.manifest, t, t.levels);
}

/** `photo.tokens.json` → `photo`: the stem the npy layout names its arrays after. */
export function tokenStem(path: string): string {
  return basename(path).replace(/\.json$/i, '').replace(/\.tokens$/i, '');
}

/**
 * Write tokens to `path`: the whole document ('json'), or a sidecar at `path` plus one .npy per
 * level beside it ('npy'). Returns the files written, the document last.
 */
export async function writeTokens(set: TokenSet, path: string, opts: WriteTokensOptions = {}): Promise<string[]> {
  const write = { overwrite: opts.overwrite, force: opts.force };
  if ((opts.format ?? 'json') === 'json') {
    await writeFileAtomic(path, tokensToJson(set), write);
    return [path];
  }
  const names = set.levels.map((_, i) => npyFileName(tokenStem(path), i));
  const written: string[] = [];
  for (const [i, lv] of set.levels.entries()) {
    const file = join(dirname(path), names[i]);
    await writeFileAtomic(file, writeNpy(lv.indices, [lv.M, lv.h, lv.w]), write);
    written.push(file);
  }
  await writeFileAtomic(path, tokensSidecarJson(set, names), write);
  return [...written, path];
}

export interface ReadTokensOptions {
  /**
   * The most indices the tokens may hold (default 2^28, the format's limit; DqCodec.limits.maxIndices
   * for what a codec decodes). It caps the document at 24 bytes per index plus 1 MiB (and at the
   * longest string JavaScript can hold) and each .npy array at 8 bytes per index plus 64 KiB, so
   * a file is refused from its size before it is read.
   */
  maxIndices?: number;
}

/** Read a token file of either layout; a sidecar's arrays are read from its directory. Bounded (ReadTokensOptions). */
export async function readTokens(path: string, opts: ReadTokensOptions = {}): Promise<TokenSet> {
  const maxIndices = opts.maxIndices ?? 2 ** 28;
  const cap = maxTokenJsonBytes(maxIndices);
  const text = (
    await readInputFile(path, {
      maxBytes: cap,
      tooBig: (n) =>
        `${path} is ${humanBytes(n)}, more than a token file of at most ${maxIndices} indices can need (${humanBytes(cap)}: ${TOKEN_JSON_BYTES_PER_INDEX} bytes per index, and JSON text is read whole); for larger images use --format npy`,
    })
  ).toString('utf8');
  const npyCap = maxNpyBytes(maxIndices);
  return parseTokens(text, path, async (file) => {
    const p = join(dirname(path), file);
    return readInputFile(p, { maxBytes: npyCap, tooBig: (n) => `${p} is ${humanBytes(n)}, more than an array of at most ${maxIndices} indices can need (${humanBytes(npyCap)})` });
  });
}

/**
 * Tokens → image through the model's decoder. The tokens are packed into an in-memory .dqc
 * (static entropy coding, colour channels only: tokens hold no alpha) and run through
 * DqCodec.decode, so detokenizing takes exactly the path that decoding a .dqc file takes and the
 * two give identical pixels. With a model family, the member whose fingerprint the tokens record
 * decodes them. `name` prefixes error messages.
 */
export async function detokenize(family: DqCodec, set: TokenSet, opts: DecodeOptions & { name?: string } = {}): Promise<DetokenizedImage> {
  const codec = await family.forFingerprint(set.model.fingerprint, `${opts.name ?? 'tokens'}: tokens were made`);
  checkTokensForModel(set, codec.manifest, opts.name);
  const { width, height, channels, paddedWidth, paddedHeight } = set.image;
  // The codec's pixel limit, before the indices are packed (decode() would refuse it only after).
  if (paddedWidth * paddedHeight > codec.limits.maxPixels) {
    throw new DqcError(
      'ABSURD_SIZE',
      `${opts.name ?? 'tokens'}: padded image size ${paddedWidth}×${paddedHeight} exceeds the limit of ${codec.limits.maxPixels} pixels; raise it with --max-pixels (library: the maxPixels option) if you have the memory`,
    );
  }
  const meta = { fingerprint: set.model.fingerprint, width, height, channels: channels <= 2 ? 1 : 3, paddedWidth, paddedHeight };
  // 'static' is the cheapest method for an in-memory round trip; a learned prior and a transform
  // model's coefficient tables have one method each.
  const e = codec.manifest.entropy;
  const { tables, method } = encodingTables(codec.manifest, isPriorTables(e) ? 'conditional' : isCoefficientTables(e) ? 'coefficient' : 'static');
  const bytes = encodeIndices(set.levels, meta, tables, { method });
  const { header: _header, ...image } = await codec.decode(bytes, { levels: opts.levels });
  return image;
}

export interface TokensFileResult {
  output: string;
  /** Every file written (npy arrays, then the document). */
  files: string[];
  tokens: TokenSet;
}

/** Image file → token file(s). */
export async function tokensFile(codec: DqCodec, input: string, output: string, opts: WriteTokensOptions & EncodeOptions = {}): Promise<TokensFileResult> {
  await checkNotSameFile(input, output);
  const tokens = await imageTokens(codec, input, opts);
  const files = await writeTokens(tokens, output, opts);
  return { output, files, tokens };
}

export interface DetokenizeFileResult {
  output: string;
  width: number;
  height: number;
  channels: 1 | 3;
  levels: number;
  totalLevels: number;
  size: number;
}

/** Token file → image file (format from `format` or the extension; written atomically). */
export async function detokenizeFile(
  codec: DqCodec,
  input: string,
  output: string,
  opts: DecodeOptions & FileOptions & { format?: string; quality?: number } = {},
): Promise<DetokenizeFileResult> {
  const format = outputFormat(output, opts.format);
  await checkNotSameFile(input, output);
  const img = await detokenize(codec, await readTokens(input, { maxIndices: codec.limits.maxIndices }), { levels: opts.levels, name: input });
  const encoded = await encodeImageBuffer(img.pixels, img.width, img.height, img.channels, format, { quality: opts.quality });
  await writeFileAtomic(output, encoded, { overwrite: opts.overwrite, force: opts.force });
  return { output, width: img.width, height: img.height, channels: img.channels as 1 | 3, levels: img.levels, totalLevels: img.totalLevels, size: encoded.length };
}
