import { describe, expect, it } from 'vitest';
import { rdPlotSvg } from '../src/bench/plot.js';
import type { Curve } from '../src/bench/report.js';

/** `n` dqcodec operating points with long labels, plus a JPEG sweep. */
function curves(n: number): Curve[] {
  const point = (bpp: number, psnr: number) => ({ setting: 1, bpp, psnr, msssim: 0.9, msssimDb: 10 + psnr / 10, images: 5 });
  const dq: Curve[] = Array.from({ length: n }, (_, i) => ({ codec: 'dqcodec', label: `dqcodec runs/m-model-number-${i} top 1/2`, points: [point(0.05 + 0.05 * i, 22 + i)] }));
  return [...dq, { codec: 'jpeg', label: 'jpeg', points: [point(0.1, 25), point(0.5, 33)] }];
}

describe('rate–distortion plot', () => {
  it('a long legend wraps onto rows inside the plot, and ten dqcodec points get ten colours', () => {
    const svg = rdPlotSvg(curves(10), 'test');
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    const legend = [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)">dqcodec runs\/m-model-number/g)];
    expect(legend).toHaveLength(10);
    expect(new Set(legend.map((m) => m[2])).size).toBeGreaterThan(1); // more than one row
    for (const m of legend) expect(Number(m[1])).toBeLessThan(width);
    const colours = new Set([...svg.matchAll(/<circle [^>]*r="6" fill="(#[0-9a-f]+)" stroke/g)].map((m) => m[1]));
    expect(colours.size).toBe(10);
    // The notes sit below the last legend row.
    const lastRow = Math.max(...legend.map((m) => Number(m[2])));
    const note = Number(/<text x="[\d.]+" y="([\d.]+)" class="note">/.exec(svg)![1]);
    expect(note).toBeGreaterThan(lastRow);
  });

  it('a model family is one curve: its qualities joined by a line under one legend entry', () => {
    const point = (bpp: number, psnr: number) => ({ setting: 1, bpp, psnr, msssim: 0.9, msssimDb: 10 + psnr / 10, images: 5 });
    const fam: Curve[] = [3, 1, 2].map((q) => ({ codec: 'dqcodec', label: `dqcodec dqc-tc-q${q}`, points: [point(0.1 * q, 25 + q)] }));
    const svg = rdPlotSvg([...fam, { codec: 'dqcodec', label: 'dqcodec default', points: [point(0.5, 29)] }, { codec: 'jpeg', label: 'jpeg', points: [point(0.1, 25), point(0.5, 33)] }], 'test');
    expect([...svg.matchAll(/>dqcodec dqc-tc, qualities 1–3</g)]).toHaveLength(1);
    expect(svg).not.toMatch(/dqc-tc-q2/);
    expect(svg).toMatch(/>dqcodec default</);
    // Per panel: one polyline for the family, one for JPEG; the single point has none.
    expect([...svg.matchAll(/<polyline /g)]).toHaveLength(4);
  });
});
