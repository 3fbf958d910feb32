/** Mean squared error and PSNR between two equally long sample arrays (8-bit images by default). */

/** Mean of (a[i] − b[i])² over all samples. */
export function mse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`mse: arrays differ in length (${a.length} vs ${b.length})`);
  if (a.length === 0) throw new RangeError('mse: empty arrays');
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  return se / a.length;
}

/**
 * PSNR in dB, 10·log10(peak² / MSE), over every sample given: for interleaved RGB pixels that is
 * the PSNR of all three channels together (one MSE, not a mean of per-channel PSNRs).
 * Identical inputs give Infinity.
 */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, peak = 255): number {
  const e = mse(a, b);
  return e === 0 ? Infinity : 10 * Math.log10((peak * peak) / e);
}
