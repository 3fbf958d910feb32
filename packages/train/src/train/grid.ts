import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';

/**
 * PNG of n rows, each original | reconstruction, from NHWC float crops in [0,1]
 * (reconstructions are clipped).
 */
export async function writeReconstructionGrid(path: string, originals: Float32Array, recons: Float32Array, n: number, h: number, w: number): Promise<void> {
  const gap = 2;
  const width = 2 * w + gap;
  const height = n * h + (n - 1) * gap;
  const px = new Uint8Array(width * height * 3).fill(255);
  const put = (src: Float32Array, i: number, x0: number): void => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = ((i * h + y) * w + x) * 3;
        const d = ((i * (h + gap) + y) * width + x0 + x) * 3;
        for (let c = 0; c < 3; c++) px[d + c] = Math.round(Math.min(1, Math.max(0, src[s + c])) * 255);
      }
    }
  };
  for (let i = 0; i < n; i++) {
    put(originals, i, 0);
    put(recons, i, w + gap);
  }
  await mkdir(dirname(path), { recursive: true });
  await sharp(px, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

/**
 * The validation grid of a run: up to 8 crops spread evenly over the `count` validation crops
 * (so every validation image appears), originals above their reconstructions.
 */
export async function writeValidationGrid(path: string, crops: Float32Array, recon: Float32Array, count: number, cropSize: number): Promise<void> {
  const shown = Math.min(count, 8);
  const per = cropSize * cropSize * 3;
  const pick = (src: Float32Array): Float32Array => {
    const out = new Float32Array(shown * per);
    for (let i = 0; i < shown; i++) out.set(src.subarray(Math.floor((i * count) / shown) * per).subarray(0, per), i * per);
    return out;
  };
  await writeReconstructionGrid(path, pick(crops), pick(recon), shown, cropSize, cropSize);
}
