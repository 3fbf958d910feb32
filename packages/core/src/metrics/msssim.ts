/**
 * MS-SSIM (Wang, Simoncelli & Bovik, "Multi-scale structural similarity for image quality
 * assessment", Asilomar 2003), as in the authors' reference implementation:
 *
 * - 5 scales with the paper's weights β = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333);
 * - at each scale, SSIM statistics under an 11×11 Gaussian window, σ = 1.5, normalised to sum 1,
 *   evaluated where the window fits inside the image ("valid" filtering);
 * - K1 = 0.01, K2 = 0.03, dynamic range L = 255: C1 = (K1·L)², C2 = (K2·L)²;
 * - the contrast-structure term cs = (2σxy + C2) / (σx² + σy² + C2), averaged over the map, at
 *   every scale, and the luminance term l = (2μxμy + C1) / (μx² + μy² + C1) only at the coarsest;
 *   MS-SSIM = l₅^β₅ · Π_j cs_j^β_j;
 * - between scales, 2×2 box averaging and decimation (the reference's 2×2 mean filter with
 *   symmetric borders, then every other pixel): an odd last row or column is averaged with itself.
 *
 * Colour: MS-SSIM is computed on each channel separately and the channel values are averaged
 * ("RGB mean", as pytorch-msssim and CompressAI report it), not on luma. Negative cs or l values
 * (possible for anti-correlated content) are clamped to 0 before the power, as TensorFlow does, so
 * the result is always a number in [0, 1]; 1 means identical.
 *
 * The coarsest scale must still fit the window: both sides need at least 11·2⁴ = 176 pixels.
 */

export const MSSSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] as const;
const WINDOW = 11;
const SIGMA = 1.5;
const K1 = 0.01;
const K2 = 0.03;

/** Smallest width and height MS-SSIM accepts (the 11-pixel window at the 5th scale). */
export const MSSSIM_MIN_SIZE = WINDOW * 2 ** (MSSSIM_WEIGHTS.length - 1);

/** One image plane as floats. */
interface Plane {
  w: number;
  h: number;
  data: Float64Array;
}

/** The normalised 1-D Gaussian (the 2-D window is its outer product, so filtering is separable). */
export function gaussianWindow(size = WINDOW, sigma = SIGMA): Float64Array {
  const g = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) sum += g[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) g[i] /= sum;
  return g;
}

/** Channel `c` of interleaved 8-bit pixels as a plane. */
function planeOf(px: ArrayLike<number>, w: number, h: number, channels: number, c: number): Plane {
  const data = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) data[i] = px[i * channels + c];
  return { w, h, data };
}

/** 2×2 box average, output ⌈w/2⌉ × ⌈h/2⌉; an odd last row/column is averaged with itself. */
function downsample(p: Plane): Plane {
  const w = Math.ceil(p.w / 2);
  const h = Math.ceil(p.h / 2);
  const data = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = 2 * y;
    const y1 = Math.min(y0 + 1, p.h - 1);
    for (let x = 0; x < w; x++) {
      const x0 = 2 * x;
      const x1 = Math.min(x0 + 1, p.w - 1);
      data[y * w + x] = (p.data[y0 * p.w + x0] + p.data[y0 * p.w + x1] + p.data[y1 * p.w + x0] + p.data[y1 * p.w + x1]) / 4;
    }
  }
  return { w, h, data };
}

/** Separable "valid" filtering with the Gaussian g: output (w−n+1) × (h−n+1). */
function filterValid(src: Float64Array, w: number, h: number, g: Float64Array): Float64Array {
  const n = g.length;
  const ow = w - n + 1;
  const oh = h - n + 1;
  const rows = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) {
    const r = y * w;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += g[k] * src[r + x + k];
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += g[k] * rows[(y + k) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean luminance term l and contrast-structure term cs of SSIM over one scale. */
function ssimTerms(a: Plane, b: Plane, peak = 255): { l: number; cs: number } {
  const g = gaussianWindow();
  const C1 = (K1 * peak) ** 2;
  const C2 = (K2 * peak) ** 2;
  const n = a.w * a.h;
  const aa = new Float64Array(n);
  const bb = new Float64Array(n);
  const ab = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    aa[i] = a.data[i] * a.data[i];
    bb[i] = b.data[i] * b.data[i];
    ab[i] = a.data[i] * b.data[i];
  }
  const f = (x: Float64Array): Float64Array => filterValid(x, a.w, a.h, g);
  const [mx, my, sxx, syy, sxy] = [f(a.data), f(b.data), f(aa), f(bb), f(ab)];
  let lSum = 0;
  let csSum = 0;
  for (let i = 0; i < mx.length; i++) {
    const mx2 = mx[i] * mx[i];
    const my2 = my[i] * my[i];
    const mxy = mx[i] * my[i];
    lSum += (2 * mxy + C1) / (mx2 + my2 + C1);
    csSum += (2 * (sxy[i] - mxy) + C2) / (sxx[i] - mx2 + (syy[i] - my2) + C2);
  }
  return { l: lSum / mx.length, cs: csSum / mx.length };
}

/** MS-SSIM of one plane pair. */
function msSsimPlane(a: Plane, b: Plane): number {
  let value = 1;
  const scales = MSSSIM_WEIGHTS.length;
  for (let j = 0; j < scales; j++) {
    const { l, cs } = ssimTerms(a, b);
    value *= Math.max(0, cs) ** MSSSIM_WEIGHTS[j];
    if (j === scales - 1) value *= Math.max(0, l) ** MSSSIM_WEIGHTS[j];
    else {
      a = downsample(a);
      b = downsample(b);
    }
  }
  return value;
}

/**
 * MS-SSIM of two 8-bit images (interleaved samples, `channels` per pixel; every channel counts,
 * so pass colour channels only), averaged over channels. Throws for images under 176 px a side.
 */
export function msSsim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, channels: number): number {
  if (a.length !== width * height * channels || b.length !== a.length) {
    throw new RangeError(`msSsim: expected ${width}×${height}×${channels} samples (got ${a.length} and ${b.length})`);
  }
  if (width < MSSSIM_MIN_SIZE || height < MSSSIM_MIN_SIZE) {
    throw new RangeError(`msSsim: images must be at least ${MSSSIM_MIN_SIZE}×${MSSSIM_MIN_SIZE} pixels for 5 scales (got ${width}×${height})`);
  }
  let sum = 0;
  for (let c = 0; c < channels; c++) sum += msSsimPlane(planeOf(a, width, height, channels, c), planeOf(b, width, height, channels, c));
  return sum / channels;
}

/** MS-SSIM on a dB scale, −10·log10(1 − msssim), which spreads out values near 1 (Infinity for 1). */
export function msSsimDb(msssim: number): number {
  return -10 * Math.log10(1 - msssim);
}
