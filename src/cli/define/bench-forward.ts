// `roadster bench forward`: its flags and help; the implementation (commands/bench-forward.ts) loads when it
// runs.

import { type Command, Option } from 'commander';
import { PRESET_NAMES } from '../../io/config/presets.ts';
import type { ForwardOptions } from '../commands/bench-forward.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, PRESET_DTYPES, quantizeOption } from '../options.ts';

export function registerBenchForward(bench: Command, io: CliIo): void {
  bench
    .command('forward')
    .description('float32 forward passes of a preset-shaped model with random weights')
    .addOption(new Option('--preset <name>', 'model shape').choices(PRESET_NAMES).makeOptionMandatory())
    .option('--batch <n>', 'sequences per run', intAtLeast(1), 4)
    .option('--seq <n>', 'tokens per sequence', intAtLeast(1), 256)
    .option('--steps <n>', 'timed runs (the median is reported)', intAtLeast(1), 5)
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .addOption(new Option('--dtype <dtype>', 'storage dtype of the cached preset weights').choices(PRESET_DTYPES).default('BF16'))
    .option('--seed <n>', 'seed of the weights and token ids', intAtLeast(0), 0)
    .option('--cache-dir <dir>', 'where preset folders are cached (default: <tmpdir>/roadster-presets)')
    .addOption(quantizeOption())
    .option('--json', 'print JSON instead of text')
    .action(async (opts: ForwardOptions) => (await import('../commands/bench-forward.ts')).runBenchForward(opts, io));
}
