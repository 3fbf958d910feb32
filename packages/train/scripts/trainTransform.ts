/**
 * Trains a transform model's refiner (packages/train/src/transform):
 *   tsx packages/train/scripts/trainTransform.ts --config tc --data data/photos/train --out runs/tc --steps 6000 [--resume]
 * Prints one line per 50 steps and every validation; checkpoints at every validation.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { builtinConfigPath } from '../src/configs.js';
import { parseTransformConfig } from '../src/transform/config.js';
import { trainTransform } from '../src/transform/trainer.js';

const { values: a } = parseArgs({
  options: {
    config: { type: 'string', default: 'tc' },
    data: { type: 'string', default: 'data/photos/train' },
    out: { type: 'string', default: 'runs/tc' },
    steps: { type: 'string', default: '6000' },
    batch: { type: 'string', default: '8' },
    crop: { type: 'string', default: '128' },
    lr: { type: 'string', default: '3e-4' },
    'lr-final': { type: 'string', default: '3e-5' },
    warmup: { type: 'string', default: '100' },
    'preview-dropout': { type: 'string', default: '0.1' },
    'validate-every': { type: 'string', default: '250' },
    seed: { type: 'string', default: '1' },
    resume: { type: 'boolean', default: false },
  },
});
const path = builtinConfigPath(a.config!) ?? a.config!;
const config = parseTransformConfig(JSON.parse(readFileSync(path, 'utf8')));
const steps = Number(a.steps);
let last = performance.now();
let acc = 0;
let n = 0;
await trainTransform({
  config,
  dataDir: a.data!,
  outDir: a.out!,
  steps,
  batchSize: Number(a.batch),
  cropSize: Number(a.crop),
  learningRate: Number(a.lr),
  lrSchedule: 'cosine',
  lrFinal: Number(a['lr-final']),
  warmupSteps: Number(a.warmup),
  clipNorm: 1,
  previewDropout: Number(a['preview-dropout']),
  seed: Number(a.seed),
  validateEvery: Number(a['validate-every']),
  validationCrops: 32,
  maxSide: 0,
  resume: a.resume!,
  backend: 'auto',
  onEvent: (e) => {
    if (e.kind === 'start') console.log(`backend ${e.backend}: ${e.trainImages} train / ${e.valImages} validation images, steps ${e.startStep} → ${e.totalSteps}`);
    else if (e.kind === 'step') {
      acc += e.mse;
      n++;
      if (e.step % 50 === 0) {
        const now = performance.now();
        console.log(`step ${e.step}: mse ${(acc / n).toFixed(2)} lr ${e.lr.toExponential(2)} ${((now - last) / n).toFixed(0)} ms/step`);
        last = now;
        acc = 0;
        n = 0;
      }
    } else if (e.kind === 'validation') console.log(`validation @${e.report.step}: ${e.report.points.map((p) => `q${p.quality} ${p.psnr.toFixed(2)} dB (plain ${p.plainPsnr.toFixed(2)}, preview ${p.previewPsnr.toFixed(2)})`).join(' | ')}`);
    else if (e.kind === 'checkpoint') console.log(`checkpoint @${e.step}`);
    else if (e.kind === 'warning') console.warn(e.message);
  },
});
