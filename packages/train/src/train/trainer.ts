/**
 * The training loop: seeded crops from a photo directory, Adam with global-norm clipping,
 * periodic validation (PSNR, code usage, reconstruction grid), JSON-lines metrics and
 * checkpoints that resume exactly (weights, codebook EMA state, optimizer moments, sampler RNG).
 */
import { join } from 'node:path';
import * as tf from '../tfjs/tf.js';
import type { ModelConfig } from '../model/config.js';
import { DqAe } from '../tfjs/model.js';
import { perplexities } from '../tfjs/quantizer.js';
import { selectBackend, type BackendPreference } from '../tfjs/backend.js';
import { openImageDataset, CropSampler } from '../data/dataset.js';
import { learningRateAt, type LrSchedule } from './schedule.js';
import { loadCheckpoint, saveCheckpoint, CheckpointError } from './checkpoint.js';
import { AdamW } from './adamw.js';
import { Rng } from '../tfjs/rng.js';
import { writeValidationGrid } from './grid.js';
import { MetricsLog } from './metricsLog.js';

export interface TrainOptions {
  config: ModelConfig;
  dataDir: string;
  outDir: string;
  steps: number;
  batchSize: number;
  cropSize: number;
  learningRate: number;
  /** Learning-rate schedule over [0, steps] (default constant). */
  lrSchedule?: LrSchedule;
  /** Final rate of the cosine schedule (default learningRate / 20). */
  lrFinal?: number;
  /** Linear warm-up steps (default 0). */
  warmupSteps?: number;
  clipNorm: number;
  /** Decoupled (AdamW) weight decay; 0 = plain Adam. */
  weightDecay?: number;
  /**
   * Probability that a step reconstructs from the upper levels only (lower levels dropped), so
   * the top of the hierarchy carries structure and decodes to a usable progressive preview.
   */
  previewDropout?: number;
  seed: number;
  /** Validate, write a grid and checkpoint every this many steps. */
  validateEvery: number;
  /** Number of validation crops. */
  validationCrops: number;
  /** Downscale photos so their longer side is at most this (0 = keep). */
  maxSide: number;
  resume: boolean;
  /**
   * Start from this checkpoint directory's weights and codebooks (same config) with a fresh
   * optimizer at step 0: fine-tuning with another recipe or data. Exclusive with resume.
   */
  initFrom?: string;
  /**
   * With initFrom: take only the trunk (encoder, decoder, projections) from the checkpoint; the
   * codebooks start from data and the prior empty. Lets a rate model (another quantizer config:
   * assign, M/K/D with the same M·D) start from a distortion-only checkpoint.
   */
  initTrunkOnly?: boolean;
  /** Rate–distortion weight λ (rate models: loss = bpp + λ·MSE on the 8-bit scale). */
  lambda?: number;
  backend: BackendPreference;
  onEvent?: (e: TrainEvent) => void;
}

export interface StepReport {
  step: number;
  loss: number;
  /** Rate models: bits per pixel of the batch under the learned prior (0 otherwise). */
  bpp: number;
  mse: number;
  commit: number;
  /** Per level (bottom first), per codebook perplexity over the batch. */
  perplexity: number[][];
  deadResets: number;
  /** Learning rate of this step's update. */
  lr: number;
  msPerStep: number;
}

export interface ValidationReport {
  step: number;
  mse: number;
  psnr: number;
  /** Rate models: bits per pixel the prior predicts for the validation crops (0 otherwise). */
  bpp: number;
  perplexity: number[][];
  gridPath: string;
}

export type TrainEvent =
  | { kind: 'start'; backend: string; backendReason: string; trainImages: number; valImages: number; startStep: number; totalSteps: number }
  | { kind: 'step'; report: StepReport }
  | { kind: 'validation'; report: ValidationReport }
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'warning'; message: string };

export interface TrainResult {
  finalStep: number;
  validations: ValidationReport[];
  checkpointDir: string;
  backend: string;
}

/** Checkpoints live in <outDir>/checkpoint; metrics in <outDir>/metrics.jsonl; grids in <outDir>/grids. */
export function checkpointDir(outDir: string): string {
  return join(outDir, 'checkpoint');
}

/** Levels kept this step: all, or with probability previewDropout a random number of upper ones. A pure function of (seed, step), so resumed runs make the same choices. */
function previewLevels(opts: TrainOptions, step: number): number | undefined {
  const L = opts.config.levels.length;
  const p = opts.previewDropout ?? 0;
  if (p <= 0 || L < 2) return undefined;
  const r = new Rng((Math.imul(opts.seed + 1, 0x9e3779b1) ^ step) >>> 0);
  r.next();
  return r.next() < p ? 1 + r.int(L - 1) : undefined;
}

function sameConfig(a: ModelConfig, b: ModelConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Same weights layout: equal but for how codes are assigned (a distortion-only checkpoint can start a rate model). */
function sameWeightsLayout(a: ModelConfig, b: ModelConfig): boolean {
  const strip = (c: ModelConfig): ModelConfig => ({ ...c, name: '', quantizer: { ...c.quantizer, assign: undefined, rateTemperature: undefined } });
  return sameConfig(strip(a), strip(b));
}

/** Same trunk: everything but the quantizer settings and the levels' M/K/D split of M·D. */
function sameTrunk(a: ModelConfig, b: ModelConfig): boolean {
  const trunk = (c: ModelConfig): string =>
    JSON.stringify({ levels: c.levels.map((l) => ({ stride: l.stride, MD: l.M * l.D })), channels: c.channels, resBlocks: c.resBlocks, resHidden: c.resHidden });
  return trunk(a) === trunk(b);
}

/** Validation over fixed crops, in chunks to bound memory. */
function validate(model: DqAe, crops: Float32Array, n: number, size: number): { mse: number; bpp: number; perplexity: number[][]; recon: Float32Array } {
  const chunk = 8;
  const per = size * size * 3;
  const recon = new Float32Array(crops.length);
  let sq = 0;
  let bits = 0;
  const hist = model.cfg.levels.map((lv) => new Float64Array(lv.M * lv.K));
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    const x = tf.tensor4d(crops.subarray(i * per, (i + m) * per), [m, size, size, 3]);
    const r = model.evaluate(x);
    x.dispose();
    recon.set(r.recon, i * per);
    sq += r.mse * m;
    bits += r.bits.reduce((a, b) => a + b, 0);
    r.histograms.forEach((h, l) => h.forEach((v, i) => (hist[l][i] += v)));
  }
  // Perplexity of each codebook over the whole validation set.
  const perplexity = hist.map((h, l) => perplexities(h, model.cfg.levels[l].M, model.cfg.levels[l].K));
  return { mse: sq / n, bpp: bits / (n * size * size), perplexity, recon };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const emit = opts.onEvent ?? (() => {});
  if (opts.resume && opts.initFrom) throw new CheckpointError('--resume and --init exclude each other');
  const backend = await selectBackend(opts.backend);
  const dataset = await openImageDataset(opts.dataDir, {
    seed: opts.seed,
    cropSize: opts.cropSize,
    maxSide: opts.maxSide || undefined,
    onWarning: (message: string) => emit({ kind: 'warning', message }),
  });
  const sampler = new CropSampler(dataset, { cropSize: opts.cropSize, seed: opts.seed });
  const valCrops = sampler.validationBatch(opts.validationCrops);
  const valCount = valCrops.length / (opts.cropSize * opts.cropSize * 3);

  const ckDir = checkpointDir(opts.outDir);
  let model: DqAe;
  const optimizer = new AdamW({ learningRate: opts.learningRate, weightDecay: opts.weightDecay ?? 0 });
  let step = 0;
  if (opts.resume) {
    const ck = await loadCheckpoint(ckDir);
    const saved = ck.config as ModelConfig;
    if (!sameConfig(saved, opts.config)) {
      throw new CheckpointError(`checkpoint ${ckDir} was trained with a different config; resume with the same --config`);
    }
    model = DqAe.create(opts.config, opts.seed);
    model.setWeights(ck.weights);
    optimizer.setState(ck.optimizer);
    sampler.restore(ck.rngState as ReturnType<CropSampler['state']>);
    step = ck.step;
  } else if (opts.initFrom && opts.initTrunkOnly) {
    const ck = await loadCheckpoint(opts.initFrom);
    if (!sameTrunk(ck.config as ModelConfig, opts.config)) {
      throw new CheckpointError(`checkpoint ${opts.initFrom} has a different trunk (strides, M·D, channels, blocks); --init-trunk needs the same`);
    }
    model = DqAe.create(opts.config, opts.seed);
    model.setTrunkWeights(ck.weights);
  } else if (opts.initFrom) {
    const ck = await loadCheckpoint(opts.initFrom);
    if (!sameWeightsLayout(ck.config as ModelConfig, opts.config)) {
      throw new CheckpointError(`checkpoint ${opts.initFrom} was trained with a different config; --init needs the same --config (or --init-trunk)`);
    }
    model = DqAe.create(opts.config, opts.seed);
    model.setWeights(ck.weights);
  } else {
    model = DqAe.create(opts.config, opts.seed);
  }
  const schedule = { schedule: opts.lrSchedule ?? 'constant', lr: opts.learningRate, lrFinal: opts.lrFinal, warmupSteps: opts.warmupSteps, totalSteps: opts.steps } as const;
  emit({
    kind: 'start',
    backend: backend.name,
    backendReason: backend.reason,
    trainImages: dataset.train.length,
    valImages: dataset.val.length,
    startStep: step,
    totalSteps: opts.steps,
  });

  const log = new MetricsLog(join(opts.outDir, 'metrics.jsonl'));
  const validations: ValidationReport[] = [];

  const runValidation = async (): Promise<void> => {
    const v = validate(model, valCrops, valCount, opts.cropSize);
    const psnr = 10 * Math.log10(1 / Math.max(v.mse, 1e-12));
    const gridPath = join(opts.outDir, 'grids', `step-${String(step).padStart(7, '0')}.png`);
    await writeValidationGrid(gridPath, valCrops, v.recon, valCount, opts.cropSize);
    const report: ValidationReport = { step, mse: v.mse, psnr, bpp: v.bpp, perplexity: v.perplexity, gridPath };
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
      meta: { backend: backend.name, seed: opts.seed, batchSize: opts.batchSize, cropSize: opts.cropSize, learningRate: opts.learningRate, lrSchedule: schedule.schedule, lrFinal: opts.lrFinal ?? null, warmupSteps: opts.warmupSteps ?? 0, previewDropout: opts.previewDropout ?? 0, initFrom: opts.initFrom ?? null, initTrunkOnly: opts.initTrunkOnly ?? false, lambda: opts.lambda ?? null },
    });
    emit({ kind: 'checkpoint', step, dir: ckDir });
  };

  // Variables are registered globally by name: a run that throws must still release them, or
  // a later run in the same process would find (and the optimizer update) the stale ones.
  try {
    if (step === 0) await runValidation();
    while (step < opts.steps) {
      const t0 = performance.now();
      const x = tf.tensor4d(sampler.nextBatch(opts.batchSize), [opts.batchSize, opts.cropSize, opts.cropSize, 3]);
      optimizer.learningRate = learningRateAt(schedule, step);
      const s = model.trainStep(x, optimizer, { clipNorm: opts.clipNorm, keepLevels: previewLevels(opts, step), lambda: opts.lambda });
      x.dispose();
      step++;
      const report: StepReport = { step, ...s, lr: optimizer.learningRate, msPerStep: performance.now() - t0 };
      log.write({ type: 'step', ...report });
      emit({ kind: 'step', report });
      if (step % opts.validateEvery === 0 || step === opts.steps) {
        await runValidation();
        await checkpoint();
      }
    }
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  return { finalStep: step, validations, checkpointDir: ckDir, backend: backend.name };
}
