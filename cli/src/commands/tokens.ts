/**
 * `dqcodec tokens`: images → the model's discrete tokens (per level an index tensor [M, h, w]
 * with the model fingerprint), as JSON or .npy; `dqcodec detokenize`: such a file → image.
 */
import { extname } from 'node:path';
import { mkdir, stat } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { detokenizeFile, INPUT_EXTENSIONS, TOKEN_FORMATS, tokensFile, type TokenFormat, type TokensFileResult } from '@dqcodec/codec';
import { UserError } from '../errors.js';
import { printable } from '../printable.js';
import {
  addAllowCorruptOption,
  addCodecOptions,
  addFlattenOption,
  addForceOption,
  addImageOutputOptions,
  addQualityOption,
  channelsName,
  expandInputs,
  kb,
  mapOutputs,
  missingInputError,
  outputIsDirectory,
  qualityMember,
  runBatch,
  singleFileError,
  type CodecFlags,
  withCodec,
  withCodecForFile,
} from './codecCommon.js';

interface TokensFlags extends CodecFlags {
  out: string;
  format: TokenFormat;
  flatten?: string | boolean;
  overwrite: boolean;
  force: boolean;
  allowCorrupt: boolean;
  quality?: string;
}

const LAYOUT_HELP = `
Layouts (levels are top first: level 0 = the coarsest, as in \`dqcodec info\`):
  json  one file per image: {"format": "dqcodec-tokens", "version": 1, "model": {"name", "fingerprint"},
        "image": {"width", "height", "channels", "paddedWidth", "paddedHeight"},
        "levels": [{"stride", "M", "K", "h", "w", "dtype": "uint16", "indices": [M][h][w]}, ...]}
        -o is a file for one image, a directory (<name>.tokens.json each) for several.
  npy   -o is a directory; per image <name>.tokens.json, the same document with "file" in place of
        "indices", and <name>.level<i>.npy per level: uint16, shape (M, h, w), np.load-able.
With a model family (the default model), --quality picks the model (default: the family's default
quality); the tokens record its fingerprint, and detokenize finds that quality again by itself.
Tokens hold no alpha: detokenize gives the colour channels. Edited tokens (any integer dtype in
the .npy) decode as long as the model fingerprint, shapes and index ranges fit.`;

function summary(input: string, r: TokensFileResult): string {
  const shapes = r.tokens.levels.map((l) => `${l.M}×${l.h}×${l.w}`).join(', ');
  return `${input} → ${r.output}: ${r.tokens.levels.length} levels [M×h×w top first: ${shapes}], model ${r.tokens.model.name}`;
}

export function registerTokens(program: Command): void {
  const cmd = program
    .command('tokens')
    .description("Write images' discrete tokens (per level the index tensor [M, h, w], with the model fingerprint) as JSON or .npy.")
    .argument('<input...>', 'image files, directories (searched recursively) or quoted globs')
    .requiredOption('-o, --out <path>', 'output .json file for one image; else (and always for npy) a directory')
    .addOption(new Option('--format <fmt>', 'token file layout').choices([...TOKEN_FORMATS]).default('json'))
    .option('--no-overwrite', 'refuse to replace existing outputs')
    .addHelpText('after', LAYOUT_HELP);
  addFlattenOption(cmd, 'composite transparency onto a background (default white) first');
  addAllowCorruptOption(cmd);
  addForceOption(cmd);
  addQualityOption(cmd);
  addCodecOptions(cmd).action(async (inputs: string[], o: TokensFlags) => {
    const expanded = await expandInputs(inputs, INPUT_EXTENSIONS);
    const toDir = o.format === 'npy' || (await outputIsDirectory(o.out, expanded, inputs.length));
    const opts = { format: o.format, flatten: o.flatten, overwrite: o.overwrite, force: o.force, allowCorrupt: o.allowCorrupt };
    if (!toDir) {
      if (expanded.missing.length > 0) throw missingInputError(expanded);
      const input = expanded.files[0].path;
      if (extname(o.out).toLowerCase() !== '.json') throw new UserError(`output ${o.out} should end in .json (--format json writes one JSON document)`);
      await withCodec(o, async (root) => {
        const codec = await qualityMember(root, o.quality);
        try {
          const r = await tokensFile(codec, input, o.out, opts);
          if (!o.quiet) process.stdout.write(`${printable(summary(input, r))}\n`);
        } catch (err) {
          throw singleFileError(input, err);
        }
      });
      return;
    }
    if ((await stat(o.out).catch(() => null))?.isFile()) throw new UserError(`output ${o.out} is a file, but ${o.format === 'npy' ? '--format npy' : 'several inputs'} need${o.format === 'npy' ? 's' : ''} an output directory`);
    if (expanded.files.length === 0 && expanded.missing.length === 0) throw new UserError(printable(`no input images found in ${inputs.join(', ')}`));
    const jobs = mapOutputs(expanded.files, o.out, '.tokens.json');
    await mkdir(o.out, { recursive: true });
    await withCodec(o, async (root) => {
      const codec = await qualityMember(root, o.quality);
      await runBatch('tokenize', jobs, expanded, o.quiet, async (job) => {
        const r = await tokensFile(codec, job.input, job.output, opts);
        return { line: summary(job.input, r), notes: [] };
      });
    });
  });
}

interface DetokenizeFlags extends CodecFlags {
  out: string;
  levels?: number;
  format?: string;
  quality: number;
  overwrite: boolean;
  force: boolean;
}

export function registerDetokenize(program: Command): void {
  const cmd = program
    .command('detokenize')
    .description('Decode a token file from `dqcodec tokens` (either layout) into an image; pixels equal decoding the .dqc of the same image.')
    .argument('<tokens>', 'token file (.json; for the npy layout, the <name>.tokens.json next to its .npy arrays)')
    .requiredOption('-o, --out <image>', 'output image (png, jpg, webp, avif, tiff; from the extension or --format)')
    .option('--no-overwrite', 'refuse to replace an existing output');
  addForceOption(cmd);
  addCodecOptions(addImageOutputOptions(cmd, 'from the output extension')).action(async (input: string, o: DetokenizeFlags) => {
    if (o.quality > 100) throw new UserError(`--quality must be 1..100 (got ${o.quality})`);
    await withCodecForFile(o, input, async (codec) => {
      const L = codec.manifest.levels.length;
      if (o.levels !== undefined && o.levels > L) throw new UserError(`--levels ${o.levels}: the model has only ${L} levels`);
      const r = await detokenizeFile(codec, input, o.out, { levels: o.levels, format: o.format, quality: o.quality, overwrite: o.overwrite, force: o.force });
      const lv = r.levels < r.totalLevels ? `, preview from ${r.levels} of ${r.totalLevels} levels` : '';
      if (!o.quiet) process.stdout.write(`${printable(`${input} → ${r.output}: ${r.width}×${r.height} ${channelsName(r.channels)}, ${kb(r.size)}${lv}`)}\n`);
    });
  });
}

