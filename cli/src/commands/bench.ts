/**
 * dqcodec bench: rate–distortion of dqcodec's operating points against JPEG (mozjpeg), WebP and
 * AVIF on a set of images — bits per pixel from real file sizes, PSNR and MS-SSIM, BD-rates, each
 * codec's PSNR at dqcodec's rate, a table, a JSON document (docs/bench.md) and an SVG/PNG plot.
 */
import { basename, extname, join } from 'node:path';
import { cpus } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import sharp from 'sharp';
import { defaultModelDir, DqCodec, INPUT_EXTENSIONS, writeFileAtomic, type ExecutionProvider } from '@dqcodec/codec';
import { UserError } from '../errors.js';
import { intOption } from '../options.js';
import { expandInputs } from './codecCommon.js';
import { DEFAULT_SWEEPS, loadBenchImage, measureDqcodec, measureSharp, SHARP_CODECS, SHARP_SETTINGS, type BenchImage, type Measurement, type OperatingPoint, type SharpCodec } from '../bench/measure.js';
import { bdRates, jsonMeasurements, meanCurves, METRIC_NOTES, psnrAtBpp, SCHEMA, toJson, type BenchReport } from '../bench/report.js';
import { renderTables } from '../bench/tables.js';
import { rdPlotSvg } from '../bench/plot.js';
import { printable } from '../printable.js';

interface BenchFlags {
  model: string[];
  levels: (number | 'all')[];
  quality?: string[];
  codecs: SharpCodec[];
  jpegQ?: number[];
  webpQ?: number[];
  avifQ?: number[];
  maxImages?: number;
  json?: string | boolean;
  plot?: string;
  ep: ExecutionProvider;
  threads?: number;
  quiet: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function intList(min: number, max: number): (v: string) => number[] {
  return (v) => {
    const xs = v.split(',').map((s) => Number(s.trim()));
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < min || x > max)) throw new InvalidArgumentError(`expected comma-separated integers in [${min}, ${max}], got "${v}"`);
    return xs;
  };
}

function levelList(v: string): (number | 'all')[] {
  return v.split(',').map((s) => {
    const t = s.trim();
    if (t === 'all') return 'all';
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected "all" or integers ≥ 1, comma-separated, got "${v}"`);
    return n;
  });
}

function codecList(v: string): SharpCodec[] {
  if (v.trim() === 'none') return [];
  const xs = v.split(',').map((s) => s.trim());
  const bad = xs.filter((x) => !(SHARP_CODECS as readonly string[]).includes(x));
  if (bad.length > 0) throw new InvalidArgumentError(`unknown codec ${bad.join(', ')} (use ${SHARP_CODECS.join(', ')} or none)`);
  return xs as SharpCodec[];
}

function qualityList(v: string): string[] {
  const xs = v.split(',').map((s) => s.trim());
  if (xs.some((x) => x === '')) throw new InvalidArgumentError(`expected comma-separated qualities (numbers or aliases), got "${v}"`);
  return xs;
}

/**
 * Operating points: every model × every --levels entry, labelled by model name (or dir when
 * names clash). A model family gives one model per quality: all of them, or those of --quality.
 */
async function operatingPoints(o: BenchFlags): Promise<OperatingPoint[]> {
  const dirs = o.model.length > 0 ? o.model : [process.env.DQCODEC_MODEL ?? defaultModelDir()];
  const roots = await Promise.all(dirs.map((dir) => DqCodec.load(dir, { ep: o.ep, threads: o.threads })));
  if (o.quality !== undefined && !roots.some((r) => r.family)) throw new UserError('--quality: none of the models is a model family (numbered qualities need one, such as the default model)');
  const models: { dir: string; codec: DqCodec; fallback: string }[] = [];
  for (const [i, root] of roots.entries()) {
    const f = root.family;
    if (!f) {
      models.push({ dir: dirs[i], codec: root, fallback: dirs[i] });
      continue;
    }
    const qs = o.quality ?? f.qualities.map((m) => String(m.quality));
    for (const q of qs) {
      const codec = await root.member(q).catch((err: unknown) => {
        throw (err as Error).name === 'DqcError' ? new UserError(`--quality ${q}: ${(err as Error).message}`) : err;
      });
      const m = f.qualities[codec.quality! - 1];
      models.push({ dir: join(dirs[i], m.dir), codec, fallback: `${dirs[i]} q${m.quality}` });
    }
  }
  const names = models.map((m) => m.codec.manifest.name);
  const points: OperatingPoint[] = [];
  models.forEach(({ dir, codec, fallback }, i) => {
    const total = codec.manifest.levels.length;
    const name = names.indexOf(names[i]) === names.lastIndexOf(names[i]) ? names[i] : fallback;
    for (const lv of o.levels) {
      const levels = lv === 'all' ? total : lv;
      if (levels > total) throw new UserError(`--levels ${levels}: model ${dir} has ${total} level${total === 1 ? '' : 's'}`);
      const label = `dqcodec ${name}${levels < total ? ` top ${levels}/${total}` : ''}`;
      if (points.some((p) => p.label === label)) throw new UserError(`operating point "${label}" is given twice`);
      points.push({ label, modelDir: dir, levels, totalLevels: total, codec });
    }
  });
  return points;
}

function sweeps(o: BenchFlags): [SharpCodec, number[]][] {
  const given: Record<SharpCodec, number[] | undefined> = { jpeg: o.jpegQ, webp: o.webpQ, avif: o.avifQ };
  return o.codecs.map((c) => [c, given[c] ?? DEFAULT_SWEEPS[c]]);
}

async function measureImage(img: BenchImage, points: OperatingPoint[], sw: [SharpCodec, number[]][]): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (const p of points) out.push(await measureDqcodec(img, p));
  for (const [codec, qs] of sw) for (const q of qs) out.push(await measureSharp(img, codec, q));
  return out;
}

function environment(): BenchReport['environment'] {
  const cpu = cpus();
  return { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', sharp: sharp.versions.sharp ?? 'unknown', libvips: sharp.versions.vips };
}

function buildReport(images: BenchImage[], points: OperatingPoint[], ms: Measurement[], codecs: SharpCodec[]): BenchReport {
  const curves = meanCurves(ms);
  return {
    schema: SCHEMA,
    date: new Date().toISOString(),
    command: ['dqcodec', ...process.argv.slice(2)].join(' '),
    environment: environment(),
    metrics: METRIC_NOTES,
    settings: { ...Object.fromEntries(codecs.map((c) => [c, SHARP_SETTINGS[c]])), dqcodec: "DqCodec.encodeImage(png, { levels }) with the model's entropy method (context, or coefficient for transform models); decoded with every stored level" },
    operatingPoints: points.map((p) => ({ label: p.label, modelDir: p.modelDir, modelName: p.codec.manifest.name, fingerprint: p.codec.manifest.fingerprint, levels: p.levels, totalLevels: p.totalLevels })),
    images: images.map((i) => ({ name: i.name, width: i.width, height: i.height, channels: i.channels })),
    measurements: jsonMeasurements(ms),
    curves,
    bdRate: bdRates(ms, codecs),
    psnrAtBpp: psnrAtBpp(ms, curves, codecs),
  };
}

async function writePlot(path: string, report: BenchReport): Promise<string> {
  const subtitle = `${report.images.length} images, mean curves; ${report.command}; ${report.date.slice(0, 10)}`;
  const svg = rdPlotSvg(report.curves, subtitle);
  await writeFileAtomic(path, new TextEncoder().encode(svg));
  const png = `${path.slice(0, path.length - extname(path).length)}.png`;
  await writeFileAtomic(png, new Uint8Array(await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer()));
  return png;
}

async function run(inputs: string[], o: BenchFlags): Promise<void> {
  if (o.plot !== undefined && extname(o.plot).toLowerCase() !== '.svg') throw new UserError(`--plot ${o.plot}: the plot is an SVG file (a PNG is written next to it); name it *.svg`);
  const expanded = await expandInputs(inputs, INPUT_EXTENSIONS);
  if (expanded.missing.length > 0) throw new UserError(expanded.missing[0].message);
  const files = expanded.files.slice(0, o.maxImages ?? Infinity);
  if (files.length === 0) throw new UserError(`no images found in ${inputs.join(', ')}`);
  const points = await operatingPoints(o);
  const sw = sweeps(o);
  const images: BenchImage[] = [];
  const ms: Measurement[] = [];
  try {
    for (const [i, f] of files.entries()) {
      const img = await loadBenchImage(f.path, f.rel).catch((err: unknown) => {
        throw err instanceof RangeError ? new UserError(err.message) : err;
      });
      images.push(img);
      ms.push(...(await measureImage(img, points, sw)));
      if (!o.quiet) process.stderr.write(`${printable(`bench: ${i + 1}/${files.length} ${f.rel} (${img.width}×${img.height})`)}\n`);
    }
  } finally {
    for (const p of points) await p.codec.close();
  }
  const report = buildReport(images, points, ms, o.codecs);
  if (o.plot !== undefined) {
    const png = await writePlot(o.plot, report);
    if (!o.quiet) process.stderr.write(`bench: plot written to ${o.plot} and ${png}\n`);
  }
  if (typeof o.json === 'string') await writeFileAtomic(o.json, new TextEncoder().encode(`${toJson(report)}\n`));
  process.stdout.write(o.json === true ? `${toJson(report)}\n` : renderTables(report));
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('Rate–distortion benchmark: dqcodec operating points against JPEG (mozjpeg), WebP and AVIF sweeps — bpp, PSNR, MS-SSIM, BD-rate, plot.')
    .argument('<images...>', 'image files, directories (searched recursively) or quoted globs')
    .option('-m, --model <dir>', 'model directory or model family (every quality of a family is an operating point); repeat for several (default: $DQCODEC_MODEL, else models/default, a family of qualities 1–11)', collect, [])
    .option('--quality <list>', 'qualities of each model family to measure, numbers or aliases, e.g. 1,3,5,7,9,10 (default: all)', qualityList)
    .option('--levels <list>', 'top levels each file stores, per model: "all" and/or numbers, e.g. all,1', levelList, ['all'])
    .option('--codecs <list>', `codecs to sweep: ${SHARP_CODECS.join(',')} or none`, codecList, [...SHARP_CODECS])
    .option('--jpeg-q <list>', `JPEG qualities (default ${DEFAULT_SWEEPS.jpeg.join(',')})`, intList(1, 100))
    .option('--webp-q <list>', `WebP qualities (default ${DEFAULT_SWEEPS.webp.join(',')})`, intList(1, 100))
    .option('--avif-q <list>', `AVIF qualities (default ${DEFAULT_SWEEPS.avif.join(',')})`, intList(1, 100))
    .option('--max-images <n>', 'use at most n images', intOption(1))
    .option('--json [file]', 'print the JSON report instead of the tables, or write it to file (docs/bench.md describes it)')
    .option('--plot <file.svg>', 'write the rate–distortion plot as SVG, and as PNG next to it')
    .addOption(new Option('--ep <provider>', 'onnxruntime execution provider').choices(['cpu', 'cuda']).default('cpu'))
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per core)', intOption(1))
    .option('-q, --quiet', 'no progress on stderr', false)
    .action(run);
}
