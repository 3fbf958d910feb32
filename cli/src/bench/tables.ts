/** The human-readable report: Markdown tables (they read fine in a terminal too). */
import type { BdRateResult, BenchReport, Curve, PsnrAtBpp } from './report.js';

const f = (v: number | null, d = 2): string => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(d));
const pct = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);

const CODEC_NAMES: Record<string, string> = { jpeg: 'JPEG (mozjpeg)', webp: 'WebP', avif: 'AVIF' };
const codecName = (c: string): string => CODEC_NAMES[c] ?? c;

function curveRows(c: Curve): string[] {
  return c.points.map((p) => {
    const setting = c.codec === 'dqcodec' ? `levels ${p.setting}` : `q ${p.setting}`;
    return `| ${c.codec === 'dqcodec' ? `**${c.label}**` : codecName(c.codec)} | ${setting} | ${f(p.bpp, 3)} | ${f(p.psnr)} | ${f(p.msssim, 4)} | ${f(p.msssimDb)} |`;
  });
}

function curvesTable(r: BenchReport): string[] {
  return [
    `Mean over ${r.images.length} images:`,
    '',
    '| codec | setting | bpp | PSNR dB | MS-SSIM | MS-SSIM dB |',
    '|---|---|---:|---:|---:|---:|',
    ...r.curves.flatMap(curveRows),
  ];
}

/** Why there is no value: dqcodec's rate lies outside the codec's sweep. */
function rangeNote(p: PsnrAtBpp): string {
  const parts = [];
  if (p.below > 0) parts.push(`${p.below} below its lowest rate`);
  if (p.above > 0) parts.push(`${p.above} above its highest rate`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function psnrAtBppTable(rows: PsnrAtBpp[], images: number): string[] {
  return [
    "Each codec's PSNR at dqcodec's bpp, per image (interpolated in that image's sweep, never extrapolated); means over the images whose dqcodec rate lies inside the sweep:",
    '',
    '| dqcodec point | vs | images in sweep | dqcodec bpp | dqcodec PSNR | codec PSNR at that bpp | Δ PSNR (dqcodec − codec) | dqcodec ≥ codec |',
    '|---|---|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (p) =>
        `| ${p.operatingPoint} | ${codecName(p.against)} | ${p.inside}/${images}${rangeNote(p)} | ${f(p.meanDqcodecBpp, 3)} | ${f(p.meanDqcodecPsnr)} | ${f(p.meanCodecPsnr)} | ${f(p.meanDelta)} | ${p.inside > 0 ? `${p.dqcodecAtLeastAsGood}/${p.inside}` : '—'} |`,
    ),
    '',
    'The same on the mean curves (the codec\'s mean curve at dqcodec\'s mean bpp):',
    '',
    '| dqcodec point | vs | dqcodec bpp | dqcodec PSNR | codec PSNR at that bpp | Δ PSNR |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((p) => {
      const m = p.meanCurve;
      const codec = m.codecPsnr !== null ? f(m.codecPsnr) : `outside the sweep (${m.range} its rates)`;
      return `| ${p.operatingPoint} | ${codecName(p.against)} | ${f(m.bpp, 3)} | ${f(m.dqcodecPsnr)} | ${codec} | ${m.codecPsnr !== null ? f(m.dqcodecPsnr - m.codecPsnr) : '—'} |`;
    }),
  ];
}

/** A BD-rate cell: the mean, the images it is over, and why the others have none. */
function bdCell(b: BdRateResult, k: 'psnr' | 'msssimDb', images: number): string {
  const counts = new Map<string, number>();
  for (const p of b.perImage) {
    const gap = p.gap[k];
    if (gap) counts.set(gap, (counts.get(gap) ?? 0) + 1);
  }
  const why = counts.size === 0 ? '' : `; ${[...counts].map(([g, n]) => `${n}: ${g}`).join('; ')}`;
  return `${pct(b[k])} (${b.images[k]}/${images} images${why})`;
}

function bdTable(rows: BdRateResult[], images: number, dqPoints: number): string[] {
  const lines = [
    `BD-rate of dqcodec against each codec (dqcodec curve: ${dqPoints} operating point${dqPoints === 1 ? '' : 's'} per image; negative = dqcodec needs fewer bits; mean over the images where defined):`,
    '',
    '| vs | BD-rate (PSNR) | BD-rate (MS-SSIM dB) |',
    '|---|---:|---:|',
    ...rows.map((b) => `| ${codecName(b.against)} | ${bdCell(b, 'psnr', images)} | ${bdCell(b, 'msssimDb', images)} |`),
  ];
  if (dqPoints < 2) lines.push('', 'BD-rate needs at least 2 dqcodec operating points (several --model dirs, or --levels all,1).');
  return lines;
}

export function renderTables(r: BenchReport): string {
  const dqPoints = r.operatingPoints.length;
  return [
    ...curvesTable(r),
    '',
    ...psnrAtBppTable(r.psnrAtBpp, r.images.length),
    '',
    ...bdTable(r.bdRate, r.images.length, dqPoints),
    '',
  ].join('\n');
}
