/**
 * dqcodec command line. Each subcommand lives in commands/; this file only wires them up and
 * turns user errors into one line on stderr with a non-zero exit code.
 */
import type { Command } from 'commander';
import { CommanderError } from 'commander';
import { isUserError, UserError } from './errors.js';
import { printable } from './printable.js';
import { createLightProgram, needsTrainCommands } from './lightProgram.js';

/**
 * `train` and `export` need @dqcodec/train (TensorFlow.js), which takes about half a second to
 * load and is an optional package: only those commands load the full tree (program.ts).
 */
async function loadProgram(args: readonly string[]): Promise<Command> {
  if (!needsTrainCommands(args)) return createLightProgram();
  try {
    return (await import('./program.js')).createProgram();
  } catch (err) {
    const missing = err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && err.message.includes("'@dqcodec/train'");
    if (missing) throw new UserError('training and export need the @dqcodec/train package: npm install @dqcodec/train');
    throw err;
  }
}

/**
 * A reader that goes away early (`dqcodec info x.dqc | head -1`, `--help | head`) is not an
 * error of ours: stop quietly, as Unix tools do, instead of dying on EPIPE with a stack trace.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

async function main(): Promise<void> {
  quietOnClosedPipe(process.stdout);
  try {
    const program = await loadProgram(process.argv.slice(2));
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help text).
      process.exitCode = err.exitCode;
      return;
    }
    if (isUserError(err)) {
      // Messages quote file names and model names: printed printable (one line, no control characters).
      process.stderr.write(`dqcodec: ${printable(err.message)}\n`);
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
