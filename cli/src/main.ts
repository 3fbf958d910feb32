/**
 * dqcodec command line. Each subcommand lives in commands/; this file only wires them up and
 * turns user errors into one line on stderr with a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from './errors.js';
import { registerTrain } from './commands/train.js';
import { registerExport } from './commands/export.js';

const program = new Command()
  .name('dqcodec')
  .description('Learned image codec built on a hierarchical Depthwise-Quantized auto-encoder (DQ-AE).')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerTrain(program);
registerExport(program);

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
    throw err;
  }
}

await main();
