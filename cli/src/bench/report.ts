/**
 * From measurements to the report: mean curves, BD-rates, each codec's PSNR at dqcodec's rate,
 * the JSON document (schema "dqcodec-bench-rd/1", documented in docs/bench.md) and the tables.
 */
import { bdRate, msSsimDb, qualityAtRate, type RateRange, type RdPoint } from '@dqcodec/codec';
import type { CodecName, Measurement } from './measure.js';

export const SCHEMA = 'dqcodec-bench-rd/1';

export interface CurvePoint {
  setting: number;
  /** Means over the images. MS-SSIM dB is the mean of per-image dB values. */
  bpp: number;
  psnr: number;
  msssim: number;
  msssimDb: number;
  images: number;
}

export interface Curve {
  codec: CodecName;
  label: string;
  points: CurvePoint[];
}

export interface PsnrAtBpp {
  operatingPoint: string;
  against: CodecName;
  perImage: { image: string; bpp: number; dqcodecPsnr: number; codecPsnr: number | null; range: RateRange }[];
  /** Over the images whose dqcodec rate lies inside the codec's sweep. */
  inside: number;
  below: number;
  above: number;
  meanDqcodecBpp: number | null;
  meanDqcodecPsnr: number | null;
  meanCodecPsnr: number | null;
  meanDelta: number | null;
  /** Images (inside the sweep) where dqcodec's PSNR ≥ the codec's at the same rate. */
  dqcodecAtLeastAsGood: number;
  /** The same question on the mean curves: the codec's mean curve at dqcodec's mean bpp. */
  meanCurve: { bpp: number; dqcodecPsnr: number; codecPsnr: number | null; range: RateRange };
}

/** Why a BD-rate is missing. */
export type BdRateGap = 'dqcodec has fewer than 2 points' | 'codec has fewer than 2 points' | 'no common quality range';

export interface BdRateResult {
  against: CodecName;
  /** Relative rate change of dqcodec at equal quality, mean over the images where it is defined (−0.2 = 20% fewer bits). */
  psnr: number | null;
  msssimDb: number | null;
  perImage: { image: string; psnr: number | null; msssimDb: number | null; gap: { psnr: BdRateGap | null; msssimDb: BdRateGap | null } }[];
  /** Images where each BD-rate is defined. */
  images: { psnr: number; msssimDb: number };
}

function bdGap(anchor: RdPoint[], test: RdPoint[], value: number | null): BdRateGap | null {
  if (value !== null) return null;
  const distinct = (pts: RdPoint[]): number => new Set(pts.filter((p) => Number.isFinite(p.quality)).map((p) => p.quality)).size;
  if (distinct(test) < 2) return 'dqcodec has fewer than 2 points';
  if (distinct(anchor) < 2) return 'codec has fewer than 2 points';
  return 'no common quality range';
}

export interface BenchReport {
  schema: typeof SCHEMA;
  date: string;
  command: string;
  environment: { node: string; platform: string; cpus: number; cpuModel: string; sharp: string; libvips: string };
  metrics: Record<'psnr' | 'msssim' | 'msssimDb' | 'bdRate' | 'psnrAtBpp' | 'means', string>;
  settings: Record<string, string>;
  operatingPoints: { label: string; modelDir: string; modelName: string; fingerprint: string; levels: number; totalLevels: number }[];
  images: { name: string; width: number; height: number; channels: number }[];
  measurements: (Omit<Measurement, 'psnr'> & { psnr: number | null; msssimDb: number | null })[];
  curves: Curve[];
  bdRate: BdRateResult[];
  psnrAtBpp: PsnrAtBpp[];
}

export const METRIC_NOTES: BenchReport['metrics'] = {
  psnr: 'dB, 10·log10(255²/MSE) with one MSE over all colour samples (R, G and B together; grey images: the grey plane); null when lossless',
  msssim: 'MS-SSIM of Wang et al. 2003: 5 scales, weights 0.0448/0.2856/0.3001/0.2363/0.1333, 11×11 Gaussian σ 1.5, K1 0.01, K2 0.03, L 255, 2×2 mean downsampling; per colour channel, then the mean over channels (not luma)',
  msssimDb: '−10·log10(1 − MS-SSIM)',
  bdRate: 'Bjøntegaard delta rate of dqcodec (all its operating points on an image form its curve) against each codec on the same image: PCHIP fits of ln(bpp) against quality, mean difference over the common quality range, exp(·) − 1; then the mean over images where defined (needs ≥ 2 points per curve and overlapping qualities)',
  psnrAtBpp: "each codec's PSNR at dqcodec's bpp on the same image, PCHIP of PSNR against ln(bpp) through the codec's sweep; no extrapolation: a dqcodec rate below the lowest or above the highest rate of the sweep is reported as such",
  means: 'curves are means over images of bpp, PSNR, MS-SSIM and MS-SSIM dB at each setting',
};

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

/** Mean curves, one per label, points ordered by bpp. */
export function meanCurves(ms: Measurement[]): Curve[] {
  return [...groupBy(ms, (m) => m.label)].map(([label, rows]) => ({
    codec: rows[0].codec,
    label,
    points: [...groupBy(rows, (m) => String(m.setting)).values()]
      .map((g) => ({
        setting: g[0].setting,
        bpp: mean(g.map((m) => m.bpp)),
        psnr: mean(g.map((m) => m.psnr)),
        msssim: mean(g.map((m) => m.msssim)),
        msssimDb: mean(g.map((m) => msSsimDb(m.msssim))),
        images: g.length,
      }))
      .sort((a, b) => a.bpp - b.bpp),
  }));
}

const rd = (rows: Measurement[], q: 'psnr' | 'msssimDb'): RdPoint[] => rows.map((m) => ({ rate: m.bpp, quality: q === 'psnr' ? m.psnr : msSsimDb(m.msssim) }));

export function bdRates(ms: Measurement[], codecs: CodecName[]): BdRateResult[] {
  const images = [...new Set(ms.map((m) => m.image))];
  return codecs.map((against) => {
    const perImage = images.map((image) => {
      const dq = ms.filter((m) => m.image === image && m.codec === 'dqcodec');
      const other = ms.filter((m) => m.image === image && m.codec === against);
      const psnr = bdRate(rd(other, 'psnr'), rd(dq, 'psnr'));
      const msssimDb = bdRate(rd(other, 'msssimDb'), rd(dq, 'msssimDb'));
      const gap = { psnr: bdGap(rd(other, 'psnr'), rd(dq, 'psnr'), psnr), msssimDb: bdGap(rd(other, 'msssimDb'), rd(dq, 'msssimDb'), msssimDb) };
      return { image, psnr, msssimDb, gap };
    });
    const meanOf = (k: 'psnr' | 'msssimDb'): number | null => {
      const v = perImage.map((p) => p[k]).filter((x): x is number => x !== null);
      return v.length > 0 ? mean(v) : null;
    };
    const defined = (k: 'psnr' | 'msssimDb'): number => perImage.filter((p) => p[k] !== null).length;
    return { against, psnr: meanOf('psnr'), msssimDb: meanOf('msssimDb'), perImage, images: { psnr: defined('psnr'), msssimDb: defined('msssimDb') } };
  });
}

export function psnrAtBpp(ms: Measurement[], curves: Curve[], codecs: CodecName[]): PsnrAtBpp[] {
  const out: PsnrAtBpp[] = [];
  for (const dqCurve of curves.filter((c) => c.codec === 'dqcodec')) {
    const points = ms.filter((m) => m.label === dqCurve.label);
    for (const against of codecs) {
      const perImage = points.map((p) => {
        const q = qualityAtRate(rd(ms.filter((m) => m.image === p.image && m.codec === against), 'psnr'), p.bpp);
        return { image: p.image, bpp: p.bpp, dqcodecPsnr: p.psnr, codecPsnr: q.quality, range: q.range };
      });
      const inside = perImage.filter((p) => p.codecPsnr !== null);
      const meanCurve = curves.find((c) => c.label === against);
      const dqMean = dqCurve.points[0];
      const atMean = qualityAtRate((meanCurve?.points ?? []).map((p) => ({ rate: p.bpp, quality: p.psnr })), dqMean.bpp);
      out.push({
        operatingPoint: dqCurve.label,
        against,
        perImage,
        inside: inside.length,
        below: perImage.filter((p) => p.range === 'below').length,
        above: perImage.filter((p) => p.range === 'above').length,
        meanDqcodecBpp: inside.length > 0 ? mean(inside.map((p) => p.bpp)) : null,
        meanDqcodecPsnr: inside.length > 0 ? mean(inside.map((p) => p.dqcodecPsnr)) : null,
        meanCodecPsnr: inside.length > 0 ? mean(inside.map((p) => p.codecPsnr as number)) : null,
        meanDelta: inside.length > 0 ? mean(inside.map((p) => p.dqcodecPsnr - (p.codecPsnr as number))) : null,
        dqcodecAtLeastAsGood: inside.filter((p) => p.dqcodecPsnr >= (p.codecPsnr as number)).length,
        meanCurve: { bpp: dqMean.bpp, dqcodecPsnr: dqMean.psnr, codecPsnr: atMean.quality, range: atMean.range },
      });
    }
  }
  return out;
}

/** JSON-safe measurement rows: Infinity (lossless) becomes null. */
export function jsonMeasurements(ms: Measurement[]): BenchReport['measurements'] {
  return ms.map((m) => ({ ...m, psnr: finiteOrNull(m.psnr), msssimDb: finiteOrNull(msSsimDb(m.msssim)) }));
}

/** JSON.stringify with non-finite numbers (a lossless point's PSNR) written as null. */
export function toJson(report: BenchReport): string {
  return JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}

