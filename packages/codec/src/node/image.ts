/**
 * Image input/output through sharp. What the model sees is always 8-bit sRGB:
 *
 * - EXIF orientation is applied (the stored size is the upright size); the orientation tag is
 *   not kept.
 * - Other colour spaces (CMYK, embedded ICC profiles, …) are converted to sRGB; ICC profiles are
 *   not kept. 16-bit samples are reduced to 8 bits. Each conversion adds a note.
 * - Greyscale sources are fed to the model as R = G = B and recorded as 1 channel (2 with alpha);
 *   their decoded images are greyscale again.
 * - Alpha is never dropped silently: it is kept losslessly in the .dqc alpha section, unless the
 *   caller asks to flatten it onto a background colour.
 *
 * Pixels stay interleaved 8-bit; float tensors are built per tile (tiling.ts), so a large image
 * never exists as a full-size float array.
 */
import { extname } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { readImageFile } from './inputs.js';

/** Bad input image or unsupported output format. */
export class ImageError extends Error {
  override name = 'ImageError';
}

export const INPUT_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'avif', 'tif', 'tiff', 'gif', 'heic', 'heif', 'jp2', 'jxl'] as const;
export const OUTPUT_FORMATS = ['png', 'jpg', 'jpeg', 'webp', 'avif', 'tif', 'tiff'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface SourceImage {
  /** Upright size (after EXIF orientation). */
  width: number;
  height: number;
  /** What the .dqc records: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Colour samples, interleaved: 1 per pixel for grey images, 3 for colour ones. */
  colour: Uint8Array;
  colourChannels: 1 | 3;
  /** Alpha plane (width × height) when the image keeps one. */
  alpha: Uint8Array | null;
  /** Conversions that happened (16-bit reduced, colour space converted, alpha flattened, …). */
  notes: string[];
}

export interface ReadImageOptions {
  /** Refuse images with more pixels than this (default 2^28, the .dqc limit), before decoding any pixel. */
  maxPixels?: number;
  /** The limit applies to the size padded up to a multiple of this (the model's total stride; default 1). */
  padTo?: number;
  /** Composite alpha onto this background (CSS colour, default white when `true`) instead of keeping it. */
  flatten?: boolean | string;
  /**
   * Decode damaged images (a truncated JPEG, corrupt data that the decoder can step over) with a
   * note instead of refusing them. Default false: any decoder warning refuses the image.
   */
  allowCorrupt?: boolean;
  /** Name for messages (default: the path, or "input"). */
  name?: string;
}

/** Formats accepted as input, as sharp names them, with the first bytes that identify each. */
export const ACCEPTED_INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'jp2k', 'jxl'] as const;
const ACCEPTED_LIST = 'PNG, JPEG, WebP, AVIF/HEIF, TIFF, GIF, JPEG 2000, JPEG XL';

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1', 'avif', 'avis']);

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  return b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/**
 * The accepted format whose signature `b` starts with, or a description of what it is instead.
 * Only these are handed to sharp: SVG, PDF and the other formats libvips could load (through
 * librsvg, poppler, ImageMagick, …) never reach a decoder.
 */
export function sniffImageFormat(b: Uint8Array): { format: (typeof ACCEPTED_INPUT_FORMATS)[number] } | { refused: string } {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { format: 'png' };
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { format: 'jpeg' };
  if (startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))) return { format: 'gif' };
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) return { format: 'webp' };
  if (startsWith(b, [0x49, 0x49, 0x2a, 0]) || startsWith(b, [0x4d, 0x4d, 0, 0x2a]) || startsWith(b, [0x49, 0x49, 0x2b, 0]) || startsWith(b, [0x4d, 0x4d, 0, 0x2b])) return { format: 'tiff' };
  if (startsWith(b, ascii('ftyp'), 4) && HEIF_BRANDS.has(String.fromCharCode(...b.subarray(8, 12)))) return { format: 'heif' };
  if (startsWith(b, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]) || startsWith(b, [0xff, 0x4f, 0xff, 0x51])) return { format: 'jp2k' };
  if (startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) return { format: 'jxl' };
  const head = Buffer.from(b.subarray(0, 1024)).toString('latin1').replace(/^\xef\xbb\xbf/, '').trimStart();
  if (/^<(\?xml|svg|!DOCTYPE svg|!--)/i.test(head) || /<svg[\s>]/i.test(head)) return { refused: 'an SVG document (vector images are refused: rendering one can take unbounded time)' };
  if (startsWith(b, [0x1f, 0x8b])) return { refused: 'gzip-compressed data (SVGZ is refused)' };
  if (head.startsWith('%PDF')) return { refused: 'a PDF document' };
  if (startsWith(b, ascii('DQC1'))) return { refused: 'a .dqc file (decode it with `dqcodec decode`)' };
  if (b.length === 0) return { refused: 'not a readable image (the file is empty)' };
  return { refused: 'not a readable image (no signature of an accepted format)' };
}

/** Check a CSS colour the way sharp will parse it; returns it unchanged or throws an ImageError. */
export function checkColour(value: string): string {
  try {
    sharp({ create: { width: 1, height: 1, channels: 3, background: value } });
  } catch {
    throw new ImageError(`"${value}" is not a colour (use a CSS colour such as white, #ffffff or rgb(255, 255, 255))`);
  }
  return value;
}

const DEPTH_BITS: Record<string, string> = { ushort: '16-bit', short: '16-bit', uint: '32-bit', int: '32-bit', float: 'floating-point', double: 'floating-point' };

/**
 * Decode an image file or buffer into 8-bit sRGB (or grey) samples plus an optional alpha plane.
 * Only the formats in ACCEPTED_INPUT_FORMATS are decoded (by their signature, whatever the file
 * name says); damaged data is refused unless `allowCorrupt`; of a multi-frame image (animated
 * GIF or WebP, multi-page TIFF) only the first frame is read, with a note.
 */
export async function readImage(input: string | Uint8Array, opts: ReadImageOptions = {}): Promise<SourceImage> {
  const maxPixels = opts.maxPixels ?? 2 ** 28;
  const name = opts.name ?? (typeof input === 'string' ? input : 'input');
  // A path is read here (bounded, regular files only), so sharp only ever sees checked bytes.
  const bytes = typeof input === 'string' ? await readImageFile(input, maxPixels) : input;
  const sniffed = sniffImageFormat(bytes);
  if ('refused' in sniffed) throw new ImageError(`${name}: ${sniffed.refused}; accepted formats: ${ACCEPTED_LIST}`);
  if (opts.flatten !== undefined && typeof opts.flatten === 'string') checkColour(opts.flatten);
  // The header is read without sharp's pixel limit so that an oversized image gets our message
  // (which names the flag); the pixel pipeline keeps sharp's limit as a second guard. Any
  // decoder warning (truncated or corrupt data) fails the pipeline unless allowCorrupt.
  const open = (limit: number | false, failOn: 'warning' | 'error' | 'none' = 'warning'): Sharp => sharp(bytes, { limitInputPixels: limit, failOn, pages: 1 });
  let meta: Metadata;
  try {
    meta = await open(false, 'error').metadata();
  } catch (err) {
    throw new ImageError(`${name}: not a readable image (${firstLine(err)})`);
  }
  if (!(ACCEPTED_INPUT_FORMATS as readonly string[]).includes(meta.format ?? '')) {
    throw new ImageError(`${name}: ${meta.format ?? 'unknown'} images are not accepted; accepted formats: ${ACCEPTED_LIST}`);
  }
  if (!meta.width || !meta.height) throw new ImageError(`${name}: image has no dimensions`);
  checkPixelLimit(name, meta.width, meta.height, maxPixels, opts.padTo ?? 1);
  const notes: string[] = [];
  const hasAlpha = meta.hasAlpha === true;
  const colourBands = (meta.channels ?? 3) - (hasAlpha ? 1 : 0);
  const grey = colourBands === 1 || meta.space === 'b-w' || meta.space === 'grey16';
  if (meta.depth && DEPTH_BITS[meta.depth]) notes.push(`${DEPTH_BITS[meta.depth]} samples reduced to 8 bits`);
  if (meta.space === 'cmyk') notes.push('CMYK converted to sRGB');
  else if (meta.space && !['srgb', 'b-w', 'rgb', 'rgb16', 'grey16'].includes(meta.space)) notes.push(`colour space ${meta.space} converted to sRGB`);
  if (meta.icc && !iccIsSrgb(meta.icc)) notes.push('embedded ICC profile applied (pixels converted to sRGB; the profile is not kept)');
  if (meta.orientation && meta.orientation > 1) notes.push(`EXIF orientation ${meta.orientation} applied`);
  if (meta.pages && meta.pages > 1) {
    const what = meta.format === 'tiff' || meta.format === 'heif' ? `${meta.pages} pages` : `${meta.pages} frames (an animation)`;
    notes.push(`the image has ${what}: only the first is encoded`);
  }
  const flatten = hasAlpha && opts.flatten !== undefined && opts.flatten !== false;
  if (flatten) notes.push(`alpha flattened onto ${opts.flatten === true ? 'white' : opts.flatten}`);

  const decodePixels = (failOn: 'warning' | 'none'): Promise<{ data: Buffer; info: OutputInfo }> => {
    let pipeline = open(maxPixels, failOn).rotate();
    if (flatten) pipeline = pipeline.flatten({ background: opts.flatten === true ? '#ffffff' : (opts.flatten as string) });
    // sRGB keeps the alpha band (b-w would drop it); grey sources come back with R = G = B.
    return pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  };
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await decodePixels('warning'));
  } catch (err) {
    if (!opts.allowCorrupt) throw new ImageError(`${name}: cannot decode image, the data is damaged or truncated (${firstLine(err)}); --allow-corrupt decodes what is readable`);
    try {
      ({ data, info } = await decodePixels('none'));
    } catch (err2) {
      throw new ImageError(`${name}: cannot decode image (${firstLine(err2)})`);
    }
    notes.push(`damaged image data decoded anyway (${firstLine(err)})`);
  }
  const { width, height } = info;
  const n = width * height;
  const bands = info.channels;
  if (data.length !== n * bands || bands < 3) throw new ImageError(`${name}: unexpected decoded layout (${bands} channels)`);
  const keepAlpha = bands === 4 && !flatten;
  const colourChannels: 1 | 3 = grey ? 1 : 3;
  const alpha = keepAlpha ? new Uint8Array(n) : null;
  if (bands === 3 && colourChannels === 3) {
    // The common case needs no copy.
    return { width, height, channels: 3, colour: new Uint8Array(data.buffer, data.byteOffset, data.length), colourChannels, alpha: null, notes };
  }
  const colour = new Uint8Array(n * colourChannels);
  for (let i = 0, s = 0; i < n; i++, s += bands) {
    if (colourChannels === 1) colour[i] = data[s];
    else {
      colour[3 * i] = data[s];
      colour[3 * i + 1] = data[s + 1];
      colour[3 * i + 2] = data[s + 2];
    }
    if (alpha) alpha[i] = data[s + 3];
  }
  const channels = ((grey ? 1 : 3) + (alpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  return { width, height, channels, colour, colourChannels, alpha, notes };
}

/** Refuse an image whose (padded) size exceeds the pixel limit, before its pixels are decoded. */
function checkPixelLimit(name: string, width: number, height: number, maxPixels: number, padTo: number): void {
  const pw = Math.ceil(width / padTo) * padTo;
  const ph = Math.ceil(height / padTo) * padTo;
  if (pw * ph <= maxPixels) return;
  const padded = pw !== width || ph !== height ? ` (${pw}×${ph} once padded to a multiple of ${padTo})` : '';
  throw new ImageError(
    `${name}: image is ${width}×${height}${padded}, more than the limit of ${maxPixels} pixels; raise it with --max-pixels (library: the maxPixels option) if you have the memory`,
  );
}

/**
 * The model input for one region of the padded image: planar float32 [3, h, w] in [0, 1]. Pixels
 * past the image's right/bottom edge (padding) replicate the last column/row: replicated edges
 * cost fewer bits and leave no seam when cropped away, unlike zeros.
 */
export function regionTensor(img: SourceImage, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  const cc = img.colourChannels;
  const lut = new Float32Array(256).map((_, v) => v / 255);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(y0 + y, img.height - 1);
    const row = sy * img.width;
    for (let x = 0; x < w; x++) {
      const s = (row + Math.min(x0 + x, img.width - 1)) * cc;
      const d = y * w + x;
      if (cc === 1) {
        const v = lut[img.colour[s]];
        out[d] = v;
        out[plane + d] = v;
        out[2 * plane + d] = v;
      } else {
        out[d] = lut[img.colour[s]];
        out[plane + d] = lut[img.colour[s + 1]];
        out[2 * plane + d] = lut[img.colour[s + 2]];
      }
    }
  }
  return out;
}

/** The output format for a path, from its extension (or `format` when given). */
export function outputFormat(path: string, format?: string): OutputFormat {
  const f = (format ?? extname(path).slice(1)).toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(f)) {
    const what = format !== undefined ? `format "${format}"` : extname(path) ? `extension "${extname(path)}"` : 'no extension';
    throw new ImageError(`${path}: cannot tell the output image format (${what}); use one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  return f as OutputFormat;
}

export interface EncodeImageOptions {
  /** JPEG quality (default 95). WebP and AVIF are written lossless. */
  quality?: number;
}

/** Encode interleaved 8-bit pixels (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) in an image format. */
export async function encodeImageBuffer(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  format: OutputFormat,
  opts: EncodeImageOptions = {},
): Promise<Buffer> {
  const hasAlpha = channels === 2 || channels === 4;
  if (hasAlpha && (format === 'jpg' || format === 'jpeg')) {
    throw new ImageError('JPEG cannot store the alpha channel of this image; write .png, .webp, .avif or .tiff instead');
  }
  let px = pixels;
  let ch = channels;
  // PNG and JPEG keep greyscale as such; TIFF would drop the alpha of grey + alpha, so expand it.
  if (channels === 2 && format !== 'png') {
    px = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = pixels[2 * i];
      px[4 * i + 3] = pixels[2 * i + 1];
    }
    ch = 4;
  }
  try {
    return await encodeAs(sharp(px, { raw: { width, height, channels: ch }, limitInputPixels: false }), ch, format, opts);
  } catch (err) {
    // e.g. WebP's 16383-pixel and JPEG's 65535-pixel side limits: a user-facing condition, not a bug.
    throw new ImageError(`cannot write a ${width}×${height} image as ${format} (${firstLine(err)})`);
  }
}

function encodeAs(img: Sharp, ch: number, format: OutputFormat, opts: EncodeImageOptions): Promise<Buffer> {
  if (ch <= 2) img = img.toColourspace('b-w');
  switch (format) {
    case 'png':
      return img.png({ compressionLevel: 6 }).toBuffer();
    case 'jpg':
    case 'jpeg':
      return img.jpeg({ quality: opts.quality ?? 95, mozjpeg: true }).toBuffer();
    case 'webp':
      return img.webp({ lossless: true }).toBuffer();
    case 'avif':
      return img.avif({ lossless: true }).toBuffer();
    case 'tif':
    case 'tiff':
      return img.tiff({ compression: 'deflate' }).toBuffer();
  }
}

/** Whether an ICC profile describes sRGB (its description says so, in ASCII or UTF-16). */
function iccIsSrgb(icc: Buffer): boolean {
  const text = icc.toString('latin1');
  return text.includes('sRGB') || text.includes('s\0R\0G\0B');
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].trim();
}
