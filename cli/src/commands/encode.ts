import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import { INPUT_EXTENSIONS, levelsForQuality, type DqCodec, type EncodeFileResult } from '@dqcodec/codec';
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
  qualityMember,
  singleFileError,
  type CodecFlags,
  withCodec,
} from './codecCommon.js';

interface EncodeFlags extends CodecFlags {
  out: string;
  flatten?: string | boolean;
  method?: 'context' | 'static' | 'conditional' | 'coefficient';
  quality?: string;
  levels?: number;
  overwrite: boolean;
  force: boolean;
  allowCorrupt: boolean;
}

export const QUALITY_HELP = `Qualities (--quality):
  A model family, such as the default model (dqc-tc, models/default), has numbered qualities:
  1 = smallest files … N = best images. The default model has qualities 1–11, from about 0.09 bpp
  (quality 1) to about 1.6 bpp (quality 11) on photos; without --quality it encodes at quality 6.
  Aliases: low = 2, medium = 6, high = 10. Decoding needs no quality: each file records the model
  that made it, and decode/detokenize pick that quality of the family.
  A single model directory (e.g. models/dq-ae) has two: high (default) stores every level; low
  stores only the top level (a much smaller file, a coarse image).
  --levels n stores only the top n levels at any quality (--levels 1: a preview-only file).`;

/**
 * The codec of the quality asked for and the levels to store: --levels wins over a single model's
 * --quality; both are checked against the model before any work (a bad quality is a one-line error).
 */
async function operatingPoint(o: EncodeFlags, root: DqCodec): Promise<{ codec: DqCodec; levels: number }> {
  let codec = root;
  if (root.family) {
    codec = await qualityMember(root, o.quality);
  } else if (o.quality !== undefined && o.quality !== 'high' && o.quality !== 'low') {
    const numeric = /^\d+$/.test(o.quality);
    throw new UserError(
      `--quality ${printable(o.quality)}: model ${printable(root.manifest.name)} (${printable(root.modelDir)}) is a single model${numeric ? ', not a model family: numbered qualities need a family such as the default model' : ''}; its qualities are high (every level) and low (the top level only)`,
    );
  }
  const total = codec.manifest.levels.length;
  if (o.levels !== undefined && o.levels > total) throw new UserError(`--levels ${o.levels}: model ${printable(codec.manifest.name)} has ${total} level${total === 1 ? '' : 's'}`);
  const levels = o.levels ?? (root.family ? total : levelsForQuality(o.quality === 'low' ? 'low' : 'high', total));
  return { codec, levels };
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
    .addOption(
      new Option('--method <name>', "entropy coding method (default: the model's: 'coefficient' for a transform model, 'conditional' for a rate model's learned prior, else 'context')").choices([
        'context',
        'static',
        'conditional',
        'coefficient',
      ]),
    )
    .option(
      '--quality <q>',
      'operating point. Model family (the default model): 1..N or an alias; the default model has 1–11 (~0.09–1.6 bpp), default 6, low = 2, medium = 6, high = 10. Single model directory: high (default) = every level, low = top level only',
    )
    .option('--levels <n>', 'store only the top n levels (1 = preview-only file; overrides a single model\'s --quality)', intOption(1))
    .option('--no-overwrite', 'refuse to replace existing outputs (by default they are replaced atomically)')
    .addHelpText('after', `\n${QUALITY_HELP}`);
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
      await withCodec(o, async (root) => {
        // A bad --quality or --levels is about the model, not the file: its message does not name the input.
        const { codec, levels } = await operatingPoint(o, root);
        try {
          const r = await codec.encodeFile(input, o.out, { flatten: o.flatten, method: o.method, levels, overwrite: o.overwrite, force: o.force, allowCorrupt: o.allowCorrupt });
          if (!o.quiet) {
            process.stdout.write(`${printable(summary(input, r))}\n`);
            for (const n of r.notes) process.stderr.write(`${printable(`note: ${input}: ${n}`)}\n`);
          }
        } catch (err) {
          throw singleFileError(input, err);
        }
      });
      return;
    }
    if ((await stat(o.out).catch(() => null))?.isFile()) throw new UserError(`output ${o.out} is a file, but several inputs need an output directory`);
    if (expanded.files.length === 0 && expanded.missing.length === 0) throw new UserError(printable(`no input images found in ${inputs.join(', ')}`));
    const jobs = mapOutputs(expanded.files, o.out, '.dqc');
    await withCodec(o, async (root) => {
      const { codec, levels } = await operatingPoint(o, root);
      await runBatch('encode', jobs, expanded, o.quiet, async (job) => {
        const r = await codec.encodeFile(job.input, job.output, { flatten: o.flatten, method: o.method, levels, overwrite: o.overwrite, force: o.force, allowCorrupt: o.allowCorrupt });
        return { line: summary(job.input, r), notes: r.notes };
      });
    });
  });
}
