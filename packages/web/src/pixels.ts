/**
 * Decoded RGBA pixels → canvas. The conversion from reconstruction tensors is the Node decoder's
 * (copyReconstruction in @dqcodec/core): grey images come out as R = G = B.
 */
import { WebDecoderError } from './errors.js';

/** What drawToCanvas and ImageData need: RGBA, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray<ArrayBuffer>;
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
