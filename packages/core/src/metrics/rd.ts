/**
 * Rate–distortion curve arithmetic: monotone piecewise-cubic interpolation, Bjøntegaard delta
 * rate, and a curve's quality at a given rate.
 *
 * Interpolation is PCHIP (Fritsch & Carlson 1980, with the end-point rule of Moler's pchip, as in
 * MATLAB and SciPy): a piecewise cubic Hermite curve through every point whose slopes keep it
 * monotone wherever the data are, so a sweep with many points never overshoots the way one global
 * cubic can. This is the piecewise-cubic variant of the Bjøntegaard metric used by JVET/AV2 test
 * conditions, rather than VCEG-M33's single cubic polynomial.
 */

/** One operating point: rate (bits per pixel) and quality (PSNR dB, MS-SSIM dB, …; higher is better). */
export interface RdPoint {
  rate: number;
  quality: number;
}

/** A PCHIP interpolant over strictly increasing x. */
export interface Pchip {
  readonly xs: readonly number[];
  /** Value at x (x must lie in [xs[0], xs[n−1]]). */
  at(x: number): number;
  /** ∫ from a to b (both inside the range, a ≤ b). */
  integral(a: number, b: number): number;
}

/** Interior slope: 0 at a local extremum, else a weighted harmonic mean of the two secants. */
function interiorSlope(h0: number, h1: number, d0: number, d1: number): number {
  if (d0 * d1 <= 0) return 0;
  const w1 = 2 * h1 + h0;
  const w2 = h1 + 2 * h0;
  return (w1 + w2) / (w1 / d0 + w2 / d1);
}

/** End slope: the three-point estimate, limited so that the end segment stays monotone. */
function endSlope(h0: number, h1: number, d0: number, d1: number): number {
  let d = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
  if (Math.sign(d) !== Math.sign(d0)) d = 0;
  else if (Math.sign(d0) !== Math.sign(d1) && Math.abs(d) > Math.abs(3 * d0)) d = 3 * d0;
  return d;
}

/** PCHIP through (xs[i], ys[i]); xs strictly increasing, at least 2 points. */
export function pchip(xs: readonly number[], ys: readonly number[]): Pchip {
  const n = xs.length;
  if (n < 2 || ys.length !== n) throw new RangeError(`pchip: need at least 2 points and as many ys as xs (got ${n} and ${ys.length})`);
  for (let i = 1; i < n; i++) if (!(xs[i] > xs[i - 1])) throw new RangeError('pchip: xs must be strictly increasing');
  const h = Array.from({ length: n - 1 }, (_, i) => xs[i + 1] - xs[i]);
  const delta = h.map((hi, i) => (ys[i + 1] - ys[i]) / hi);
  const d = new Array<number>(n);
  if (n === 2) d[0] = d[1] = delta[0];
  else {
    for (let i = 1; i < n - 1; i++) d[i] = interiorSlope(h[i - 1], h[i], delta[i - 1], delta[i]);
    d[0] = endSlope(h[0], h[1], delta[0], delta[1]);
    d[n - 1] = endSlope(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
  }
  // Segment i as a polynomial in s = x − xs[i]: ys[i] + d[i]·s + c2[i]·s² + c3[i]·s³.
  const c2 = h.map((hi, i) => (3 * delta[i] - 2 * d[i] - d[i + 1]) / hi);
  const c3 = h.map((hi, i) => (d[i] + d[i + 1] - 2 * delta[i]) / (hi * hi));
  const segment = (x: number): number => {
    let i = 0;
    while (i < n - 2 && x > xs[i + 1]) i++;
    return i;
  };
  const antiderivative = (i: number, s: number): number => s * (ys[i] + s * (d[i] / 2 + s * (c2[i] / 3 + (s * c3[i]) / 4)));
  return {
    xs,
    at(x) {
      const i = segment(x);
      const s = x - xs[i];
      return ys[i] + s * (d[i] + s * (c2[i] + s * c3[i]));
    },
    integral(a, b) {
      let total = 0;
      for (let i = segment(a); i < n - 1 && xs[i] < b; i++) {
        const lo = Math.max(a, xs[i]) - xs[i];
        const hi = Math.min(b, xs[i + 1]) - xs[i];
        if (hi > lo) total += antiderivative(i, hi) - antiderivative(i, lo);
      }
      return total;
    },
  };
}

/**
 * Sort by `key` and merge points with equal keys (mean of the other coordinate), so that the key
 * is strictly increasing as pchip needs. Rates are compared in log space.
 */
function strictlyIncreasing(points: readonly RdPoint[], key: 'rate' | 'quality'): { x: number[]; y: number[] } {
  const pts = points
    .filter((p) => Number.isFinite(p.quality) && p.rate > 0 && Number.isFinite(p.rate))
    .map((p) => ({ x: key === 'rate' ? Math.log(p.rate) : p.quality, y: key === 'rate' ? p.quality : Math.log(p.rate) }))
    .sort((a, b) => a.x - b.x);
  const x: number[] = [];
  const y: number[] = [];
  let count = 0;
  for (const p of pts) {
    if (x.length > 0 && p.x === x[x.length - 1]) {
      y[y.length - 1] = (y[y.length - 1] * count + p.y) / (count + 1);
      count++;
    } else {
      x.push(p.x);
      y.push(p.y);
      count = 1;
    }
  }
  return { x, y };
}

/**
 * Bjøntegaard delta rate of `test` against `anchor`: the mean relative rate difference over the
 * quality interval both curves cover, from PCHIP fits of ln(rate) as a function of quality:
 * exp(mean(ln r_test − ln r_anchor)) − 1. −0.2 means the test codec needs 20% fewer bits for the
 * same quality. Null when a curve has fewer than 2 distinct qualities or the ranges do not overlap.
 * Points with non-finite quality (identical images) are ignored.
 */
export function bdRate(anchor: readonly RdPoint[], test: readonly RdPoint[]): number | null {
  const a = strictlyIncreasing(anchor, 'quality');
  const t = strictlyIncreasing(test, 'quality');
  if (a.x.length < 2 || t.x.length < 2) return null;
  const lo = Math.max(a.x[0], t.x[0]);
  const hi = Math.min(a.x[a.x.length - 1], t.x[t.x.length - 1]);
  if (!(hi > lo)) return null;
  const fa = pchip(a.x, a.y);
  const ft = pchip(t.x, t.y);
  const meanDiff = (ft.integral(lo, hi) - fa.integral(lo, hi)) / (hi - lo);
  return Math.exp(meanDiff) - 1;
}

/** Where a rate lies relative to a curve's rates. */
export type RateRange = 'inside' | 'below' | 'above';

/**
 * A curve's quality at `rate`, by PCHIP in log(rate). Outside the curve's rate range there is no
 * value (no extrapolation): `quality` is null and `range` says on which side the rate lies.
 */
export function qualityAtRate(curve: readonly RdPoint[], rate: number): { quality: number | null; range: RateRange } {
  const c = strictlyIncreasing(curve, 'rate');
  const x = Math.log(rate);
  if (c.x.length === 0 || x < c.x[0]) return { quality: null, range: 'below' };
  if (x > c.x[c.x.length - 1]) return { quality: null, range: 'above' };
  if (c.x.length === 1) return { quality: c.y[0], range: 'inside' };
  return { quality: pchip(c.x, c.y).at(x), range: 'inside' };
}
