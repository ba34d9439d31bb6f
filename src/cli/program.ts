// The `roadster` command tree (commander) and its one error handler: a RoadsterError prints
// `error [CODE]: message` and exits 1 (2 for usage errors, E_USAGE or a bad flag); anything else is a bug and
// prints its stack.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { RoadsterError } from '../errors.ts';
import { registerInspect } from './define/adapter-inspect.ts';
import { registerMerge } from './define/adapter-merge.ts';
import { registerBenchCliStartup } from './define/bench-cli-startup.ts';
import { registerBenchForward } from './define/bench-forward.ts';
import { registerBenchGenerate } from './define/bench-generate.ts';
import { registerBenchMatmul } from './define/bench-matmul.ts';
import { registerBenchServe } from './define/bench-serve.ts';
import { registerBenchTrain } from './define/bench-train.ts';
import { registerCompose } from './define/compose.ts';
import { registerDemo } from './define/demo.ts';
import { registerExport } from './define/export.ts';
import { registerGenerate } from './define/generate.ts';
import { registerInterpret } from './define/interpret.ts';
import { registerPresetWrite } from './define/preset-write.ts';
import { registerServe } from './define/serve.ts';
import { registerStudio } from './define/studio.ts';
import { registerTrain } from './define/train.ts';
import { type CliIo, hasColors } from './io.ts';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** The package's version (package.json sits two folders up from both src/cli/ and dist/cli/). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The command tree, writing to `io`. Commander's own exits are turned into exceptions (see `runCli`). */
export function buildProgram(io: CliIo): Command {
  const program = new Command('roadster')
    .description('RoAd adapters for language models on Node.js (ONNX Runtime, CPU)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      getOutHasColors: () => hasColors(io, io.stdout),
      getErrHasColors: () => hasColors(io, io.stderr),
    })
    .showHelpAfterError('(add --help for usage)')
    // a subcommand's flags after its name are its own (`demo compose --out X` is compose's --out, not demo's)
    .enablePositionalOptions();

  const bench = program.command('bench').description('measure speed: matmul throughput, forward passes, training steps, CLI startup, the HTTP server');
  registerBenchMatmul(bench, io);
  registerBenchForward(bench, io);
  registerBenchTrain(bench, io);
  registerBenchGenerate(bench, io);
  registerBenchCliStartup(bench, io);
  registerBenchServe(bench, io);
  const preset = program.command('preset').description('models with the shapes of real ones and random weights');
  registerPresetWrite(preset, io);
  registerCompose(program, io);
  registerDemo(program, io);
  registerExport(program, io);
  registerGenerate(program, io);
  registerInspect(program, io);
  registerInterpret(program, io);
  registerMerge(program, io);
  registerServe(program, io);
  registerStudio(program, io);
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
