/**
 * Reconstruction tensors → 8-bit interleaved pixels, shared by the Node decoder (1–4 channels as
 * stored) and the browser decoder (RGBA): clip to [0, 1], ×255, round; grey images take the mean
 * of the three reconstructed channels.
 */

/** A rectangle [x0, x1) × [y0, y1) in image coordinates. */
export interface PixelRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Where a reconstruction lies: the planar float tensor [3, h, w] of the region at (x0, y0). */
export interface ReconstructionRegion {
  data: Float32Array;
  x0: number;
  y0: number;
  w: number;
  h: number;
}

/**
 * How the output is laid out: `stride` bytes per pixel, colour in the first bytes. A grey
 * image writes its one value to the first byte, or to R, G and B when the stride has room for
 * colour (RGBA output); other bytes (alpha) are left alone.
 */
export interface PixelLayout {
  stride: number;
  grey: boolean;
}

function to8(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
}

/** Copy the part `rect` (clipped to the image by the caller) of a reconstruction into `out`, an image `width` wide. */
export function copyReconstruction(recon: ReconstructionRegion, rect: PixelRect, out: Uint8Array | Uint8ClampedArray, width: number, layout: PixelLayout): void {
  const { data, w: rw, h: rh } = recon;
  const plane = rw * rh;
  const { stride, grey } = layout;
  const greyToRgb = grey && stride >= 3;
  for (let y = rect.y0; y < rect.y1; y++) {
    let s = (y - recon.y0) * rw + (rect.x0 - recon.x0);
    let d = (y * width + rect.x0) * stride;
    for (let x = rect.x0; x < rect.x1; x++, s++, d += stride) {
      if (grey) {
        const g = to8((data[s] + data[plane + s] + data[2 * plane + s]) / 3);
        out[d] = g;
        if (greyToRgb) {
          out[d + 1] = g;
          out[d + 2] = g;
        }
      } else {
        out[d] = to8(data[s]);
        out[d + 1] = to8(data[plane + s]);
        out[d + 2] = to8(data[2 * plane + s]);
      }
    }
  }
}

/** Write an alpha plane (one byte per pixel) into the last byte of each `stride`-byte pixel. */
export function interleaveAlpha(out: Uint8Array | Uint8ClampedArray, alpha: Uint8Array, stride: number): void {
  for (let i = 0, d = stride - 1; i < alpha.length; i++, d += stride) out[d] = alpha[i];
}

/** The first `colourChannels` samples of every pixel of interleaved `px` (drops alpha or extra bands; `px` itself when nothing is dropped). */
export function colourSamples(px: Uint8Array, channels: number, colourChannels: number): Uint8Array {
  if (channels === colourChannels) return px;
  const n = px.length / channels;
  const out = new Uint8Array(n * colourChannels);
  for (let i = 0; i < n; i++) for (let c = 0; c < colourChannels; c++) out[i * colourChannels + c] = px[i * channels + c];
  return out;
}
