// `roadster bench matmul`: its flags and help; the implementation (commands/bench-matmul.ts) loads when it runs.

import type { Command } from 'commander';
import type { MatmulOptions } from '../commands/bench-matmul.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

export function registerBenchMatmul(bench: Command, io: CliIo): void {
  bench
    .command('matmul')
    .description('matmul GFLOP/s (float32, or int8 weights) with 1 thread and with all threads')
    .option('--threads <n>', 'the multi-thread count (default: all available)', intAtLeast(1))
    .option('--iters <n>', 'timed runs per case (the median is reported)', intAtLeast(1), 20)
    .option('--warmup <n>', 'untimed runs per case first', intAtLeast(0), 5)
    .option('--peak-gflops <x>', 'machine peak, to report each result as a fraction of it', intAtLeast(1))
    .addOption(quantizeOption())
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: MatmulOptions) => (await import('../commands/bench-matmul.ts')).runBenchMatmul(opts, io));
}
