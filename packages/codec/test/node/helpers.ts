/**
 * Fixtures for the Node API tests: a small random-weight model exported into a temp directory
 * (quality is meaningless, but every code path runs, fast), and generated images.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { exportModel } from '../../../train/src/export/exportModel.js';
import { randomWeights } from '../../../train/src/export/randomWeights.js';
import { parseModelConfig, type ModelConfig } from '../../../train/src/model/config.js';

export const SMALL_CONFIG: ModelConfig = parseModelConfig({
  name: 'test-small',
  levels: [
    { stride: 4, M: 4, K: 64, D: 8 },
    { stride: 8, M: 4, K: 64, D: 8 },
  ],
  channels: 16,
  resBlocks: 1,
  resHidden: 8,
});

/** SMALL_CONFIG as a rate model: entropy-constrained assignment and a learned prior ('conditional'). */
export const SMALL_RATE_CONFIG: ModelConfig = parseModelConfig({ ...SMALL_CONFIG, name: 'test-small-rate', quantizer: { assign: 'entropy' } });

export function tmp(prefix = 'dq-node-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Export SMALL_CONFIG (or `cfg`) with seeded random weights into a fresh directory. */
export async function makeModel(seed = 1, cfg: ModelConfig = SMALL_CONFIG): Promise<string> {
  const dir = join(tmp('dq-model-'), 'model');
  await exportModel(cfg, randomWeights(cfg, seed, { gain: 1.3 }), dir);
  return dir;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Photo-like interleaved pixels: smooth colour waves plus noise. */
export function photoPixels(width: number, height: number, channels: 1 | 3 = 3, seed = 1): Uint8Array {
  const rand = lcg(seed);
  const px = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = 128 + 90 * Math.sin(x / 9 + y / 13 + c * 2 + seed) + 24 * (rand() - 0.5);
        px[(y * width + x) * channels + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}

/** An alpha plane with flat regions, a soft edge and some noise. */
export function alphaPlane(width: number, height: number, seed = 3): Uint8Array {
  const rand = lcg(seed);
  const a = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = Math.hypot(x - width / 2, y - height / 2) - Math.min(width, height) / 3;
      const v = 255 * Math.min(1, Math.max(0, 0.5 - d / 3));
      a[y * width + x] = x < width / 6 ? Math.floor(rand() * 256) : Math.round(v);
    }
  }
  return a;
}

export async function png(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<Buffer> {
  let img = sharp(pixels, { raw: { width, height, channels } });
  if (channels <= 2) img = img.toColourspace('b-w');
  return img.png().toBuffer();
}

/** Interleave colour (3 channels) and alpha into RGBA. */
export function rgba(colour: Uint8Array, alpha: Uint8Array): Uint8Array {
  const out = new Uint8Array(alpha.length * 4);
  for (let i = 0; i < alpha.length; i++) {
    out.set(colour.subarray(3 * i, 3 * i + 3), 4 * i);
    out[4 * i + 3] = alpha[i];
  }
  return out;
}

/** Raw pixels of an image file/buffer, as sharp decodes it (no colour conversion). */
export async function rawOf(input: string | Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / a.length));
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
