import { describe, expect, it } from 'vitest';
import { bdRate, gaussianWindow, msSsim, msSsimDb, MSSSIM_MIN_SIZE, MSSSIM_WEIGHTS, pchip, psnr, qualityAtRate, type RdPoint } from '../src/index.js';
import { rng } from './synthetic.js';

/** A smooth-ish random 8-bit image (blurred noise plus gradients), interleaved. */
function image(w: number, h: number, channels: number, seed: number): Uint8Array {
  const rand = rng(seed);
  const px = new Uint8Array(w * h * channels);
  const phase = Array.from({ length: channels }, () => rand() * 6);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        const v = 128 + 60 * Math.sin(x / 13 + phase[c]) * Math.cos(y / 17) + 40 * (rand() - 0.5);
        px[(y * w + x) * channels + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}

function addNoise(px: Uint8Array, amount: number, seed: number): Uint8Array {
  const rand = rng(seed);
  return px.map((v) => Math.max(0, Math.min(255, Math.round(v + amount * (rand() - 0.5) * 2))));
}

describe('psnr', () => {
  it('matches 10·log10(255²/MSE) and is Infinity for identical inputs', () => {
    const a = new Uint8Array(300);
    const b = new Uint8Array(300).fill(1);
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10(65025), 12); // MSE 1: 48.1308 dB
    expect(psnr(a, b)).toBeCloseTo(48.1308, 4);
    const c = a.map((_, i) => (i % 3 === 0 ? 4 : 0)); // MSE 16/3
    expect(psnr(a, c)).toBeCloseTo(10 * Math.log10(65025 / (16 / 3)), 12);
    expect(psnr(b, b)).toBe(Infinity);
    expect(() => psnr(a, new Uint8Array(2))).toThrow(RangeError);
  });
});

describe('MS-SSIM (Wang et al. 2003)', () => {
  const W = MSSSIM_MIN_SIZE + 15;
  const H = MSSSIM_MIN_SIZE + 8;

  it('uses the paper weights and a normalised 11-tap σ 1.5 Gaussian', () => {
    expect([...MSSSIM_WEIGHTS]).toEqual([0.0448, 0.2856, 0.3001, 0.2363, 0.1333]);
    const g = gaussianWindow();
    expect(g.length).toBe(11);
    expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 14);
    expect(g[5] / g[4]).toBeCloseTo(Math.exp(1 / (2 * 1.5 * 1.5)), 12);
    expect(MSSSIM_MIN_SIZE).toBe(176);
  });

  it('is exactly 1 for identical images (RGB and grey)', () => {
    const a = image(W, H, 3, 1);
    expect(msSsim(a, a, W, H, 3)).toBe(1);
    const g = image(W, H, 1, 2);
    expect(msSsim(g, g, W, H, 1)).toBe(1);
    expect(msSsimDb(1)).toBe(Infinity);
  });

  it('has the closed form l^β5 on flat images (every cs = 1, l the same at every scale)', () => {
    const a = new Uint8Array(W * H).fill(100);
    const b = new Uint8Array(W * H).fill(110);
    const C1 = (0.01 * 255) ** 2;
    const l = (2 * 100 * 110 + C1) / (100 ** 2 + 110 ** 2 + C1);
    expect(msSsim(a, b, W, H, 1)).toBeCloseTo(l ** 0.1333, 12);
  });

  it('averages per-channel values over RGB', () => {
    const a = image(W, H, 3, 3);
    const b = addNoise(a, 20, 4);
    const plane = (px: Uint8Array, c: number): Uint8Array => Uint8Array.from({ length: W * H }, (_, i) => px[i * 3 + c]);
    const perChannel = [0, 1, 2].map((c) => msSsim(plane(a, c), plane(b, c), W, H, 1));
    expect(msSsim(a, b, W, H, 3)).toBeCloseTo((perChannel[0] + perChannel[1] + perChannel[2]) / 3, 12);
  });

  it('is symmetric, below 1 for distorted images, and falls as the distortion grows', () => {
    const a = image(W, H, 3, 5);
    const values = [4, 16, 48].map((n) => msSsim(a, addNoise(a, n, 6), W, H, 3));
    expect(values[0]).toBeLessThan(1);
    expect(values[0]).toBeGreaterThan(values[1]);
    expect(values[1]).toBeGreaterThan(values[2]);
    const b = addNoise(a, 16, 6);
    expect(msSsim(b, a, W, H, 3)).toBeCloseTo(msSsim(a, b, W, H, 3), 12);
  });

  it('refuses images too small for 5 scales, and mismatched sizes', () => {
    const a = new Uint8Array(175 * 200);
    expect(() => msSsim(a, a, 175, 200, 1)).toThrow(/at least 176/);
    expect(() => msSsim(new Uint8Array(W * H), new Uint8Array(W * H - 1), W, H, 1)).toThrow(RangeError);
  });
});

describe('PCHIP', () => {
  it('passes through the points, reproduces straight lines and integrates them exactly', () => {
    const f = pchip([0, 1, 3, 4], [1, 3, 7, 9]); // y = 2x + 1
    for (const x of [0, 0.5, 1, 2.2, 4]) expect(f.at(x)).toBeCloseTo(2 * x + 1, 12);
    expect(f.integral(0.5, 3.5)).toBeCloseTo(3.5 ** 2 + 3.5 - (0.25 + 0.5), 12);
  });

  it('stays monotone where the data are (no overshoot at a plateau)', () => {
    const xs = [0, 1, 2, 3, 4, 5];
    const ys = [0, 0.1, 0.2, 5, 5.1, 5.1];
    const f = pchip(xs, ys);
    let prev = -Infinity;
    for (let x = 0; x <= 5; x += 0.01) {
      const v = f.at(x);
      expect(v).toBeGreaterThanOrEqual(prev - 1e-12);
      expect(v).toBeLessThanOrEqual(5.1 + 1e-12);
      prev = v;
    }
  });
});

describe('Bjøntegaard delta rate', () => {
  // A plausible convex RD curve: PSNR = 30 + 6·log2(rate/0.5).
  const anchor: RdPoint[] = [0.1, 0.2, 0.4, 0.8, 1.6].map((rate) => ({ rate, quality: 30 + 6 * Math.log2(rate / 0.5) }));

  it('is 0 for a curve against itself', () => {
    expect(bdRate(anchor, anchor)).toBeCloseTo(0, 12);
  });

  it('gives the rate factor for a curve whose rates are scaled (−20%, +25%)', () => {
    const scaled = (f: number): RdPoint[] => anchor.map((p) => ({ rate: p.rate * f, quality: p.quality }));
    expect(bdRate(anchor, scaled(0.8))).toBeCloseTo(-0.2, 10);
    expect(bdRate(anchor, scaled(1.25))).toBeCloseTo(0.25, 10);
    expect(bdRate(scaled(1.25), anchor)).toBeCloseTo(-0.2, 10);
  });

  it('does not depend on which points sample the same curve', () => {
    const resampled: RdPoint[] = [0.15, 0.3, 0.5, 0.7, 1.2].map((r) => ({ rate: r * 0.9, quality: 30 + 6 * Math.log2(r / 0.5) }));
    expect(bdRate(anchor, resampled)).toBeCloseTo(-0.1, 3);
  });

  it('is null without 2 points per curve or without a common quality range', () => {
    expect(bdRate(anchor, [{ rate: 0.3, quality: 28 }])).toBeNull();
    const far: RdPoint[] = [{ rate: 1, quality: 60 }, { rate: 2, quality: 70 }];
    expect(bdRate(anchor, far)).toBeNull();
  });
});

describe('quality at a rate', () => {
  const curve: RdPoint[] = [
    { rate: 0.2, quality: 25 },
    { rate: 0.4, quality: 29 },
    { rate: 0.8, quality: 33 },
  ];

  it('interpolates in log-rate, exact at the points and on a log-linear curve', () => {
    expect(qualityAtRate(curve, 0.4)).toEqual({ quality: 29, range: 'inside' });
    const mid = qualityAtRate(curve, Math.sqrt(0.2 * 0.4));
    expect(mid.range).toBe('inside');
    expect(mid.quality).toBeCloseTo(27, 10);
  });

  it('says on which side a rate outside the sweep lies instead of extrapolating', () => {
    expect(qualityAtRate(curve, 0.1)).toEqual({ quality: null, range: 'below' });
    expect(qualityAtRate(curve, 1.5)).toEqual({ quality: null, range: 'above' });
  });
});
