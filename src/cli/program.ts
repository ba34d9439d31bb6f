// The `roadster` command tree (commander) and its one error handler: a RoadsterError prints
// `error [CODE]: message` and exits 1 (2 for usage errors, E_USAGE or a bad flag); anything else is a bug and
// prints its stack.

import { Command, CommanderError } from 'commander';
import { RoadsterError } from '../errors.ts';
import { registerInspect } from './commands/adapter-inspect.ts';
import { registerMerge } from './commands/adapter-merge.ts';
import { registerBenchForward } from './commands/bench-forward.ts';
import { registerBenchMatmul } from './commands/bench-matmul.ts';
import { registerBenchTrain } from './commands/bench-train.ts';
import { registerDemo } from './commands/demo.ts';
import { registerExport } from './commands/export.ts';
import { registerGenerate } from './commands/generate.ts';
import { registerPresetWrite } from './commands/preset-write.ts';
import { registerTrain } from './commands/train.ts';
import type { CliIo } from './io.ts';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** The command tree, writing to `io`. Commander's own exits are turned into exceptions (see `runCli`). */
export function buildProgram(io: CliIo): Command {
  const program = new Command('roadster')
    .description('RoAd adapters for language models on Node.js (ONNX Runtime, CPU)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');

  const bench = program.command('bench').description('measure speed: matmul throughput, model forward passes');
  registerBenchMatmul(bench, io);
  registerBenchForward(bench, io);
  registerBenchTrain(bench, io);
  const preset = program.command('preset').description('models with the shapes of real ones and random weights');
  registerPresetWrite(preset, io);
  registerDemo(program, io);
  registerExport(program, io);
  registerGenerate(program, io);
  registerInspect(program, io);
  registerMerge(program, io);
  registerTrain(program, io);
  return program;
}

/** Prints an error as the CLI reports it; returns the exit code. */
export function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // commander printed its message (or the help) already
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof RoadsterError) {
    io.stderr.write(`error [${error.code}]: ${error.message}\n`);
    return error.code === 'E_USAGE' ? EXIT.usage : EXIT.error;
  }
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  io.stderr.write(`internal error (a bug in roadster; please report it):\n${text}\n`);
  return EXIT.error;
}

/** Runs the CLI on `argv` (without the node and script entries); returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return reportError(error, io);
  }
}
