import { readFile, stat } from 'node:fs/promises';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { parseModelConfig, builtinConfigPath, train, LR_SCHEDULES, isTransformConfig, parseTransformConfig, trainTransform, type TrainEvent, type ModelConfig, type TransformConfig, type TransformTrainEvent, type LrSchedule, type BackendPreference } from '@dqcodec/train';
import { UserError } from '../errors.js';
import { intOption, floatOption } from '../options.js';

async function loadConfig(ref: string): Promise<ModelConfig | TransformConfig> {
  // A built-in name ("default", "tiny", …) or a path to a JSON file.
  const path = (await stat(ref).catch(() => null)) ? ref : builtinConfigPath(ref);
  if (!path) throw new UserError(`config ${ref}: no such file, and not a built-in config name`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UserError(`config ${path}: ${(err as Error).message}`);
  }
  try {
    return isTransformConfig(raw) ? parseTransformConfig(raw) : parseModelConfig(raw);
  } catch (err) {
    throw new UserError(`config ${path}: ${(err as Error).message}`);
  }
}

/** Plain log lines for a transform model's run (its validation reports every operating point checked). */
function transformReporter(quiet: boolean): (e: TransformTrainEvent) => void {
  let lastLine = 0;
  return (e) => {
    if (quiet) return;
    if (e.kind === 'start') process.stderr.write(`backend ${e.backend}; ${e.trainImages} training / ${e.valImages} validation images; steps ${e.startStep} → ${e.totalSteps}\n`);
    else if (e.kind === 'step' && Date.now() - lastLine > 10_000) {
      lastLine = Date.now();
      process.stderr.write(`step ${e.step} mse ${e.mse.toFixed(2)} (step scale ${e.scale.toFixed(2)}${e.keepBottom ? '' : ', preview'}) ${e.msPerStep.toFixed(0)} ms/step\n`);
    } else if (e.kind === 'validation') {
      const pts = e.report.points.map((p) => `q${p.quality} ${p.psnr.toFixed(2)} dB (untrained ${p.plainPsnr.toFixed(2)}, preview ${p.previewPsnr.toFixed(2)})`).join(', ');
      process.stderr.write(`validation step ${e.report.step}: ${pts}; grid ${e.report.gridPath}\n`);
    } else if (e.kind === 'warning') process.stderr.write(`warning: ${e.message}\n`);
  };
}

function fmtPerplexity(p: number[][]): string {
  // Mean perplexity per level, bottom first: a quick view of code usage.
  return p.map((lv) => (lv.reduce((s, v) => s + v, 0) / lv.length).toFixed(0)).join('/');
}

/** A progress bar on a TTY, plain log lines otherwise (CI, pipes). */
function progressReporter(quiet: boolean): (e: TrainEvent) => void {
  const tty = process.stderr.isTTY && !quiet;
  let bar: cliProgress.SingleBar | null = null;
  let lastPsnr = NaN;
  let lastLine = 0;
  return (e) => {
    switch (e.kind) {
      case 'start':
        if (!quiet) {
          process.stderr.write(`backend ${e.backend} (${e.backendReason}); ${e.trainImages} training / ${e.valImages} validation images\n`);
        }
        if (tty) {
          bar = new cliProgress.SingleBar(
            { format: 'train [{bar}] {value}/{total} | loss {loss} |{bpp} val PSNR {psnr} dB | perplexity {ppl} | {ms} ms/step', stream: process.stderr },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.totalSteps, e.startStep, { loss: '-', bpp: '', psnr: '-', ppl: '-', ms: '-' });
        }
        break;
      case 'step': {
        const r = e.report;
        // Rate models: the rate the learned prior predicts for this batch.
        const bpp = r.bpp > 0 ? ` ${r.bpp.toFixed(3)} bpp |` : '';
        const payload = { loss: r.loss.toFixed(5), bpp, psnr: Number.isNaN(lastPsnr) ? '-' : lastPsnr.toFixed(2), ppl: fmtPerplexity(r.perplexity), ms: r.msPerStep.toFixed(0) };
        if (bar) bar.update(r.step, payload);
        else if (!quiet && Date.now() - lastLine > 10_000) {
          lastLine = Date.now();
          process.stderr.write(`step ${r.step} loss ${payload.loss}${bpp} perplexity ${payload.ppl} ${payload.ms} ms/step\n`);
        }
        break;
      }
      case 'validation':
        lastPsnr = e.report.psnr;
        if (!bar && !quiet) {
          const rate = e.report.bpp > 0 ? ` at ${e.report.bpp.toFixed(3)} bpp (predicted)` : '';
          process.stderr.write(`validation step ${e.report.step}: PSNR ${e.report.psnr.toFixed(2)} dB${rate}, perplexity ${fmtPerplexity(e.report.perplexity)}, grid ${e.report.gridPath}\n`);
        }
        break;
      case 'warning':
        if (!quiet) process.stderr.write(`warning: ${e.message}\n`);
        break;
      case 'checkpoint':
        break;
    }
    if (bar && e.kind === 'checkpoint' && e.step >= (bar as cliProgress.SingleBar).getTotal()) bar.stop();
  };
}

/** The options both training loops share, from the parsed flags. */
function runOptions(o: Record<string, unknown>) {
  return {
    dataDir: o.data as string,
    outDir: o.out as string,
    steps: o.steps as number,
    batchSize: o.batch as number,
    cropSize: o.crop as number,
    learningRate: o.lr as number,
    lrSchedule: o.lrSchedule as LrSchedule,
    lrFinal: o.lrFinal as number | undefined,
    warmupSteps: o.warmup as number,
    clipNorm: o.clipNorm as number,
    previewDropout: o.previewDropout as number,
    seed: o.seed as number,
    validateEvery: o.valEvery as number,
    validationCrops: o.valCrops as number,
    maxSide: o.maxSide as number,
    resume: o.resume as boolean,
    backend: o.backend as BackendPreference,
  };
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('Train a model on a directory of photos (TensorFlow.js): a DQ-AE, or the refiner of a transform model (config kind "transform"); writes checkpoints, metrics.jsonl and reconstruction grids to --out.')
    .requiredOption('-c, --config <json|name>', 'model config: a JSON file, or a built-in name (tc: the transform model family shipped as models/default; default, rd-dq, rd-vq, tiny, ablation-dq, ablation-vq: DQ-AE configs)')
    .requiredOption('-d, --data <dir>', 'directory of images (any format sharp reads; searched recursively)')
    .requiredOption('-o, --out <dir>', 'output directory for checkpoint/, metrics.jsonl and grids/')
    .option('--steps <n>', 'total training steps', intOption(1), 2000)
    .option('--batch <n>', 'crops per step', intOption(1), 16)
    .option('--crop <px>', 'crop size in pixels (multiple of the total stride)', intOption(8), 64)
    .option('--lr <rate>', 'Adam learning rate (the paper uses 2e-4)', floatOption(0), 2e-4)
    .addOption(new Option('--lr-schedule <name>', 'learning-rate schedule over the run: constant, or cosine decay to --lr-final').choices([...LR_SCHEDULES]).default('constant'))
    .option('--lr-final <rate>', 'final learning rate of the cosine schedule (default: --lr / 20)', floatOption(-1e-12))
    .option('--warmup <steps>', 'linear learning-rate warm-up steps', intOption(0), 0)
    .option('--clip-norm <n>', 'global gradient-norm clipping', floatOption(0), 1.0)
    .option('--weight-decay <n>', 'decoupled (AdamW) weight decay; 0 = plain Adam', floatOption(-1e-12), 0)
    .option('--preview-dropout <p>', 'probability that a step decodes from the upper levels only (trains the progressive preview)', floatOption(-1e-12), 0)
    .option('--seed <n>', 'random seed (weights, crops, codebook init)', intOption(0), 1)
    .option('--val-every <n>', 'validate, write a grid and checkpoint every n steps', intOption(1), 250)
    .option('--val-crops <n>', 'number of fixed validation crops', intOption(1), 32)
    .option('--max-side <px>', 'downscale photos so the longer side is at most this (0 keeps full size)', intOption(0), 1024)
    .option('--resume', 'continue from <out>/checkpoint exactly where it stopped', false)
    .option('--init <checkpoint-dir>', 'start from the weights and codebooks of this checkpoint (same config) with a fresh optimizer at step 0, e.g. to fine-tune')
    .option('--init-trunk', 'with --init: take only the encoder/decoder weights (same strides, M·D and widths); codebooks start from data. E.g. a rate model from a distortion-only checkpoint', false)
    .option('--lambda <λ>', 'rate–distortion weight of a rate model (config quantizer.assign "entropy"): loss = bits per pixel + λ·MSE on the 8-bit scale. Larger λ: higher rate and quality (CompressAI range: 0.0018–0.0932)', floatOption(0))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .option('-q, --quiet', 'no progress output', false)
    .action(async (o) => {
      const loaded = await loadConfig(o.config);
      if (isTransformConfig(loaded)) {
        // A transform model (fixed DCT analysis, learned refiner): its own loop; options that only mean something for a DQ-AE are refused.
        for (const [flag, set] of [['--init', o.init !== undefined], ['--lambda', o.lambda !== undefined], ['--weight-decay', o.weightDecay !== 0]] as const) {
          if (set) throw new UserError(`${flag} does not apply to transform model ${loaded.name} (its analysis is fixed; only the refiner trains)`);
        }
        if (o.crop % 16 !== 0) throw new UserError(`--crop ${o.crop} must be a multiple of 16 for a transform model`);
        const r = await trainTransform({ ...runOptions(o), config: loaded, onEvent: transformReporter(o.quiet) });
        if (!o.quiet) process.stderr.write(`\ndone: step ${r.finalStep}; checkpoint in ${r.checkpointDir}; export with: dqcodec export ${r.checkpointDir} -o <family-dir>\n`);
        return;
      }
      const config = loaded;
      const stride = config.levels[config.levels.length - 1].stride;
      if (o.crop % stride !== 0) throw new UserError(`--crop ${o.crop} must be a multiple of the model's total stride ${stride}`);
      const rateModel = config.quantizer.assign === 'entropy';
      if (rateModel && o.lambda === undefined) throw new UserError(`config ${config.name} is a rate model (quantizer.assign "entropy"): give --lambda, e.g. --lambda 0.01`);
      if (!rateModel && o.lambda !== undefined) throw new UserError(`--lambda needs a rate model (config quantizer.assign "entropy"); ${config.name} is trained for distortion only`);
      if (o.initTrunk && !o.init) throw new UserError('--init-trunk needs --init <checkpoint-dir>');
      if (o.resume && o.init) throw new UserError('--resume and --init exclude each other: --resume continues <out>/checkpoint, --init starts a new run from another checkpoint');
      const result = await train({
        ...runOptions(o),
        config,
        weightDecay: o.weightDecay,
        initFrom: o.init,
        initTrunkOnly: o.initTrunk,
        lambda: o.lambda,
        onEvent: progressReporter(o.quiet),
      });
      const last = result.validations[result.validations.length - 1];
      if (!o.quiet && last) {
        const rate = last.bpp > 0 ? ` at ${last.bpp.toFixed(3)} bpp (predicted by the prior)` : '';
        process.stderr.write(`\ndone: step ${result.finalStep}, validation PSNR ${last.psnr.toFixed(2)} dB${rate}; checkpoint in ${result.checkpointDir}\n`);
      }
    });
}
