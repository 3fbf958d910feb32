/**
 * The command tree without `train` and `export`, whose modules import @dqcodec/train
 * (TensorFlow.js: about half a second to load, and an optional package for users who only
 * encode and decode). Those two appear as placeholders with their real descriptions, so that
 * `dqcodec --help` lists every command; main.ts never runs a placeholder, it builds the full tree
 * (program.ts) whenever `train` or `export` is asked for. test/lightProgram.test.ts checks that
 * both trees print the same top-level help.
 */
import { Command, Option } from 'commander';
import { registerEncode } from './commands/encode.js';
import { registerDecode } from './commands/decode.js';
import { registerInfo } from './commands/info.js';
import { registerFitEntropy } from './commands/fitEntropy.js';
import { registerDemo } from './commands/demo.js';
import { registerDetokenize, registerTokens } from './commands/tokens.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerBench } from './commands/bench.js';

/** Commands whose modules need @dqcodec/train, with their descriptions and arguments as registered. */
export const TRAIN_COMMANDS: Readonly<Record<string, { description: string; args: string }>> = {
  train: { description: 'Train a model on a directory of photos (TensorFlow.js): a DQ-AE, or the refiner of a transform model (config kind "transform"); writes checkpoints, metrics.jsonl and reconstruction grids to --out.', args: '' },
  export: { description: 'Export a training checkpoint to ONNX graphs (encoder, quantizer, decoder) and manifest.json; a transform model exports as a model family (family.json + one model directory per quality).', args: '<checkpoint>' },
};

/** True when argv (without node and the script) runs, or asks for help on, `train` or `export`. */
export function needsTrainCommands(args: readonly string[]): boolean {
  const words = args.filter((a) => !a.startsWith('-'));
  const cmd = words[0] === 'help' ? words[1] : words[0];
  return cmd !== undefined && Object.hasOwn(TRAIN_COMMANDS, cmd);
}

function placeholder(name: string): (program: Command) => void {
  return (program) => {
    const c = TRAIN_COMMANDS[name];
    // A hidden option makes commander list it as `<name> [options]`, as it lists the real one.
    program.command(`${name}${c.args ? ` ${c.args}` : ''}`).description(c.description).addOption(new Option('--placeholder').hideHelp());
  };
}

export function createLightProgram(): Command {
  const program = new Command()
    .name('dqcodec')
    .description('Learned image codec: images to compact .dqc files of discrete codes and back. The default model family codes a fixed 8×8 DCT on scalar grid levels with a learned decoder refiner, qualities 1–11; models/dq-ae is the hierarchical Depthwise-Quantized auto-encoder (DQ-AE) with learned codebooks.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [
    placeholder('train'),
    placeholder('export'),
    registerEncode,
    registerDecode,
    registerInfo,
    registerFitEntropy,
    registerDemo,
    registerTokens,
    registerDetokenize,
    registerAnalyze,
    registerBench,
  ]) {
    register(program);
  }
  return program;
}
