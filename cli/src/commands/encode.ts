import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import { INPUT_EXTENSIONS, QUALITIES, levelsForQuality, type DqCodec, type EncodeFileResult, type Quality } from '@dqcodec/codec';
import { UserError } from '../errors.js';
import { intOption } from '../options.js';
import { printable } from '../printable.js';
import {
  addAllowCorruptOption,
  addCodecOptions,
  addFlattenOption,
  addForceOption,
  channelsName,
  expandInputs,
  kb,
  mapOutputs,
  missingInputError,
  outputIsDirectory,
  runBatch,
  type CodecFlags,
  withCodec,
  withCodecForFile,
} from './codecCommon.js';

interface EncodeFlags extends CodecFlags {
  out: string;
  flatten?: string | boolean;
  method?: 'context' | 'static' | 'conditional';
  quality: Quality;
  levels?: number;
  overwrite: boolean;
  force: boolean;
  allowCorrupt: boolean;
}

/** Levels to store: --levels wins over --quality; both are checked against the model. */
function storedLevels(o: EncodeFlags, codec: DqCodec): number {
  const total = codec.manifest.levels.length;
  if (o.levels !== undefined && o.levels > total) throw new UserError(`--levels ${o.levels}: model ${printable(codec.manifest.name)} has ${total} level${total === 1 ? '' : 's'}`);
  return o.levels ?? levelsForQuality(o.quality, total);
}

function summary(input: string, r: EncodeFileResult): string {
  return `${input} → ${r.output}: ${kb(r.size)}, ${r.bpp.toFixed(3)} bpp (${r.width}×${r.height} ${channelsName(r.channels)})`;
}

export function registerEncode(program: Command): void {
  const cmd = program
    .command('encode')
    .description('Encode images (PNG, JPEG, WebP, AVIF, TIFF, …) into .dqc files.')
    .argument('<input...>', 'image files, directories (searched recursively) or quoted globs')
    .requiredOption('-o, --out <path>', 'output .dqc file; a directory when several inputs, a directory or a glob are given')
    .addOption(new Option('--method <name>', "entropy coding method (default: the model's: 'conditional' for a rate model's learned prior, else 'context')").choices(['context', 'static', 'conditional']))
    .addOption(
      new Option('--quality <name>', 'operating point: high stores every level; low stores only the top level (a much smaller file, a coarse image)')
        .choices([...QUALITIES])
        .default('high'),
    )
    .option('--levels <n>', 'store only the top n levels (overrides --quality)', intOption(1))
    .option('--no-overwrite', 'refuse to replace existing outputs (by default they are replaced atomically)');
  addFlattenOption(cmd, 'composite transparency onto a background (default white) instead of storing alpha losslessly');
  addAllowCorruptOption(cmd);
  addForceOption(cmd);
  addCodecOptions(cmd).action(async (inputs: string[], o: EncodeFlags) => {
    const expanded = await expandInputs(inputs, INPUT_EXTENSIONS);
    const toDir = await outputIsDirectory(o.out, expanded, inputs.length);
    if (!toDir) {
      // One file in, one file out: errors are a single line and the exit code says it all.
      if (expanded.missing.length > 0) throw missingInputError(expanded);
      const input = expanded.files[0].path;
      if (extname(o.out).toLowerCase() !== '.dqc' && extname(o.out) !== '') {
        throw new UserError(`output ${o.out} should end in .dqc (it will hold a .dqc file, not an image)`);
      }
      await withCodecForFile(o, input, async (codec) => {
        const r = await codec.encodeFile(input, o.out, { flatten: o.flatten, method: o.method, levels: storedLevels(o, codec), overwrite: o.overwrite, force: o.force, allowCorrupt: o.allowCorrupt });
        if (!o.quiet) {
          process.stdout.write(`${printable(summary(input, r))}\n`);
          for (const n of r.notes) process.stderr.write(`${printable(`note: ${input}: ${n}`)}\n`);
        }
      });
      return;
    }
    if ((await stat(o.out).catch(() => null))?.isFile()) throw new UserError(`output ${o.out} is a file, but several inputs need an output directory`);
    if (expanded.files.length === 0 && expanded.missing.length === 0) throw new UserError(printable(`no input images found in ${inputs.join(', ')}`));
    const jobs = mapOutputs(expanded.files, o.out, '.dqc');
    await withCodec(o, async (codec) => {
      const levels = storedLevels(o, codec);
      await runBatch('encode', jobs, expanded, o.quiet, async (job) => {
        const r = await codec.encodeFile(job.input, job.output, { flatten: o.flatten, method: o.method, levels, overwrite: o.overwrite, force: o.force, allowCorrupt: o.allowCorrupt });
        return { line: summary(job.input, r), notes: r.notes };
      });
    });
  });
}
