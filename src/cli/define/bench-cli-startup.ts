// `roadster bench cli-startup`: its flags and help; the implementation (commands/bench-cli-startup.ts) loads
// when it runs.

import type { Command } from 'commander';
import type { CliStartupOptions } from '../commands/bench-cli-startup.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast } from '../options.ts';

export function registerBenchCliStartup(bench: Command, io: CliIo): void {
  bench
    .command('cli-startup')
    .description('wall time of `roadster --version`, `--help` and `inspect --help` as new processes, beside bare node')
    .option('--runs <n>', 'timed runs per command (the median is reported)', intAtLeast(1), 10)
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: CliStartupOptions) => (await import('../commands/bench-cli-startup.ts')).runBenchCliStartup(opts, io));
}
