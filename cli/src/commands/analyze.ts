/**
 * `dqcodec analyze`: codebook usage and redundancy of a model on a set of images. Per level and
 * codebook: histogram, entropy, perplexity, dead codes; per pair of codebooks: mutual information
 * of co-located indices (DQ paper Sec. 4.2 / Fig. 3), as a table, JSON, and a heat map.
 */
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { analyzeImages, INPUT_EXTENSIONS, writeHeatmap, type AnalysisReport, type LevelAnalysis } from '@dqcodec/codec';
import { UserError } from '../errors.js';
import { intOption } from '../options.js';
import { addCodecOptions, addQualityOption, expandInputs, openCodec, qualityMember, type CodecFlags } from './codecCommon.js';
import { printable } from '../printable.js';

interface AnalyzeFlags extends CodecFlags {
  json: boolean;
  heatmap?: string;
  seed: number;
  quality?: string;
}

const EXPLAIN = `
Entropy and MI are plug-in estimates in bits (frequency counts, the paper's Eq. 7). Plug-in MI is
biased upwards when K² is large next to the number of positions; the table therefore also gives
the Miller–Madow corrected mean and the MI that independent codebooks with the same marginals and
count would show ("independent baseline"). Low MI next to the entropies = decoupled codebooks.
--json prints everything, including each codebook's histogram (K counts).`;

const f = (v: number | null, d = 3): string => (v === null ? '–' : v.toFixed(d));

function levelTable(a: LevelAnalysis): string[] {
  const s = a.summary;
  const lines = [
    `level ${a.level}${a.level === 0 ? ' (top)' : ''}${a.stride ? `, stride ${a.stride}` : ''}: M=${a.M}, K=${a.K}, ${a.positions} positions`,
    'codebook  entropy (bits)  perplexity  used  dead',
    ...a.codebooks.map((c, m) => `${`c${m}`.padStart(8)}  ${f(c.entropyBits).padStart(14)}  ${c.perplexity.toFixed(1).padStart(10)}  ${String(c.usedCodes).padStart(4)}  ${String(c.deadCodes).padStart(4)}`),
    `${'mean'.padStart(8)}  ${f(s.meanEntropyBits).padStart(14)}  ${s.meanPerplexity.toFixed(1).padStart(10)}        ${String(s.deadCodes).padStart(4)} dead in all`,
  ];
  if (a.M < 2) return [...lines, 'pairwise MI: none (M = 1)'];
  const head = `${' '.repeat(6)}${a.codebooks.map((_, j) => `c${j}`.padStart(7)).join('')}`;
  const rows = a.mi.map((row, i) => `${`c${i}`.padStart(4)}  ${row.map((v, j) => (j < i ? '' : v.toFixed(3)).padStart(7)).join('')}`);
  return [
    ...lines,
    'pairwise MI (bits, same position; diagonal = entropy):',
    head,
    ...rows,
    `mean pairwise MI ${f(s.meanPairwiseMiBits)} bits (max ${f(s.maxPairwiseMiBits)}) = ${(100 * (s.miToEntropy ?? 0)).toFixed(1)}% of the mean entropy ${f(s.meanEntropyBits)} bits`,
    `  Miller–Madow corrected ${f(s.meanPairwiseMiCorrectedBits)} bits; independent baseline ${f(s.meanPairwiseMiIndependentBits)} bits`,
  ];
}

function render(r: AnalysisReport): string {
  const head = `model ${printable(r.model.name)} (${r.model.fingerprint.slice(0, 12)}…, ${printable(r.model.dir)}), ${r.images} image${r.images === 1 ? '' : 's'}${r.skipped.length ? `, ${r.skipped.length} skipped` : ''}`;
  return [head, ...r.levels.flatMap((a) => ['', ...levelTable(a)])].join('\n');
}

function progressBar(quiet: boolean): { update: (e: { done: number; total: number; file: string; error?: string }) => void; stop: () => void } {
  const bar = process.stderr.isTTY && !quiet ? new cliProgress.SingleBar({ format: 'analyze [{bar}] {value}/{total} | {file}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  let started = false;
  return {
    update: (e) => {
      if (bar && !started) {
        bar.start(e.total, 0, { file: '' });
        started = true;
      }
      bar?.update(e.done, { file: printable(e.file) });
      if (e.error && !quiet) process.stderr.write(`${bar ? '\n' : ''}${printable(`skipped ${e.file}: ${e.error}`)}\n`);
    },
    stop: () => bar?.stop(),
  };
}

export function registerAnalyze(program: Command): void {
  const cmd = program
    .command('analyze')
    .description("Codebook analysis of the model's tokens on images: usage, entropy, perplexity, dead codes, pairwise mutual information.")
    .argument('<input...>', 'image directories (searched recursively), files or quoted globs')
    .option('--json', 'print the full report as JSON', false)
    .option('--heatmap <file>', 'also draw the pairwise-MI matrices (.png or .svg)')
    .option('--seed <n>', 'seed of the independent-codebook baseline', intOption(0), 1)
    .addHelpText('after', EXPLAIN);
  addQualityOption(cmd);
  addCodecOptions(cmd).action(async (inputs: string[], o: AnalyzeFlags) => {
    const heatmap = o.heatmap;
    if (heatmap !== undefined && !/\.(png|svg)$/i.test(heatmap)) throw new UserError(`--heatmap ${heatmap}: use a .png or .svg file name`);
    const expanded = await expandInputs(inputs, INPUT_EXTENSIONS);
    if (expanded.missing.length > 0) throw new UserError(expanded.missing[0].message);
    if (expanded.files.length === 0) throw new UserError(`no images found in ${inputs.join(', ')} (looked for ${INPUT_EXTENSIONS.join(', ')})`);
    const root = await openCodec(o);
    const bar = progressBar(o.quiet);
    let report: AnalysisReport;
    try {
      const codec = await qualityMember(root, o.quality);
      report = await analyzeImages(codec, expanded.files.map((x) => x.path), { seed: o.seed, onProgress: bar.update });
    } finally {
      bar.stop();
      await root.close();
    }
    if (heatmap !== undefined) await writeHeatmap(report, heatmap);
    process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${render(report)}\n`);
    if (heatmap !== undefined && !o.quiet && !o.json) process.stderr.write(`heat map written to ${heatmap}\n`);
  });
}
