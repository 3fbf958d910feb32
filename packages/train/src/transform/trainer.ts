/**
 * Training loop of a transform model's refiner: random crops, a step scale drawn per step
 * (log-uniform over the operating points, so one network serves them all), preview dropout
 * (level 0 dropped: the refiner learns to make the top level alone look right), AdamW with
 * clipping, periodic validation at the lowest, middle and highest operating point (PSNR of the
 * refined reconstruction next to plain transform coding, the learning curve at fixed rate: the
 * rate is set by the fixed analysis, so training moves quality only), and checkpoints that
 * resume exactly (weights, optimizer moments, sampler RNG; the per-step choices are a pure
 * function of (seed, step)).
 */
import { join } from 'node:path';
import * as tf from '../tfjs/tf.js';
import { selectBackend, type BackendPreference } from '../tfjs/backend.js';
import { CropSampler, openImageDataset } from '../data/dataset.js';
import { AdamW } from '../train/adamw.js';
import { loadCheckpoint, saveCheckpoint, CheckpointError } from '../train/checkpoint.js';
import { MetricsLog } from '../train/metricsLog.js';
import { learningRateAt, type LrSchedule } from '../train/schedule.js';
import { writeValidationGrid } from '../train/grid.js';
import { Rng } from '../tfjs/rng.js';
import { TransformModel } from './model.js';
import type { TransformConfig } from './config.js';

export interface TransformTrainOptions {
  config: TransformConfig;
  dataDir: string;
  outDir: string;
  steps: number;
  batchSize: number;
  /** A multiple of 16. */
  cropSize: number;
  learningRate: number;
  lrSchedule?: LrSchedule;
  lrFinal?: number;
  warmupSteps?: number;
  clipNorm: number;
  previewDropout: number;
  seed: number;
  validateEvery: number;
  validationCrops: number;
  maxSide: number;
  resume: boolean;
  backend: BackendPreference;
  onEvent?: (e: TransformTrainEvent) => void;
}

export interface TransformValidation {
  step: number;
  /** Per checked operating point: quality number, PSNR refined and plain (dB, 8-bit rounded). */
  points: { quality: number; psnr: number; plainPsnr: number; previewPsnr: number }[];
  gridPath: string;
}

export type TransformTrainEvent =
  | { kind: 'start'; backend: string; trainImages: number; valImages: number; startStep: number; totalSteps: number }
  | { kind: 'step'; step: number; mse: number; scale: number; keepBottom: boolean; lr: number; msPerStep: number }
  | { kind: 'validation'; report: TransformValidation }
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'warning'; message: string };

/** Step scale and preview choice of a step: a pure function of (seed, step). */
export function stepChoices(cfg: TransformConfig, seed: number, step: number, previewDropout: number): { scale: number; keepBottom: boolean } {
  const r = new Rng((Math.imul(seed + 7, 0x9e3779b1) ^ step) >>> 0);
  const lo = Math.log2(cfg.qualities[cfg.qualities.length - 1]);
  const hi = Math.log2(cfg.qualities[0]);
  const scale = 2 ** (lo + (hi - lo) * r.next());
  return { scale, keepBottom: !(r.next() < previewDropout) };
}

const psnrOf = (mse: number): number => 10 * Math.log10(1 / Math.max(mse, 1e-12));

export async function trainTransform(opts: TransformTrainOptions): Promise<{ finalStep: number; validations: TransformValidation[]; checkpointDir: string }> {
  const emit = opts.onEvent ?? (() => {});
  if (opts.cropSize % 16 !== 0) throw new CheckpointError(`crop size must be a multiple of 16 (got ${opts.cropSize})`);
  const backend = await selectBackend(opts.backend);
  const dataset = await openImageDataset(opts.dataDir, { seed: opts.seed, cropSize: opts.cropSize, maxSide: opts.maxSide || undefined, onWarning: (message) => emit({ kind: 'warning', message }) });
  const sampler = new CropSampler(dataset, { cropSize: opts.cropSize, seed: opts.seed });
  const valCrops = sampler.validationBatch(opts.validationCrops);
  const per = opts.cropSize * opts.cropSize * 3;
  const valCount = valCrops.length / per;
  const ckDir = join(opts.outDir, 'checkpoint');
  const model = TransformModel.create(opts.config, opts.seed);
  const optimizer = new AdamW({ learningRate: opts.learningRate });
  let step = 0;
  if (opts.resume) {
    const ck = await loadCheckpoint(ckDir);
    if (JSON.stringify(ck.config) !== JSON.stringify(opts.config)) throw new CheckpointError(`checkpoint ${ckDir} was trained with a different config; resume with the same --config`);
    model.setWeights(ck.weights);
    optimizer.setState(ck.optimizer);
    sampler.restore(ck.rngState as ReturnType<CropSampler['state']>);
    step = ck.step;
  }
  const schedule = { schedule: opts.lrSchedule ?? 'constant', lr: opts.learningRate, lrFinal: opts.lrFinal, warmupSteps: opts.warmupSteps, totalSteps: opts.steps } as const;
  emit({ kind: 'start', backend: backend.name, trainImages: dataset.train.length, valImages: dataset.val.length, startStep: step, totalSteps: opts.steps });
  const log = new MetricsLog(join(opts.outDir, 'metrics.jsonl'));
  const validations: TransformValidation[] = [];
  const Q = opts.config.qualities;
  const checked = [...new Set([1, Math.ceil(Q.length / 2), Q.length])];
  // Plain transform coding does not depend on the refiner: measured at the first validation only.
  const plainPsnr = new Map<number, number>();

  const runValidation = async (): Promise<void> => {
    const points: TransformValidation['points'] = [];
    let shownRecon: Float32Array | null = null;
    for (const quality of checked) {
      const scale = Q[quality - 1];
      let sq = 0;
      let plain = 0;
      let preview = 0;
      const recon = new Float32Array(valCrops.length);
      for (let i = 0; i < valCount; i += 8) {
        const m = Math.min(8, valCount - i);
        const x = tf.tensor4d(valCrops.subarray(i * per, (i + m) * per), [m, opts.cropSize, opts.cropSize, 3]);
        const r = model.evaluate(x, scale);
        recon.set(r.recon, i * per);
        sq += r.mse * m;
        if (!plainPsnr.has(quality)) plain += model.evaluate(x, scale, { refine: false }).mse * m;
        preview += model.evaluate(x, scale, { keepBottom: false }).mse * m;
        x.dispose();
      }
      if (!plainPsnr.has(quality)) plainPsnr.set(quality, psnrOf(plain / valCount));
      points.push({ quality, psnr: psnrOf(sq / valCount), plainPsnr: plainPsnr.get(quality)!, previewPsnr: psnrOf(preview / valCount) });
      if (quality === 1) shownRecon = recon;
    }
    const gridPath = join(opts.outDir, 'grids', `step-${String(step).padStart(7, '0')}.png`);
    if (shownRecon) await writeValidationGrid(gridPath, valCrops, shownRecon, valCount, opts.cropSize);
    const report = { step, points, gridPath };
    validations.push(report);
    log.write({ type: 'validation', ...report });
    emit({ kind: 'validation', report });
  };

  const checkpoint = async (): Promise<void> => {
    await saveCheckpoint(ckDir, {
      config: opts.config,
      step,
      weights: model.getWeights(),
      optimizer: await optimizer.getState(),
      rngState: sampler.state(),
      meta: { backend: backend.name, seed: opts.seed, batchSize: opts.batchSize, cropSize: opts.cropSize, learningRate: opts.learningRate, lrSchedule: schedule.schedule, lrFinal: opts.lrFinal ?? null, warmupSteps: opts.warmupSteps ?? 0, previewDropout: opts.previewDropout },
    });
    emit({ kind: 'checkpoint', step, dir: ckDir });
  };

  try {
    if (step === 0) await runValidation();
    while (step < opts.steps) {
      const t0 = performance.now();
      const x = tf.tensor4d(sampler.nextBatch(opts.batchSize), [opts.batchSize, opts.cropSize, opts.cropSize, 3]);
      optimizer.learningRate = learningRateAt(schedule, step);
      const choice = stepChoices(opts.config, opts.seed, step, opts.previewDropout);
      const r = model.trainStep(x, optimizer, { ...choice, clipNorm: opts.clipNorm });
      x.dispose();
      step++;
      const ev = { kind: 'step' as const, step, mse: r.mse, ...choice, lr: optimizer.learningRate, msPerStep: performance.now() - t0 };
      log.write({ type: 'step', step, mse: r.mse, scale: choice.scale, keepBottom: choice.keepBottom, gradNorm: r.gradNorm, lr: ev.lr, msPerStep: ev.msPerStep });
      emit(ev);
      if (step % opts.validateEvery === 0 || step === opts.steps) {
        await runValidation();
        await checkpoint();
      }
    }
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  return { finalStep: step, validations, checkpointDir: ckDir };
}
