import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDir, msSsim, psnr } from '@dqcodec/codec';
import sharp from 'sharp';
import type { BenchReport } from '../src/bench/report.js';
import { photoPixels, png, tmp } from '../../packages/codec/test/node/helpers.js';
import { cli, type Result } from './inProcess.js';

/** `dqcodec bench …` in this process. */
const bench = (args: string[]): Promise<Result> => cli(['bench', ...args]);



const SMALL_SWEEP = ['--jpeg-q', '5,40,90', '--webp-q', '30,90', '--avif-q', '40'];
/** The shipped DQ-AE, a single model directory (the default model is a family). */
const DQ_AE = join(defaultModelDir(), '../dq-ae');

describe('dqcodec bench', () => {
  let dir: string;
  let out: string;
  let report: BenchReport;
  const colour = photoPixels(200, 184, 3, 7);

  beforeAll(async () => {
    dir = tmp('dq-bench-');
    out = tmp('dq-bench-out-');
    writeFileSync(join(dir, 'a.png'), await png(colour, 200, 184, 3));
    writeFileSync(join(dir, 'b.png'), await png(photoPixels(192, 176, 1, 8), 192, 176, 1));
    const r = await bench([dir, '-m', DQ_AE, '--levels', 'all,1', ...SMALL_SWEEP, '--json', '--plot', join(out, 'rd.svg'), '-q']);
    expect(r.code, r.stderr).toBe(0);
    report = JSON.parse(r.stdout) as BenchReport;
  });

  it('measures every operating point and every sweep setting on every image', () => {
    expect(report.schema).toBe('dqcodec-bench-rd/1');
    expect(report.images.map((i) => [i.name, i.width, i.height, i.channels])).toEqual([
      ['a.png', 200, 184, 3],
      ['b.png', 192, 176, 1],
    ]);
    expect(report.operatingPoints.map((p) => [p.label, p.levels, p.totalLevels])).toEqual([
      ['dqcodec default', 2, 2],
      ['dqcodec default top 1/2', 1, 2],
    ]);
    expect(report.measurements).toHaveLength(2 * (2 + 3 + 2 + 1));
    for (const m of report.measurements) {
      expect(m.bpp).toBeCloseTo((m.bytes * 8) / (m.image === 'a.png' ? 200 * 184 : 192 * 176), 12);
      expect(m.msssim).toBeGreaterThan(0);
      expect(m.msssim).toBeLessThanOrEqual(1);
    }
    expect(report.curves.map((c) => c.label)).toEqual(['dqcodec default', 'dqcodec default top 1/2', 'jpeg', 'webp', 'avif']);
  });

  it('reports the PSNR and MS-SSIM of the actual decoded file', async () => {
    const row = report.measurements.find((m) => m.image === 'a.png' && m.codec === 'jpeg' && m.setting === 40);
    const file = await sharp(colour, { raw: { width: 200, height: 184, channels: 3 } }).jpeg({ quality: 40, mozjpeg: true }).toBuffer();
    const back = new Uint8Array(await sharp(file).raw().toBuffer());
    expect(row?.bytes).toBe(file.length);
    expect(row?.psnr).toBeCloseTo(psnr(colour, back), 10);
    expect(row?.msssim).toBeCloseTo(msSsim(colour, back, 200, 184, 3), 10);
  });

  it('interpolates every codec at dqcodec rates and says when a rate is outside a sweep', () => {
    expect(report.psnrAtBpp).toHaveLength(2 * 3);
    for (const p of report.psnrAtBpp) {
      expect(p.inside + p.below + p.above).toBe(2);
      for (const i of p.perImage) expect(i.codecPsnr === null).toBe(i.range !== 'inside');
    }
    for (const p of report.psnrAtBpp) {
      for (const i of p.perImage) {
        const sweep = report.measurements.filter((m) => m.image === i.image && m.codec === p.against).map((m) => m.bpp);
        const want = i.bpp < Math.min(...sweep) ? 'below' : i.bpp > Math.max(...sweep) ? 'above' : 'inside';
        expect(i.range).toBe(want);
      }
    }
  });

  it('computes BD-rates from the two dqcodec points, or says why not', () => {
    expect(report.bdRate.map((b) => b.against)).toEqual(['jpeg', 'webp', 'avif']);
    for (const b of report.bdRate) {
      for (const p of b.perImage) {
        expect(p.psnr === null).toBe(p.gap.psnr !== null);
        expect(p.msssimDb === null).toBe(p.gap.msssimDb !== null);
      }
      expect(b.images.psnr).toBe(b.perImage.filter((p) => p.psnr !== null).length);
    }
  });

  it('writes the plot as SVG and PNG', async () => {
    const svg = readFileSync(join(out, 'rd.svg'), 'utf8');
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('PSNR against rate');
    expect(svg).toContain('dqcodec default top 1/2');
    expect(existsSync(join(out, 'rd.png'))).toBe(true);
    const meta = await sharp(join(out, 'rd.png')).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(1000);
  });

  it('prints tables without --json and can write the JSON to a file', async () => {
    const r = await bench([join(dir, 'a.png'), '-m', DQ_AE, '--codecs', 'jpeg', '--jpeg-q', '20,80', '--json', join(out, 'r.json'), '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('| codec | setting | bpp | PSNR dB | MS-SSIM | MS-SSIM dB |');
    expect(r.stdout).toContain('BD-rate needs at least 2 dqcodec operating points');
    const saved = JSON.parse(readFileSync(join(out, 'r.json'), 'utf8')) as BenchReport;
    expect(saved.measurements).toHaveLength(1 + 2);
    expect(saved.bdRate[0].perImage[0].gap).toEqual({ psnr: 'dqcodec has fewer than 2 points', msssimDb: 'dqcodec has fewer than 2 points' });
  });

  it('a model family: every quality is an operating point, --quality restricts them', async () => {
    const all = await bench([join(dir, 'a.png'), '--codecs', 'none', '--json', '-q']);
    expect(all.code, all.stderr).toBe(0);
    const r = JSON.parse(all.stdout) as BenchReport;
    expect(r.operatingPoints.map((p) => p.label)).toEqual(Array.from({ length: 11 }, (_, i) => `dqcodec dqc-tc-q${i + 1}`));
    expect(r.operatingPoints[4].modelDir).toBe(join(defaultModelDir(), 'dqc-tc-q5'));
    const bpp = r.measurements.map((m) => m.bpp);
    for (let i = 1; i < bpp.length; i++) expect(bpp[i]).toBeGreaterThan(bpp[i - 1]);
    const some = await bench([join(dir, 'a.png'), '-m', defaultModelDir(), '--quality', '1,low,10', '--levels', 'all,1', '--codecs', 'none', '--json', '-q']);
    expect(some.code, some.stderr).toBe(0);
    expect((JSON.parse(some.stdout) as BenchReport).operatingPoints.map((p) => p.label)).toEqual([
      'dqcodec dqc-tc-q1',
      'dqcodec dqc-tc-q1 top 1/2',
      'dqcodec dqc-tc-q2',
      'dqcodec dqc-tc-q2 top 1/2',
      'dqcodec dqc-tc-q10',
      'dqcodec dqc-tc-q10 top 1/2',
    ]);
    const bad = await bench([join(dir, 'a.png'), '--quality', '12', '--codecs', 'none']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--quality 12: .*1–11/);
    const single = await bench([join(dir, 'a.png'), '-m', DQ_AE, '--quality', '3', '--codecs', 'none']);
    expect(single.code).toBe(1);
    expect(single.stderr).toMatch(/none of the models is a model family/);
  });

  it('refuses images too small for MS-SSIM, a non-SVG plot name and unknown codecs', async () => {
    const small = tmp('dq-bench-small-');
    writeFileSync(join(small, 's.png'), await png(photoPixels(64, 64, 3, 1), 64, 64, 3));
    const a = await bench([small, '--codecs', 'none']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/too small for MS-SSIM/);
    const b = await bench([dir, '--plot', join(out, 'rd.png')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/name it \*\.svg/);
    const c = await bench([dir, '--codecs', 'jpeg,gif']);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/unknown codec gif/);
  });
});
