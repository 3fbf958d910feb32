/**
 * dqcodec command line. Each subcommand lives in commands/; this file only wires them up and
 * turns user errors into one line on stderr with a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from './errors.js';
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

const program = new Command()
  .name('dqcodec')
  .description('Learned image codec built on a hierarchical Depthwise-Quantized auto-encoder (DQ-AE).')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerTrain(program);
registerExport(program);
registerEncode(program);
registerDecode(program);
registerInfo(program);
registerFitEntropy(program);
registerDemo(program);
registerTokens(program);
registerDetokenize(program);
registerAnalyze(program);
registerBench(program);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help text).
      process.exitCode = err.exitCode;
      return;
    }
    if (isUserError(err)) {
      process.stderr.write(`dqcodec: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    // A bug, not a user mistake: keep the stack. Printed here rather than rethrown, because the
    // wasm runtime's uncaughtException hook would print its whole minified source line.
    process.stderr.write(`dqcodec: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  }
}

await main();
