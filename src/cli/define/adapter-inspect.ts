// `roadster inspect`: its arguments, flags and help. The implementation (commands/adapter-inspect.ts) loads
// when the command runs, so that `roadster --help` stays light (README "Command line").

import type { Command } from 'commander';
import type { InspectOptions } from '../commands/adapter-inspect.ts';
import type { CliIo } from '../io.ts';

export function registerInspect(program: Command, io: CliIo): void {
  program
    .command('inspect')
    .description('show an adapter folder: config, parameter count, per-module statistics')
    .argument('<adapterDir>', 'PEFT adapter folder')
    .option('--model <idOrDir>', 'base model: validates the fit and gives the trainable share')
    .option('--offline', 'use only local folders and the cache')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: InspectOptions) => (await import('../commands/adapter-inspect.ts')).inspect(dir, opts, io));
}
