/**
 * The pairwise-MI heat map of a codebook analysis as SVG text (no Node APIs: the CLI turns it
 * into PNG with sharp, a browser can show it as is). Layout as in the DQ paper's Fig. 3: one
 * M×M matrix per level, the diagonal holds each codebook's entropy, the upper triangle the MI
 * between two codebooks at the same position, the lower triangle stays empty. Entropy and MI share
 * one colour scale from 0 to log2 K bits, so redundancy shows as colour next to the diagonal.
 */
import type { LevelAnalysis } from './analysis.js';

export interface HeatmapOptions {
  /** First line of the image (e.g. the model and the data). */
  title?: string;
}

const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';
const PAD = 16;
const LABEL = 28;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Sequential blues: t in [0, 1] → #f7fbff … #08306b. */
function colour(t: number): string {
  const u = Math.min(1, Math.max(0, t));
  const a = [0xf7, 0xfb, 0xff];
  const b = [0x08, 0x30, 0x6b];
  return `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * u)).join(',')})`;
}

function cellSize(M: number): number {
  return Math.max(14, Math.min(52, Math.floor(440 / M)));
}

function text(x: number, y: number, s: string, size: number, extra = ''): string {
  return `<text x="${x}" y="${y}" font-family="${FONT}" font-size="${size}" ${extra}>${esc(s)}</text>`;
}

function fmt(v: number | null, d = 2): string {
  return v === null ? '–' : v.toFixed(d);
}

function caption(a: LevelAnalysis): string[] {
  const s = a.summary;
  if (s.meanPairwiseMiBits === null) return [`mean entropy ${fmt(s.meanEntropyBits)} bits; M = 1: no pairs`];
  return [
    `mean pairwise MI ${fmt(s.meanPairwiseMiBits, 3)} bits = ${(100 * (s.miToEntropy ?? 0)).toFixed(1)}% of mean entropy ${fmt(s.meanEntropyBits)}`,
    `Miller–Madow ${fmt(s.meanPairwiseMiCorrectedBits, 3)}; independent-codebook baseline ${fmt(s.meanPairwiseMiIndependentBits, 3)}`,
  ];
}

/** One level's matrix, its labels and caption, with the top-left corner at (x0, y0). */
function panel(a: LevelAnalysis, x0: number, y0: number): string {
  const c = cellSize(a.M);
  const scale = Math.log2(a.K);
  const gx = x0 + LABEL;
  const gy = y0 + 24 + LABEL;
  const out: string[] = [text(x0, y0 + 14, `level ${a.level}${a.level === 0 ? ' (top)' : ''}${a.stride ? `, stride ${a.stride}` : ''}: M=${a.M}, K=${a.K}, ${a.positions} positions`, 13, 'font-weight="bold"')];
  for (let i = 0; i < a.M; i++) {
    if (c >= 20 || i % 2 === 0) {
      out.push(text(gx + i * c + c / 2, gy - 8, `c${i}`, 10, 'text-anchor="middle"'));
      out.push(text(gx - 6, gy + i * c + c / 2 + 4, `c${i}`, 10, 'text-anchor="end"'));
    }
    for (let j = i; j < a.M; j++) {
      const v = a.mi[i][j];
      const t = v / scale;
      const x = gx + j * c;
      const y = gy + i * c;
      out.push(`<rect x="${x}" y="${y}" width="${c}" height="${c}" fill="${colour(t)}" stroke="${i === j ? '#333' : '#ccc'}" stroke-width="${i === j ? 1.5 : 0.5}"/>`);
      if (c >= 30) out.push(text(x + c / 2, y + c / 2 + 4, v.toFixed(2), 11, `text-anchor="middle" fill="${t > 0.55 ? '#fff' : '#111'}"`));
    }
  }
  caption(a).forEach((line, k) => out.push(text(x0, gy + a.M * c + 18 + 15 * k, line, 11)));
  return out.join('\n');
}

function panelWidth(a: LevelAnalysis): number {
  return Math.max(LABEL + a.M * cellSize(a.M), 400);
}

function panelHeight(a: LevelAnalysis): number {
  return 24 + LABEL + a.M * cellSize(a.M) + 18 + 30;
}

function legend(x0: number, y0: number, width: number, Ks: number[]): string {
  const same = Ks.every((k) => k === Ks[0]);
  const steps = 24;
  const w = width / steps;
  const cells = Array.from({ length: steps }, (_, k) => `<rect x="${x0 + k * w}" y="${y0}" width="${w + 0.5}" height="10" fill="${colour((k + 0.5) / steps)}"/>`);
  return [
    ...cells,
    text(x0, y0 + 24, '0 bits', 10),
    text(x0 + width, y0 + 24, same ? `log2 K = ${+Math.log2(Ks[0]).toFixed(2)} bits` : 'log2 K of the level', 10, 'text-anchor="end"'),
    text(x0 + width / 2, y0 + 24, 'diagonal: entropy H(ci); upper triangle: MI I(ci; cj) at the same position', 10, 'text-anchor="middle"'),
  ].join('\n');
}

/** The heat map of all levels, side by side, as an SVG document. */
export function miHeatmapSvg(levels: readonly LevelAnalysis[], opts: HeatmapOptions = {}): string {
  const head = opts.title ? 26 : 6;
  const widths = levels.map(panelWidth);
  const width = PAD * (levels.length + 1) + widths.reduce((a, b) => a + b, 0);
  const body = Math.max(...levels.map(panelHeight));
  const height = head + body + 40 + PAD;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
  ];
  if (opts.title) parts.push(text(PAD, 20, opts.title, 14, 'font-weight="bold"'));
  let x = PAD;
  levels.forEach((a, i) => {
    parts.push(panel(a, x, head + 4));
    x += widths[i] + PAD;
  });
  const lw = Math.min(width - 2 * PAD, 560);
  parts.push(legend(PAD, head + body + 8, lw, levels.map((a) => a.K)));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
