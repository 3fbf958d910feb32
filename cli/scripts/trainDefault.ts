/**
 * Reproduces the shipped models/default (the transform-model family, 10 operating points) with
 * one command:
 *
 *   apt-get install plasma-workspace-wallpapers mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 lxqt-themes
 *   npx tsx packages/train/scripts/prepareData.ts
 *   npm run train:default [-- --out runs/default-repro]
 *
 * One stage: the refiner of config `tc` (packages/train/configs/tc.json) trained for 12000 steps
 * on the 44 photos of data/photos/train (40 train, 4 the validation split; the 5 held-out
 * photos are never read), full resolution (longer side 1536), batch 8 × 128², cosine lr
 * 3e-4 → 3e-5 after 100 warm-up steps, a step scale drawn log-uniformly over the 11 operating
 * points each step, preview dropout 0.1, seed 1, validation every 1000 steps; then export of
 * every operating point (default quality 6). The analysis
 * transform has no parameters, so the operating points' rates are fixed by the config; training
 * moves quality only. The run resumes where it stopped when the command is run again.
 * About 50 minutes on a 2-core machine (BENCHMARKS.md "Transform models").
 *
 * The previous default, the DQ-AE now in models/dq-ae, is reproduced by `npm run train:dq-ae`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: 'runs/default-repro' }, data: { type: 'string', default: 'data/photos/train' } } });
const out = resolve(values.out!);
const data = resolve(values.data!);

function dqcodec(args: string[]): void {
  console.error(`\n$ dqcodec ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--conditions=@dqcodec/source', '--import', 'tsx', join(root, 'cli', 'src', 'main.ts'), ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(data)) {
  console.error(`train:default: ${data} does not exist; run packages/train/scripts/prepareData.ts first (see its header for the apt packages)`);
  process.exit(1);
}
const run = join(out, 'tc');
// The flags of the shipped run (full-size photos, 32 validation crops, clip 1, wasm or better backend).
const steps = ['train', '--config', 'tc', '--data', data, '--out', run, '--steps', '12000', '--val-every', '1000', '--val-crops', '32', '--max-side', '0', '--lr', '3e-4', '--lr-schedule', 'cosine', '--lr-final', '3e-5', '--warmup', '100', '--batch', '8', '--crop', '128', '--clip-norm', '1', '--preview-dropout', '0.1', '--seed', '1'];
dqcodec(existsSync(join(run, 'checkpoint')) ? [...steps, '--resume'] : steps);
const model = join(out, 'models', 'default');
dqcodec(['export', run, '-o', model, '--default-quality', '6', '--overwrite']);
console.error(`\ntrain:default: model family in ${model}; compare with: npm run bench:rd -- data/photos/heldout -m models/default -m ${model} --codecs none`);
