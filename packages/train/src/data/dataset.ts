/**
 * Training data: every image sharp can read in a directory (recursively), decoded once into
 * memory as 8-bit sRGB, split into train/validation by a hash of the file path (so the split
 * does not move when the training seed changes), and sampled as seeded random crops with flips.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../tfjs/rng.js';

export class DatasetError extends Error {
  override name = 'DatasetError';
}

export interface DecodedImage {
  path: string;
  width: number;
  height: number;
  /** Interleaved RGB, 8-bit. */
  data: Uint8Array;
}

export interface ImageDataset {
  train: DecodedImage[];
  val: DecodedImage[];
}

export interface DatasetOptions {
  cropSize: number;
  /** Fraction of images held out for validation (at least one when there are two or more). */
  valFraction?: number;
  /** Downscale so that the longer side is at most this. Photos downscaled 2–4× carry less sensor and JPEG noise per pixel. */
  maxSide?: number;
  onWarning?: (message: string) => void;
  seed?: number;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out.sort();
}

/** EXIF orientation applied, alpha dropped, grey expanded, 16-bit reduced: always 8-bit RGB. */
export async function decodeRgb(path: string, maxSide?: number): Promise<DecodedImage> {
  let img = sharp(path, { limitInputPixels: 2 ** 28 }).rotate().toColourspace('srgb').removeAlpha();
  if (maxSide) img = img.resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' });
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { path, width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  // Greyscale sources come out with one channel: replicate it.
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels], i * 3, i * 3 + 3);
  return { path, width: info.width, height: info.height, data: rgb };
}

/** FNV-1a of the relative path: a split that is stable across machines and seeds. */
function pathHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export async function openImageDataset(dir: string, opts: DatasetOptions): Promise<ImageDataset> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new DatasetError(`data directory ${dir} does not exist`);
  if (!st.isDirectory()) throw new DatasetError(`data path ${dir} is not a directory`);
  const files = await listFiles(dir);
  const images: DecodedImage[] = [];
  for (const f of files) {
    try {
      images.push(await decodeRgb(f, opts.maxSide));
    } catch {
      opts.onWarning?.(`skipping ${f}: not a readable image`);
    }
  }
  if (images.length === 0) throw new DatasetError(`no readable images in ${dir} (tried ${files.length} file${files.length === 1 ? '' : 's'})`);
  const usable = images.filter((im) => im.width >= opts.cropSize && im.height >= opts.cropSize);
  if (usable.length === 0) {
    const largest = images.reduce((a, b) => (Math.min(b.width, b.height) > Math.min(a.width, a.height) ? b : a));
    throw new DatasetError(`crop ${opts.cropSize}×${opts.cropSize} is larger than every image (largest is ${largest.width}×${largest.height} after downscaling)`);
  }
  for (const im of images) if (!usable.includes(im)) opts.onWarning?.(`skipping ${im.path}: ${im.width}×${im.height} is smaller than the crop`);
  const ranked = [...usable].sort((a, b) => pathHash(relative(dir, a.path)) - pathHash(relative(dir, b.path)));
  const nVal = usable.length < 2 ? 0 : Math.max(1, Math.round(usable.length * (opts.valFraction ?? 0.1)));
  return { val: ranked.slice(0, nVal), train: nVal === 0 ? ranked : ranked.slice(nVal) };
}

export interface SamplerState {
  rng: number;
}

/** Seeded random crops with horizontal flips; state() / restore() make a resumed run identical. */
export class CropSampler {
  private rng: Rng;
  private readonly crop: number;

  constructor(
    private readonly dataset: ImageDataset,
    opts: { cropSize: number; seed: number },
  ) {
    this.crop = opts.cropSize;
    this.rng = new Rng(opts.seed);
  }

  state(): SamplerState {
    return { rng: this.rng.state };
  }

  restore(s: SamplerState): void {
    this.rng.state = s.rng;
  }

  private copyCrop(im: DecodedImage, x0: number, y0: number, flip: boolean, out: Float32Array, offset: number): void {
    const c = this.crop;
    for (let y = 0; y < c; y++) {
      const row = ((y0 + y) * im.width + x0) * 3;
      for (let x = 0; x < c; x++) {
        const s = row + (flip ? c - 1 - x : x) * 3;
        const d = offset + (y * c + x) * 3;
        out[d] = im.data[s] / 255;
        out[d + 1] = im.data[s + 1] / 255;
        out[d + 2] = im.data[s + 2] / 255;
      }
    }
  }

  /** [batch, crop, crop, 3] NHWC in [0, 1]. Images are drawn in proportion to their area. */
  nextBatch(batch: number): Float32Array {
    const c = this.crop;
    const out = new Float32Array(batch * c * c * 3);
    const train = this.dataset.train;
    const areas = train.map((im) => im.width * im.height);
    const total = areas.reduce((a, b) => a + b, 0);
    for (let b = 0; b < batch; b++) {
      let r = this.rng.next() * total;
      let i = 0;
      while (i < train.length - 1 && r >= areas[i]) r -= areas[i++];
      const im = train[i];
      const x0 = this.rng.int(im.width - c + 1);
      const y0 = this.rng.int(im.height - c + 1);
      this.copyCrop(im, x0, y0, this.rng.next() < 0.5, out, b * c * c * 3);
    }
    return out;
  }

  /**
   * Fixed validation crops (independent of the training seed): a regular grid over each
   * validation image, so validation PSNR is comparable across steps and runs.
   */
  validationBatch(count: number): Float32Array {
    const c = this.crop;
    const val = this.dataset.val.length > 0 ? this.dataset.val : this.dataset.train;
    const perImage = Math.ceil(count / val.length);
    const side = Math.ceil(Math.sqrt(perImage));
    const out = new Float32Array(count * c * c * 3);
    let n = 0;
    for (const im of val) {
      for (let k = 0; k < perImage && n < count; k++) {
        const gx = k % side;
        const gy = Math.floor(k / side);
        const x0 = Math.floor(((im.width - c) * (gx + 0.5)) / side);
        const y0 = Math.floor(((im.height - c) * (gy + 0.5)) / side);
        this.copyCrop(im, x0, y0, false, out, n++ * c * c * 3);
      }
    }
    return out;
  }
}
