/**
 * The dqcodec command tree, without running it: main.ts parses process.argv with it, and the
 * tests drive the same tree in-process.
 */
import { Command } from 'commander';
import { registerTrain } from './commands/train.js';
import { registerExport } from './commands/export.js';
import { registerEncode } from './commands/encode.js';
import { registerDecode } from './commands/decode.js';
import { registerInfo } from './commands/info.js';
import { registerFitEntropy } from './commands/fitEntropy.js';
import { registerDemo } from './commands/demo.js';
import { registerDetokenize, registerTokens } from './commands/tokens.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerBench } from './commands/bench.js';

export function createProgram(): Command {
  const program = new Command()
    .name('dqcodec')
    .description('Learned image codec: images to compact .dqc files of discrete codes and back. The default model family codes a fixed 8×8 DCT on scalar grid levels with a learned decoder refiner, qualities 1–11; models/dq-ae is the hierarchical Depthwise-Quantized auto-encoder (DQ-AE) with learned codebooks.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of [
    registerTrain,
    registerExport,
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
