/**
 * Rate–distortion plot as a standalone SVG: PSNR and MS-SSIM (dB) against bits per pixel, one
 * line per codec sweep, dqcodec's operating points as large labelled markers. The rate axis is
 * logarithmic because the sweeps span two orders of magnitude.
 */
import type { Curve } from './report.js';

const COLOURS: Record<string, string> = { jpeg: '#d62728', webp: '#2ca02c', avif: '#1f77b4' };
// Ten distinct colours for dqcodec's points before any repeats (none of them the codecs' own).
const DQ_COLOURS = ['#111111', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#ad494a'];
const NAMES: Record<string, string> = { jpeg: 'JPEG (mozjpeg)', webp: 'WebP', avif: 'AVIF' };

const PANEL = { w: 520, h: 380, left: 62, right: 18, top: 40, bottom: 52 };
const LEGEND_ROW = 20;

interface Axis {
  lo: number;
  hi: number;
  toPx: (v: number) => number;
  ticks: number[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function logAxis(lo: number, hi: number, px0: number, px1: number): Axis {
  const a = Math.log(lo) - 0.08;
  const b = Math.log(hi) + 0.08;
  const ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20].filter((t) => Math.log(t) >= a && Math.log(t) <= b);
  return { lo: Math.exp(a), hi: Math.exp(b), toPx: (v) => px0 + ((Math.log(v) - a) / (b - a)) * (px1 - px0), ticks };
}

function linearAxis(lo: number, hi: number, px0: number, px1: number): Axis {
  const span = Math.max(hi - lo, 1);
  const step = [1, 2, 5, 10, 20].find((s) => span / s <= 8) ?? 50;
  const a = Math.floor((lo - 0.5) / step) * step;
  const b = Math.ceil((hi + 0.5) / step) * step;
  const ticks: number[] = [];
  for (let t = a; t <= b + 1e-9; t += step) ticks.push(t);
  return { lo: a, hi: b, toPx: (v) => px0 + ((v - a) / (b - a)) * (px1 - px0), ticks };
}

type Metric = 'psnr' | 'msssimDb';

function panel(curves: Curve[], metric: Metric, x0: number, title: string): string[] {
  const pts = curves.flatMap((c) => c.points).filter((p) => Number.isFinite(p[metric]));
  const xs = logAxis(Math.min(...pts.map((p) => p.bpp)), Math.max(...pts.map((p) => p.bpp)), x0 + PANEL.left, x0 + PANEL.w - PANEL.right);
  const ys = linearAxis(Math.min(...pts.map((p) => p[metric])), Math.max(...pts.map((p) => p[metric])), PANEL.h - PANEL.bottom, PANEL.top);
  const out: string[] = [];
  const [l, r, t, b] = [x0 + PANEL.left, x0 + PANEL.w - PANEL.right, PANEL.top, PANEL.h - PANEL.bottom];
  for (const v of xs.ticks) {
    const x = xs.toPx(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${t}" x2="${x}" y2="${b}" class="grid"/>`, `<text x="${x}" y="${b + 18}" text-anchor="middle">${v}</text>`);
  }
  for (const v of ys.ticks) {
    const y = ys.toPx(v).toFixed(1);
    out.push(`<line x1="${l}" y1="${y}" x2="${r}" y2="${y}" class="grid"/>`, `<text x="${l - 6}" y="${Number(y) + 4}" text-anchor="end">${v}</text>`);
  }
  out.push(
    `<rect x="${l}" y="${t}" width="${r - l}" height="${b - t}" class="frame"/>`,
    `<text x="${(l + r) / 2}" y="${b + 40}" text-anchor="middle">bits per pixel (log scale)</text>`,
    `<text x="${x0 + 16}" y="${(t + b) / 2}" text-anchor="middle" transform="rotate(-90 ${x0 + 16} ${(t + b) / 2})">${metric === 'psnr' ? 'PSNR (dB, RGB)' : 'MS-SSIM (dB)'}</text>`,
    `<text x="${(l + r) / 2}" y="${t - 12}" text-anchor="middle" class="title">${esc(title)}</text>`,
  );
  let dq = 0;
  for (const c of curves) {
    const colour = c.codec === 'dqcodec' ? DQ_COLOURS[dq++ % DQ_COLOURS.length] : (COLOURS[c.codec] ?? '#555');
    const cps = c.points.filter((p) => Number.isFinite(p[metric]));
    const coords = cps.map((p) => `${xs.toPx(p.bpp).toFixed(1)},${ys.toPx(p[metric]).toFixed(1)}`);
    if (coords.length > 1) out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.8"/>`);
    const radius = c.codec === 'dqcodec' ? 6 : 3;
    for (const xy of coords) {
      const [x, y] = xy.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="${radius}" fill="${colour}"${c.codec === 'dqcodec' ? ' stroke="#fff" stroke-width="1.5"' : ''}/>`);
    }
  }
  return out;
}

/** Legend entries in rows that fit the plot's width; returns the SVG and the number of rows. */
function legend(curves: Curve[], y: number, width: number): { svg: string[]; rows: number } {
  const out: string[] = [];
  let x = PANEL.left;
  let row = 0;
  let dq = 0;
  for (const c of curves) {
    const colour = c.codec === 'dqcodec' ? DQ_COLOURS[dq++ % DQ_COLOURS.length] : (COLOURS[c.codec] ?? '#555');
    const name = c.codec === 'dqcodec' ? c.label : (NAMES[c.codec] ?? c.codec);
    const w = 30 + name.length * 7.2;
    if (x > PANEL.left && x + w > width - PANEL.right) {
      row++;
      x = PANEL.left;
    }
    const cy = y + row * LEGEND_ROW;
    out.push(`<circle cx="${x}" cy="${cy - 4}" r="${c.codec === 'dqcodec' ? 6 : 4}" fill="${colour}"/>`, `<text x="${x + 12}" y="${cy}">${esc(name)}</text>`);
    x += w;
  }
  return { svg: out, rows: row + 1 };
}

/** Greedy word wrap at `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line.length > 0 ? `${line} ${word}` : word;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/**
 * A model family's qualities ("dqcodec <name>-q1" … "-qN", all levels) become one curve labelled
 * "dqcodec <name>, qualities a–b", so a family reads as one codec; other points stay as they are.
 */
export function groupFamilies(curves: Curve[]): Curve[] {
  const member = (c: Curve): RegExpExecArray | null => (c.codec === 'dqcodec' ? /^(.+)-q(\d+)$/.exec(c.label) : null);
  const out: Curve[] = [];
  const families = new Map<string, { curve: Curve; qualities: number[] }>();
  for (const c of curves) {
    const m = member(c);
    if (!m) {
      out.push(c);
      continue;
    }
    let f = families.get(m[1]);
    if (!f) {
      f = { curve: { codec: 'dqcodec', label: m[1], points: [] }, qualities: [] };
      families.set(m[1], f);
      out.push(f.curve);
    }
    f.curve.points.push(...c.points);
    f.qualities.push(Number(m[2]));
  }
  for (const [name, f] of families) {
    f.curve.points.sort((a, b) => a.bpp - b.bpp);
    if (f.qualities.length > 1) f.curve.label = `${name}, qualities ${Math.min(...f.qualities)}–${Math.max(...f.qualities)}`;
  }
  return out;
}

/** The two-panel plot; `subtitle` says what was measured (images, machine). */
export function rdPlotSvg(allCurves: Curve[], subtitle: string): string {
  const curves = groupFamilies(allCurves);
  const width = PANEL.w * 2;
  const notes = wrap(subtitle, 150);
  const keys = legend(curves, PANEL.h + 14, width);
  const extra = (keys.rows - 1) * LEGEND_ROW; // legend rows past the first push the notes down
  const height = PANEL.h + 40 + extra + 15 * notes.length;
  const body = [
    ...panel(curves, 'psnr', 0, 'PSNR against rate'),
    ...panel(curves, 'msssimDb', PANEL.w, 'MS-SSIM against rate'),
    ...keys.svg,
    ...notes.map((line, i) => `<text x="${PANEL.left}" y="${PANEL.h + 42 + extra + 15 * i}" class="note">${esc(line)}</text>`),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    '<style>.grid{stroke:#e4e4e4;stroke-width:1}.frame{fill:none;stroke:#444;stroke-width:1}.title{font-size:14px;font-weight:bold}.note{fill:#555;font-size:11px}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
