// `roadster bench serve`: its flags and help; the implementation (commands/bench-serve.ts) loads when it runs.

import type { Command } from 'commander';
import type { ServeBenchOptions } from '../commands/bench-serve.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast } from '../options.ts';

export function registerBenchServe(bench: Command, io: CliIo): void {
  bench
    .command('serve')
    .description('start `roadster serve` as a child process and load it from this one over loopback: mixed-adapter streaming requests, every response checked')
    .requiredOption('--model <dir>', 'model folder')
    .option('--adapters <n>', 'random RoAd adapters (road_1, group 8, q/v) made for the model, one per request in turn; 0 = the base model', intAtLeast(0), 8)
    .option('--requests <n>', 'requests in all', intAtLeast(1), 32)
    .option('--concurrency <n>', 'clients sending at once', intAtLeast(1), 8)
    .option('--max-tokens <n>', 'tokens per response (EOS ignored, greedy)', intAtLeast(1), 16)
    .option('--prompt-tokens <n>', 'random prompt ids per request', intAtLeast(1), 8)
    .option('--max-batch <n>', 'the server\'s --max-batch (default: --concurrency)', intAtLeast(1))
    .option('--threads <n>', 'the server\'s intra-op threads (default: all available)', intAtLeast(1))
    .option('--seed <n>', 'seed of the prompts and adapters', intAtLeast(0), 0)
    .option('--no-offline', 'skip the in-process engine run of the same work (its throughput and the token check)')
    .option('--json', 'print JSON instead of text')
    .action(async (opts: ServeBenchOptions) => (await import('../commands/bench-serve.ts')).runBenchServe(opts, io));
}
