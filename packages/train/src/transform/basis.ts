/**
 * The fixed linear parts of a transform model as plain matrices: RGB ↔ centred YCbCr (JPEG's
 * full-range matrix) and the orthonormal 8×8 DCT. Training (tfjs) and export (ONNX) build their
 * ops from these same numbers.
 */
import { BLOCK, COEFFS, ZIGZAG } from './config.js';

/** Centred YCbCr from RGB on the 0–255 scale: ycc = A·rgb + OFFSET. */
export const RGB_TO_YCC: readonly (readonly number[])[] = [
  [0.299, 0.587, 0.114],
  [-0.168736, -0.331264, 0.5],
  [0.5, -0.418688, -0.081312],
];
export const YCC_OFFSET: readonly number[] = [-128, 0, 0];

/** Exact inverse of RGB_TO_YCC (computed, not the rounded textbook values, so the pair is lossless in float). */
export const YCC_TO_RGB: readonly (readonly number[])[] = invert3(RGB_TO_YCC);

function invert3(m: readonly (readonly number[])[]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

/** 1-D orthonormal DCT-II basis: DCT1[u][x]. */
const DCT1: number[][] = Array.from({ length: BLOCK }, (_, u) =>
  Array.from({ length: BLOCK }, (_, x) => (u === 0 ? Math.sqrt(1 / BLOCK) : Math.sqrt(2 / BLOCK)) * Math.cos(((2 * x + 1) * u * Math.PI) / (2 * BLOCK))),
);

/**
 * Forward block transform as a [192, 192] matrix F (row-major): coef[o] = Σ_p patch[p]·F[p][o],
 * with patch the 8×8×3 centred-YCbCr block flattened as (y, x, c) (NHWC order) and o = c·64 + j
 * for the j-th zigzag coefficient of colour c. F is orthogonal, so its transpose inverts it.
 */
export function blockDctMatrix(): Float32Array {
  const n = 3 * COEFFS;
  const F = new Float32Array(n * n);
  for (let y = 0; y < BLOCK; y++) {
    for (let x = 0; x < BLOCK; x++) {
      for (let c = 0; c < 3; c++) {
        const p = (y * BLOCK + x) * 3 + c;
        for (let j = 0; j < COEFFS; j++) {
          const uv = ZIGZAG[j];
          F[p * n + c * COEFFS + j] = DCT1[uv >> 3][y] * DCT1[uv & 7][x];
        }
      }
    }
  }
  return F;
}
