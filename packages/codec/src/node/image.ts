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
  /** Name for messages (default: the path, or "input"). */
  name?: string;
}

const DEPTH_BITS: Record<string, string> = { ushort: '16-bit', short: '16-bit', uint: '32-bit', int: '32-bit', float: 'floating-point', double: 'floating-point' };

/** Decode an image file or buffer into 8-bit sRGB (or grey) samples plus an optional alpha plane. */
export async function readImage(input: string | Uint8Array, opts: ReadImageOptions = {}): Promise<SourceImage> {
  const maxPixels = opts.maxPixels ?? 2 ** 28;
  const name = opts.name ?? (typeof input === 'string' ? input : 'input');
  // The header is read without sharp's pixel limit so that an oversized image gets our message
  // (which names the flag); the pixel pipeline keeps sharp's limit as a second guard.
  const open = (limit: number | false): Sharp => sharp(input, { limitInputPixels: limit, failOn: 'error' });
  let meta: Metadata;
  try {
    meta = await open(false).metadata();
  } catch (err) {
    throw new ImageError(`${name}: not a readable image (${firstLine(err)})`);
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
  const flatten = hasAlpha && opts.flatten !== undefined && opts.flatten !== false;
  if (flatten) notes.push(`alpha flattened onto ${opts.flatten === true ? 'white' : opts.flatten}`);

  let pipeline = open(maxPixels).rotate();
  if (flatten) pipeline = pipeline.flatten({ background: opts.flatten === true ? '#ffffff' : (opts.flatten as string) });
  // sRGB keeps the alpha band (b-w would drop it); grey sources come back with R = G = B.
  pipeline = pipeline.toColourspace('srgb');
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new ImageError(`${name}: cannot decode image (${firstLine(err)})`);
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
