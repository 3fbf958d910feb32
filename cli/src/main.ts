/**
 * dqcodec command line. Each subcommand lives in commands/; this file only wires them up and
 * turns user errors into one line on stderr with a non-zero exit code.
 */
import { CommanderError } from 'commander';
import { isUserError } from './errors.js';
import { createProgram } from './program.js';

const program = createProgram();

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
