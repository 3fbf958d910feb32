import { extname } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { OUTPUT_FORMATS, type DecodeFileResult } from '@dqcodec/codec';
import { UserError } from '../errors.js';
import { printable } from '../printable.js';
import {
  addCodecOptions,
  addForceOption,
  addImageOutputOptions,
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

interface DecodeFlags extends CodecFlags {
  out: string;
  levels?: number;
  format?: string;
  quality?: number;
  overwrite: boolean;
  force: boolean;
}

function summary(input: string, r: DecodeFileResult): string {
  const lv = r.levels < r.totalLevels ? `, preview from ${r.levels} of ${r.totalLevels} levels` : '';
  return `${input} → ${r.output}: ${r.width}×${r.height} ${channelsName(r.channels)}, ${kb(r.size)} ${r.format}${lv}`;
}

export function registerDecode(program: Command): void {
  const cmd = program
    .command('decode')
    .description('Decode .dqc files into images; the format follows the output extension or --format.')
    .argument('<input...>', '.dqc files, directories (searched recursively) or quoted globs')
    .requiredOption('-o, --out <path>', 'output image; a directory when several inputs, a directory or a glob are given')
    .option('--no-overwrite', 'refuse to replace existing outputs (by default they are replaced atomically)');
  addForceOption(cmd);
  addCodecOptions(addImageOutputOptions(cmd, 'from the output extension; png for directories')).action(async (inputs: string[], o: DecodeFlags) => {
    if (o.quality !== undefined && o.quality > 100) throw new UserError(`--quality must be 1..100 (got ${o.quality})`);
    const expanded = await expandInputs(inputs, ['dqc']);
    const toDir = await outputIsDirectory(o.out, expanded, inputs.length);
    const checkLevels = (L: number): void => {
      if (o.levels !== undefined && o.levels > L) throw new UserError(`--levels ${o.levels}: the model has only ${L} levels`);
    };
    if (!toDir) {
      if (expanded.missing.length > 0) throw missingInputError(expanded);
      const input = expanded.files[0].path;
      const ext = extname(o.out).slice(1).toLowerCase();
      if (o.format === undefined && ext === '') throw new UserError(`cannot tell the image format of ${o.out}: give it an extension (.png, .jpg, .webp, .avif, .tiff) or use --format`);
      const same = (a: string, b: string): boolean => a.replace('jpeg', 'jpg').replace('tiff', 'tif') === b.replace('jpeg', 'jpg').replace('tiff', 'tif');
      if (o.format !== undefined && (OUTPUT_FORMATS as readonly string[]).includes(ext) && !same(ext, o.format)) {
        throw new UserError(`--format ${o.format} contradicts the extension of ${o.out}`);
      }
      await withCodecForFile(o, input, async (codec) => {
        checkLevels(codec.manifest.levels.length);
        const r = await codec.decodeFile(input, o.out, { levels: o.levels, format: o.format, quality: o.quality, overwrite: o.overwrite, force: o.force });
        if (!o.quiet) process.stdout.write(`${printable(summary(input, r))}\n`);
      });
      return;
    }
    if ((await stat(o.out).catch(() => null))?.isFile()) throw new UserError(`output ${o.out} is a file, but several inputs need an output directory`);
    if (expanded.files.length === 0 && expanded.missing.length === 0) throw new UserError(printable(`no .dqc files found in ${inputs.join(', ')}`));
    const format = o.format ?? 'png';
    const jobs = mapOutputs(expanded.files, o.out, `.${format}`);
    await withCodec(o, async (codec) => {
      checkLevels(codec.manifest.levels.length);
      await runBatch('decode', jobs, expanded, o.quiet, async (job) => {
        const r = await codec.decodeFile(job.input, job.output, { levels: o.levels, format, quality: o.quality, overwrite: o.overwrite, force: o.force });
        return { line: summary(job.input, r), notes: [] };
      });
    });
  });
}
