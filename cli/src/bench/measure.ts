/**
 * One measurement per (image, codec, setting): encode to a real file in memory, decode it back,
 * and compare the 8-bit colour samples with the original.
 *
 * Every codec sees the same pixels: the image read through sharp as 8-bit sRGB (or grey), alpha
 * flattened onto white. dqcodec encodes them from a PNG (its input is an image file), the others
 * from raw pixels with sharp's defaults but for the settings named here.
 */
import sharp from 'sharp';
import { colourSamples, msSsim, MSSSIM_MIN_SIZE, psnr, readImage, type DqCodec } from '@dqcodec/codec';

export type CodecName = 'dqcodec' | 'jpeg' | 'webp' | 'avif';
export const SHARP_CODECS = ['jpeg', 'webp', 'avif'] as const;
export type SharpCodec = (typeof SHARP_CODECS)[number];

/** Default quality sweeps. mozjpeg saturates below q≈5 (q 1–3 give the same file), so q 1 stands for them. */
export const DEFAULT_SWEEPS: Record<SharpCodec, number[]> = {
  jpeg: [1, 5, 8, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95],
  webp: [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95],
  avif: [1, 10, 20, 30, 40, 50, 60, 70, 80, 90],
};

/** What each sharp codec is asked for (recorded in the JSON so runs stay comparable). */
export const SHARP_SETTINGS: Record<SharpCodec, string> = {
  jpeg: 'sharp .jpeg({ quality, mozjpeg: true }): mozjpeg, progressive, trellis, 4:2:0',
  webp: 'sharp .webp({ quality }): lossy, effort 4, 4:2:0',
  avif: 'sharp .avif({ quality, effort: 4 }): libaom, 8-bit, 4:4:4',
};

export interface BenchImage {
  name: string;
  width: number;
  height: number;
  /** 1 grey or 3 RGB colour samples per pixel. */
  channels: 1 | 3;
  colour: Uint8Array;
  /** The same pixels as a PNG, dqcodec's input. */
  png: Uint8Array;
}

/** A dqcodec operating point: a model and how many of its top levels a file stores. */
export interface OperatingPoint {
  label: string;
  modelDir: string;
  /** Levels stored; the model's level count when every level is. */
  levels: number;
  totalLevels: number;
  codec: DqCodec;
}

export interface Measurement {
  image: string;
  codec: CodecName;
  /** Curve the point belongs to: "jpeg", "webp", "avif" or a dqcodec operating point's label. */
  label: string;
  /** Quality setting for sharp codecs; levels stored for dqcodec. */
  setting: number;
  bytes: number;
  bpp: number;
  /** dB over all colour samples; Infinity for a lossless result. */
  psnr: number;
  msssim: number;
  encodeMs: number;
  decodeMs: number;
}

export async function loadBenchImage(path: string, name: string): Promise<BenchImage> {
  const img = await readImage(path, { flatten: true });
  if (img.width < MSSSIM_MIN_SIZE || img.height < MSSSIM_MIN_SIZE) {
    throw new RangeError(`${name}: ${img.width}×${img.height} is too small for MS-SSIM (at least ${MSSSIM_MIN_SIZE} px a side)`);
  }
  const raw = { raw: { width: img.width, height: img.height, channels: img.colourChannels } };
  const png = new Uint8Array(await sharp(img.colour, raw).png({ compressionLevel: 1 }).toBuffer());
  return { name, width: img.width, height: img.height, channels: img.colourChannels, colour: img.colour, png };
}

function measurement(img: BenchImage, codec: CodecName, label: string, setting: number, bytes: number, back: Uint8Array, encodeMs: number, decodeMs: number): Measurement {
  return {
    image: img.name,
    codec,
    label,
    setting,
    bytes,
    bpp: (bytes * 8) / (img.width * img.height),
    psnr: psnr(img.colour, back),
    msssim: msSsim(img.colour, back, img.width, img.height, img.channels),
    encodeMs,
    decodeMs,
  };
}

async function sharpEncode(img: BenchImage, codec: SharpCodec, quality: number): Promise<Buffer> {
  const s = sharp(img.colour, { raw: { width: img.width, height: img.height, channels: img.channels } });
  if (codec === 'jpeg') return s.jpeg({ quality, mozjpeg: true }).toBuffer();
  if (codec === 'webp') return s.webp({ quality }).toBuffer();
  return s.avif({ quality, effort: 4 }).toBuffer();
}

export async function measureSharp(img: BenchImage, codec: SharpCodec, quality: number): Promise<Measurement> {
  const t0 = performance.now();
  const file = await sharpEncode(img, codec, quality);
  const t1 = performance.now();
  const dec = await sharp(file).toColourspace(img.channels === 1 ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
  const t2 = performance.now();
  return measurement(img, codec, codec, quality, file.length, colourSamples(dec.data, dec.info.channels, img.channels), t1 - t0, t2 - t1);
}

export async function measureDqcodec(img: BenchImage, point: OperatingPoint): Promise<Measurement> {
  const t0 = performance.now();
  const enc = await point.codec.encodeImage(img.png, { levels: point.levels });
  const t1 = performance.now();
  const dec = await point.codec.decode(enc.bytes);
  const t2 = performance.now();
  return measurement(img, 'dqcodec', point.label, point.levels, enc.bytes.length, colourSamples(dec.pixels, dec.channels, img.channels), t1 - t0, t2 - t1);
}
