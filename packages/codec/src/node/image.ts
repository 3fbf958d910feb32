/**
 * Image input/output through sharp: everything the model sees is 8-bit sRGB, NCHW float in [0,1],
 * padded to the model's total stride by edge replication (replicated edges cost fewer bits and
 * show no seam when cropped away, unlike zero padding).
 */
import sharp, { type Metadata } from 'sharp';
import { extname } from 'node:path';

export interface LoadedImage {
  /** Original size after EXIF orientation. */
  width: number;
  height: number;
  /** Channels of the source: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  paddedWidth: number;
  paddedHeight: number;
  /** [1, 3, paddedHeight, paddedWidth] float32 in [0, 1]. */
  rgb: Float32Array;
  /** Alpha plane (width × height, 8-bit) when the source has one. */
  alpha: Uint8Array | null;
  /** Conversions that happened (16-bit reduced, colour space converted, …). */
  notes: string[];
}

export class ImageError extends Error {
  override name = 'ImageError';
}

export const OUTPUT_FORMATS = ['png', 'jpg', 'jpeg', 'webp', 'avif', 'tif', 'tiff'] as const;

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Decode an image file or buffer into the model's input tensor. */
export async function loadImage(input: string | Uint8Array, stride: number, opts: { maxPixels?: number } = {}): Promise<LoadedImage> {
  const maxPixels = opts.maxPixels ?? 2 ** 28;
  const name = typeof input === 'string' ? input : 'input';
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: maxPixels }).metadata();
  } catch (err) {
    throw new ImageError(`${name}: not a readable image (${(err as Error).message})`);
  }
  if (!meta.width || !meta.height) throw new ImageError(`${name}: image has no dimensions`);
  const notes: string[] = [];
  const hasAlpha = meta.hasAlpha === true;
  const grey = meta.channels !== undefined && meta.channels - (hasAlpha ? 1 : 0) === 1;
  if (meta.depth && !['uchar', 'char'].includes(meta.depth)) notes.push(`${meta.depth} samples reduced to 8-bit`);
  if (meta.space && !['srgb', 'b-w', 'rgb'].includes(meta.space)) notes.push(`colour space ${meta.space} converted to sRGB`);
  if (meta.icc) notes.push('ICC profile applied (converted to sRGB)');

  // rotate() applies EXIF orientation; toColourspace('srgb') converts from embedded profiles.
  const base = sharp(input, { limitInputPixels: maxPixels }).rotate().toColourspace('srgb');
  const { data, info } = await base.clone().removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const width = info.width;
  const height = info.height;
  let alpha: Uint8Array | null = null;
  if (hasAlpha) {
    const a = await sharp(input, { limitInputPixels: maxPixels }).rotate().extractChannel('alpha').raw({ depth: 'uchar' }).toBuffer();
    alpha = new Uint8Array(a.buffer, a.byteOffset, a.length);
  }
  const paddedWidth = roundUp(width, stride);
  const paddedHeight = roundUp(height, stride);
  const rgb = toPaddedNchw(new Uint8Array(data.buffer, data.byteOffset, data.length), width, height, info.channels, paddedWidth, paddedHeight);
  const channels = ((grey ? 1 : 3) + (hasAlpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  return { width, height, channels, paddedWidth, paddedHeight, rgb, alpha, notes };
}

/** Interleaved 8-bit pixels → planar float [0,1], edges replicated into the padding. */
export function toPaddedNchw(px: Uint8Array, width: number, height: number, channels: number, pw: number, ph: number): Float32Array {
  const out = new Float32Array(3 * pw * ph);
  const plane = pw * ph;
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(y, height - 1);
    for (let x = 0; x < pw; x++) {
      const sx = Math.min(x, width - 1);
      const s = (sy * width + sx) * channels;
      const d = y * pw + x;
      for (let c = 0; c < 3; c++) out[c * plane + d] = px[s + (channels >= 3 ? c : 0)] / 255;
    }
  }
  return out;
}

/** Planar float [0,1] (padded) → interleaved 8-bit, cropped to width × height, with optional alpha. */
export function fromNchw(rgb: Float32Array, pw: number, ph: number, width: number, height: number, alpha: Uint8Array | null): Uint8Array {
  const ch = alpha ? 4 : 3;
  const out = new Uint8Array(width * height * ch);
  const plane = pw * ph;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = y * pw + x;
      const d = (y * width + x) * ch;
      for (let c = 0; c < 3; c++) out[d + c] = Math.round(Math.min(1, Math.max(0, rgb[c * plane + s])) * 255);
      if (alpha) out[d + 3] = alpha[y * width + x];
    }
  }
  return out;
}

/** Encode 8-bit pixels to a file format chosen by the output path's extension. */
export async function encodeImageFile(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 3 | 4,
  outPath: string,
  opts: { grey?: boolean; quality?: number } = {},
): Promise<Buffer> {
  const ext = extname(outPath).slice(1).toLowerCase();
  let img = sharp(pixels, { raw: { width, height, channels } });
  if (opts.grey) img = img.toColourspace('b-w');
  switch (ext) {
    case 'png':
      return img.png().toBuffer();
    case 'jpg':
    case 'jpeg':
      return img.jpeg({ quality: opts.quality ?? 95, mozjpeg: true }).toBuffer();
    case 'webp':
      return img.webp({ lossless: true }).toBuffer();
    case 'avif':
      return img.avif({ lossless: true }).toBuffer();
    case 'tif':
    case 'tiff':
      return img.tiff().toBuffer();
    default:
      throw new ImageError(`${outPath}: unsupported output format ".${ext}" (use one of ${OUTPUT_FORMATS.join(', ')})`);
  }
}
