import { Command } from 'commander';
import { exportCheckpoint } from '@dqcodec/train';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export a training checkpoint to ONNX graphs (encoder, quantizer, decoder) and manifest.json.')
    .argument('<checkpoint>', 'a checkpoint directory, or a training --out directory containing checkpoint/')
    .requiredOption('-o, --out <dir>', 'model directory to create (must not exist unless --overwrite)')
    .option('--name <name>', "the model's name in its manifest (default: the config's name); 1-64 characters of [A-Za-z0-9_.-]")
    .option('--overwrite', 'replace an existing model directory (only after the new one is complete)', false)
    .option('-q, --quiet', 'print nothing on success', false)
    .action(async (checkpoint: string, o: { out: string; name?: string; overwrite: boolean; quiet: boolean }) => {
      const r = await exportCheckpoint(checkpoint, o.out, { overwrite: o.overwrite, name: o.name });
      if (!o.quiet) {
        const sizes = Object.entries(r.manifest.sizes ?? {})
          .map(([k, v]) => `${k} ${(Number(v) / 1024).toFixed(0)} KiB`)
          .join(', ');
        process.stdout.write(`exported step ${r.step} to ${r.outDir} in ${r.ms.toFixed(0)} ms (${sizes}); fingerprint ${r.manifest.fingerprint.slice(0, 16)}…\n`);
      }
    });
}
