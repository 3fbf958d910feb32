import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { fitEntropy } from '@dqcodec/codec';
import { intOption } from '../options.js';
import { addCodecOptions, openCodec, type CodecFlags } from './codecCommon.js';
import { printable } from '../printable.js';

interface FitFlags extends CodecFlags {
  data: string;
  maxImages: number;
  successors?: number;
}

export function registerFitEntropy(program: Command): void {
  const cmd = program
    .command('fit-entropy')
    .description("Fit the model's entropy tables to a directory of photos and store them in its manifest.json (files encoded with the old tables stop decoding).")
    .requiredOption('-d, --data <dir>', 'directory of training photos (searched recursively)')
    .option('--max-images <n>', 'use at most n images, spread over the directory', intOption(1), 200)
    .option('--successors <n>', 'successor codes listed per code in the tables (0..16; default 8)', intOption(0));
  addCodecOptions(cmd).action(async (o: FitFlags) => {
    // Resolves the default model and checks it (clear errors) before any work.
    const codec = await openCodec(o);
    await codec.close();
    const tty = process.stderr.isTTY && !o.quiet;
    const bar = tty ? new cliProgress.SingleBar({ format: 'fit-entropy [{bar}] {value}/{total} | {file}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    let started = false;
    const r = await fitEntropy(codec.familyDir ?? codec.modelDir, o.data, {
      ep: o.ep,
      threads: o.threads,
      tileSize: o.tile,
      maxImages: o.maxImages,
      successors: o.successors,
      onProgress: (e) => {
        if (bar && !started) {
          bar.start(e.total, 0, { file: '' });
          started = true;
        }
        bar?.update(e.done, { file: e.file });
        if (e.error && !o.quiet) process.stderr.write(`${bar ? '\n' : ''}${printable(`skipped ${e.file}: ${e.error}`)}\n`);
      },
    });
    bar?.stop();
    if (!o.quiet) {
      process.stdout.write(`fitted entropy tables on ${r.images} images (${r.skipped.length} skipped); wrote ${r.manifestPath}\n`);
      process.stdout.write('level (top first)   M    K   bits/index before → after   log2 K\n');
      r.levels.forEach((l, i) => {
        process.stdout.write(`${String(i).padStart(5)}            ${String(l.M).padStart(4)} ${String(l.K).padStart(5)}   ${l.bitsBefore.toFixed(3).padStart(8)} → ${l.bitsAfter.toFixed(3).padEnd(8)}   ${Math.log2(l.K).toFixed(2)}\n`);
      });
      process.stderr.write(
        r.keptPrior
          ? "note: the model's learned prior is kept: its 'conditional' .dqc files still decode; new files use the fitted tables ('context')\n"
          : 'note: .dqc files encoded with the previous tables will not decode with this model any more\n',
      );
    }
  });
}
