import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { exportCheckpoint, exportTransformFamily, isTransformConfig, loadCheckpoint, parseTransformConfig, type CheckpointData } from '@dqcodec/train';
import { UserError } from '../errors.js';
import { printable } from '../printable.js';
import { intOption } from '../options.js';

/** A transform model's checkpoint → a model family (one model directory per operating point + family.json). */
async function exportFamily(ck: CheckpointData, o: { out: string; overwrite: boolean; quiet: boolean; defaultQuality?: number }): Promise<void> {
  const cfg = parseTransformConfig(ck.config);
  if (o.defaultQuality !== undefined && o.defaultQuality > cfg.qualities.length) throw new UserError(`--default-quality ${o.defaultQuality}: model ${cfg.name} has qualities 1–${cfg.qualities.length}`);
  if (!o.overwrite && (await stat(o.out).catch(() => null))) throw new UserError(`output directory ${o.out} already exists (choose another one or pass --overwrite)`);
  const t0 = performance.now();
  const r = await exportTransformFamily(cfg, ck.weights, o.out, { defaultQuality: o.defaultQuality });
  if (!o.quiet) process.stdout.write(`exported step ${ck.step} of transform model ${cfg.name} as a family of ${r.dirs.length} qualities in ${r.outDir} (${(performance.now() - t0).toFixed(0)} ms)\n`);
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export a training checkpoint to ONNX graphs (encoder, quantizer, decoder) and manifest.json; a transform model exports as a model family (family.json + one model directory per quality).')
    .argument('<checkpoint>', 'a checkpoint directory, or a training --out directory containing checkpoint/')
    .requiredOption('-o, --out <dir>', 'model directory to create (must not exist unless --overwrite)')
    .option('--name <name>', "the model's name in its manifest (default: the config's name); 1-64 characters of [A-Za-z0-9_.-]")
    .option('--overwrite', 'replace an existing model directory (only after the new one is complete)', false)
    .option('--default-quality <n>', 'transform models: the quality encoders use by default (default: the middle one)', intOption(1))
    .option('-q, --quiet', 'print nothing on success', false)
    .action(async (checkpoint: string, o: { out: string; name?: string; overwrite: boolean; quiet: boolean; defaultQuality?: number }) => {
      // One read of the checkpoint: its config says which exporter it needs.
      const ck = await loadCheckpoint(checkpoint);
      if (isTransformConfig(ck.config)) {
        if (o.name !== undefined) throw new UserError(`--name does not apply to transform model ${printable(ck.config.name)}: its members are named <config name>-q<quality>`);
        return exportFamily(ck, o);
      }
      if (o.defaultQuality !== undefined) throw new UserError('--default-quality applies to transform models only (this checkpoint is a DQ-AE: one model, no qualities)');
      const r = await exportCheckpoint(ck, o.out, { overwrite: o.overwrite, name: o.name });
      if (!o.quiet) {
        const sizes = Object.entries(r.manifest.sizes ?? {})
          .map(([k, v]) => `${k} ${(Number(v) / 1024).toFixed(0)} KiB`)
          .join(', ');
        process.stdout.write(`exported step ${r.step} to ${r.outDir} in ${r.ms.toFixed(0)} ms (${sizes}); fingerprint ${r.manifest.fingerprint.slice(0, 16)}…\n`);
      }
    });
}
