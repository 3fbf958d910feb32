/**
 * Reconstruction tensors → RGBA pixels, and pixels → canvas. The conversion is the Node decoder's
 * (packages/codec/src/node/image.ts): clip to [0, 1], ×255, round; grey images (1 or 2 channels)
 * take the mean of the three reconstructed channels, written to R, G and B.
 */
import { WebDecoderError } from './errors.js';

/** What drawToCanvas and ImageData need: RGBA, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray<ArrayBuffer>;
}

function to8(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
}

/**
 * Copy the part `rect` (image coordinates) of a planar reconstruction [3, rh, rw] of the region at
 * (rx0, ry0) into RGBA pixels of an image `width` wide. Alpha is set to 255.
 */
export function copyToRgba(
  recon: Float32Array,
  rx0: number,
  ry0: number,
  rw: number,
  rh: number,
  rect: { x0: number; y0: number; x1: number; y1: number },
  out: Uint8ClampedArray,
  width: number,
  grey: boolean,
): void {
  const plane = rw * rh;
  for (let y = rect.y0; y < rect.y1; y++) {
    let s = (y - ry0) * rw + (rect.x0 - rx0);
    let d = (y * width + rect.x0) * 4;
    for (let x = rect.x0; x < rect.x1; x++, s++, d += 4) {
      if (grey) {
        const g = to8((recon[s] + recon[plane + s] + recon[2 * plane + s]) / 3);
        out[d] = g;
        out[d + 1] = g;
        out[d + 2] = g;
      } else {
        out[d] = to8(recon[s]);
        out[d + 1] = to8(recon[plane + s]);
        out[d + 2] = to8(recon[2 * plane + s]);
      }
      out[d + 3] = 255;
    }
  }
}

/** Write an alpha plane (width × height) into the A bytes of RGBA pixels. */
export function applyAlpha(out: Uint8ClampedArray, alpha: Uint8Array): void {
  for (let i = 0, d = 3; i < alpha.length; i++, d += 4) out[d] = alpha[i];
}

/** An ImageData of a decoded image (browsers and workers). */
export function toImageData(image: RgbaImage): ImageData {
  if (typeof ImageData === 'undefined') throw new WebDecoderError('NO_CANVAS', 'ImageData is not available in this environment');
  return new ImageData(image.data, image.width, image.height);
}

/** Resize `canvas` to the image and draw it (HTMLCanvasElement or OffscreenCanvas). */
export function drawToCanvas(image: RgbaImage, canvas: HTMLCanvasElement | OffscreenCanvas): void {
  if (canvas.width !== image.width) canvas.width = image.width;
  if (canvas.height !== image.height) canvas.height = image.height;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new WebDecoderError('NO_CANVAS', 'the canvas has no 2D context (is it already used for WebGL/WebGPU?)');
  ctx.putImageData(toImageData(image), 0, 0);
}
