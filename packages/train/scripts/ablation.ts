/**
 * DQ against VQ at small scale (the paper's Table 3 claim): same architecture, steps, data and
 * total latent width (M·D), only the split into codebooks differs.
 *
 *   npm run ablation -- --data data/photos/train [--steps 600] [--seeds 1,2] [--out runs/ablation]
 *
 * Prints a markdown table of final validation MSE / PSNR per run and writes summary.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseModelConfig } from '../src/model/config.js';
import { builtinConfigPath } from '../src/configs.js';
import { train } from '../src/train/trainer.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/photos/train' },
    steps: { type: 'string', default: '600' },
    seeds: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '16' },
    crop: { type: 'string', default: '48' },
    lr: { type: 'string', default: '2e-4' },
    out: { type: 'string', default: 'runs/ablation' },
    backend: { type: 'string', default: 'auto' },
    configs: { type: 'string', default: 'ablation-dq,ablation-vq' },
  },
});

const seeds = values.seeds!.split(',').map(Number);
const rows: { config: string; M: number; D: number; seed: number; mse: number; psnr: number; perplexity: number[][]; seconds: number }[] = [];
for (const name of values.configs!.split(',')) {
  const cfg = parseModelConfig(JSON.parse(readFileSync(builtinConfigPath(name) ?? name, 'utf8')));
  for (const seed of seeds) {
    const outDir = join(values.out!, `${cfg.name}-seed${seed}`);
    mkdirSync(outDir, { recursive: true });
    const t0 = performance.now();
    const result = await train({
      config: cfg,
      dataDir: values.data!,
      outDir,
      steps: Number(values.steps),
      batchSize: Number(values.batch),
      cropSize: Number(values.crop),
      learningRate: Number(values.lr),
      clipNorm: 1,
      seed,
      validateEvery: Math.max(1, Math.floor(Number(values.steps) / 4)),
      validationCrops: 64,
      maxSide: 1024,
      resume: false,
      backend: values.backend as 'auto',
    });
    const last = result.validations[result.validations.length - 1];
    const row = { config: cfg.name, M: cfg.levels[0].M, D: cfg.levels[0].D, seed, mse: last.mse, psnr: last.psnr, perplexity: last.perplexity, seconds: (performance.now() - t0) / 1000 };
    rows.push(row);
    console.error(`${cfg.name} seed ${seed}: validation MSE ${row.mse.toExponential(3)} (PSNR ${row.psnr.toFixed(2)} dB) in ${row.seconds.toFixed(0)} s`);
  }
}
writeFileSync(join(values.out!, 'summary.json'), JSON.stringify({ args: values, rows }, null, 2));
console.log('| config | M × D per level | seed | val MSE | val PSNR (dB) | mean perplexity per level |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const ppl = r.perplexity.map((lv) => (lv.reduce((s, v) => s + v, 0) / lv.length).toFixed(1)).join(' / ');
  console.log(`| ${r.config} | ${r.M} × ${r.D} | ${r.seed} | ${r.mse.toExponential(3)} | ${r.psnr.toFixed(2)} | ${ppl} |`);
}
