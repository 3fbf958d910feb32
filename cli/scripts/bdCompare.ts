/**
 * BD-rate between two groups of operating points of one `dqcodec bench --json` report:
 *
 *   npx tsx cli/scripts/bdCompare.ts rd.json --anchor "dqcodec runs/a,dqcodec runs/a top 1/2" --test "dqcodec runs/b,dqcodec runs/b top 1/2"
 *
 * Each group's points on an image form its curve (a label may also be a codec name, e.g.
 * "jpeg", for its whole sweep). Prints the Bjøntegaard delta rate of test against anchor
 * (PCHIP of ln(bpp) against quality, as `dqcodec bench` computes it) per image and the mean, for
 * PSNR and MS-SSIM dB. Negative: the test group needs fewer bits for the same quality.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bdRate, type RdPoint } from '@dqcodec/core';

interface Measurement {
  image: string;
  codec: string;
  label: string;
  bpp: number;
  psnr: number | null;
  msssimDb: number | null;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { anchor: { type: 'string' }, test: { type: 'string' } } });
if (positionals.length !== 1 || !values.anchor || !values.test) {
  console.error('usage: bdCompare.ts <bench.json> --anchor "label,label" --test "label,label"');
  process.exit(1);
}
const report = JSON.parse(readFileSync(positionals[0], 'utf8')) as { measurements: Measurement[] };
const group = (list: string): Set<string> => new Set(list.split(',').map((s) => s.trim()));
const anchor = group(values.anchor);
const test = group(values.test);
const inGroup = (m: Measurement, g: Set<string>): boolean => g.has(m.label) || g.has(m.codec);
const images = [...new Set(report.measurements.map((m) => m.image))];

for (const metric of ['psnr', 'msssimDb'] as const) {
  const rates: number[] = [];
  const rows: string[] = [];
  for (const image of images) {
    const points = (g: Set<string>): RdPoint[] =>
      report.measurements.filter((m) => m.image === image && inGroup(m, g) && m[metric] !== null).map((m) => ({ rate: m.bpp, quality: m[metric]! }));
    const r = bdRate(points(anchor), points(test));
    rows.push(`  ${image.padEnd(24)} ${r === null ? 'undefined (curves do not overlap)' : `${(100 * r).toFixed(1)}%`}`);
    if (r !== null) rates.push(r);
  }
  const mean = rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : null;
  console.log(`BD-rate (${metric === 'psnr' ? 'PSNR' : 'MS-SSIM dB'}) of [${[...test].join(', ')}] against [${[...anchor].join(', ')}]:`);
  for (const row of rows) console.log(row);
  console.log(`  mean over ${rates.length}/${images.length} images: ${mean === null ? 'undefined' : `${(100 * mean).toFixed(1)}%`}`);
}
