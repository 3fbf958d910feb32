/** Codebook analysis (core, pure): exact values on small cases, estimator behaviour, heat map. */
import { describe, expect, it } from 'vitest';
import { CodebookAnalyzer, miHeatmapSvg, type LevelIndices } from '../src/index.js';

/** One level from per-codebook index lists (each a 1 × n map). */
function level(K: number, ...books: number[][]): LevelIndices {
  const n = books[0].length;
  return { M: books.length, K, h: 1, w: n, indices: Uint16Array.from(books.flat()) };
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('CodebookAnalyzer', () => {
  it('exact histogram, entropy, perplexity, dead codes and MI on a small case', () => {
    const a = new CodebookAnalyzer([{ M: 3, K: 4, stride: 8 }]);
    // c1 is independent of c0 (all four pairs once); c2 is a copy of c0 under a relabelling.
    a.add([level(4, [0, 0, 1, 1], [0, 1, 0, 1], [3, 3, 2, 2])]);
    const [r] = a.report();
    expect([r.level, r.stride, r.M, r.K, r.positions]).toEqual([0, 8, 3, 4, 4]);
    expect(r.codebooks[0].histogram).toEqual([2, 2, 0, 0]);
    expect(r.codebooks[2].histogram).toEqual([0, 0, 2, 2]);
    for (const c of r.codebooks) {
      expect(c.entropyBits).toBeCloseTo(1, 12);
      expect(c.perplexity).toBeCloseTo(2, 12);
      expect([c.usedCodes, c.deadCodes]).toEqual([2, 2]);
    }
    expect(r.mi[0][1]).toBeCloseTo(0, 12);
    expect(r.mi[0][2]).toBeCloseTo(1, 12);
    expect(r.mi[1][2]).toBeCloseTo(0, 12);
    expect(r.mi[2][0]).toBe(r.mi[0][2]); // symmetric
    expect(r.mi[1][1]).toBeCloseTo(1, 12); // diagonal = entropy
    // Miller–Madow: + (m−1)/(2N ln 2) per entropy; for (c0, c2): 1/(8 ln 2) + 1/(8 ln 2) − 1/(8 ln 2).
    expect(r.miCorrected[0][2]).toBeCloseTo(1 + 1 / (8 * Math.LN2), 12);
    expect(r.summary.meanPairwiseMiBits).toBeCloseTo(1 / 3, 12);
    expect(r.summary.maxPairwiseMiBits).toBeCloseTo(1, 12);
    expect(r.summary.miToEntropy).toBeCloseTo(1 / 3, 12);
    expect(r.summary.deadCodes).toBe(6);
  });

  it('independent uniform codebooks: entropy ≈ log2 K, MI ≈ the independence baseline, Miller–Madow ≈ 0', () => {
    const rand = lcg(7);
    const K = 16, n = 40_000;
    const books = Array.from({ length: 4 }, () => Array.from({ length: n }, () => Math.floor(rand() * K)));
    const a = new CodebookAnalyzer([{ M: 4, K }]);
    a.add([level(K, ...books)]);
    const s = a.report()[0].summary;
    expect(s.meanEntropyBits).toBeGreaterThan(3.99);
    // Plug-in bias under independence ≈ (K−1)² / (2N ln 2) = 0.0041 bits.
    const bias = (K - 1) ** 2 / (2 * n * Math.LN2);
    expect(s.meanPairwiseMiBits!).toBeGreaterThan(bias / 2);
    expect(s.meanPairwiseMiBits!).toBeLessThan(bias * 2);
    expect(s.meanPairwiseMiIndependentBits!).toBeGreaterThan(bias / 2);
    expect(s.meanPairwiseMiIndependentBits!).toBeLessThan(bias * 2);
    expect(Math.abs(s.meanPairwiseMiCorrectedBits!)).toBeLessThan(bias / 4);
  });

  it('a codebook that repeats another (noisily) shows MI next to its entropy', () => {
    const rand = lcg(3);
    const K = 32, n = 30_000;
    const c0 = Array.from({ length: n }, () => Math.floor(rand() * K));
    const c1 = c0.map((v) => (rand() < 0.9 ? (v * 5 + 1) % K : Math.floor(rand() * K)));
    const a = new CodebookAnalyzer([{ M: 2, K }]);
    a.add([level(K, c0, c1)]);
    const r = a.report()[0];
    expect(r.mi[0][1]).toBeGreaterThan(3.5);
    expect(r.mi[0][1]).toBeLessThan(r.mi[0][0]);
    expect(r.miIndependent[0][1]).toBeLessThan(0.05);
  });

  it('streams: images added one by one equal their concatenation; report is reproducible', () => {
    const rand = lcg(11);
    const img = (n: number) => Array.from({ length: 3 }, () => Array.from({ length: n }, () => Math.floor(rand() * 8)));
    const x = img(50), y = img(70);
    const parts = new CodebookAnalyzer([{ M: 3, K: 8 }]);
    parts.add([level(8, ...x)]);
    parts.add([level(8, ...y)]);
    const whole = new CodebookAnalyzer([{ M: 3, K: 8 }]);
    whole.add([level(8, ...x.map((b, i) => [...b, ...y[i]]))]);
    expect(parts.images).toBe(2);
    expect(parts.report(5)).toEqual(whole.report(5));
    expect(parts.report(5)).toEqual(parts.report(5));
  });

  it('levels are independent; M = 1 has no pairs; large K uses sparse joint counts', () => {
    const a = new CodebookAnalyzer([{ M: 1, K: 4 }, { M: 2, K: 1024 }]);
    a.add([level(4, [0, 1, 2, 3]), level(1024, [1000, 5, 5, 7], [1000, 6, 6, 8])]);
    const [top, bottom] = a.report();
    expect(top.summary.meanPairwiseMiBits).toBeNull();
    expect(top.summary.miToEntropy).toBeNull();
    expect(top.codebooks[0].entropyBits).toBeCloseTo(2, 12);
    expect(bottom.codebooks[0].usedCodes).toBe(3);
    expect(bottom.mi[0][1]).toBeCloseTo(1.5, 12); // c1 is a function of c0: MI = H(c0) = 1.5 bits
  });

  it('refuses index maps that do not fit', () => {
    const a = new CodebookAnalyzer([{ M: 2, K: 4 }]);
    expect(() => a.add([])).toThrow(/got 0 levels, the analysis expects 1/);
    expect(() => a.add([level(8, [0], [1])])).toThrow(/M=2, K=8 but the analysis expects M=2, K=4/);
    expect(() => a.add([level(4, [0], [4])])).toThrow(/index 4 is outside \[0, 4\)/);
    expect(() => a.add([{ M: 2, K: 4, h: 1, w: 2, indices: new Uint16Array(3) }])).toThrow(/3 indices for shape 2×1×2/);
    expect(a.images).toBe(0);
  });
});

describe('miHeatmapSvg', () => {
  it('draws the upper triangle of each level, with values, escaped text and a legend', () => {
    const a = new CodebookAnalyzer([{ M: 3, K: 4, stride: 16 }, { M: 2, K: 4, stride: 8 }]);
    a.add([level(4, [0, 0, 1, 1], [0, 1, 0, 1], [3, 3, 2, 2]), level(4, [0, 1, 2, 3], [0, 1, 2, 3])]);
    const svg = miHeatmapSvg(a.report(), { title: 'model <a&b>' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('model &#60;a&#38;b&#62;');
    expect(svg).not.toContain('<a&b>');
    const cells = svg.match(/<rect x="[\d.]+" y="[\d.]+" width="\d+" height="\d+" fill/g) ?? [];
    expect(cells).toHaveLength(3 * 4 / 2 + 2 * 3 / 2); // M(M+1)/2 per level
    expect(svg).toContain('level 0 (top), stride 16: M=3, K=4, 4 positions');
    expect(svg).toMatch(/>1\.00<\/text>/); // the copied codebook's MI
    expect(svg).toContain('log2 K = 2 bits');
  });
});
