// `roadster bench train`: its flags and help; the implementation (commands/bench-train.ts) loads when it runs.

import { type Command, Option } from 'commander';
import { ROAD_VARIANTS } from '../../adapters/road/math.ts';
import { PRESET_NAMES } from '../../io/config/presets.ts';
import type { TrainBenchOptions } from '../commands/bench-train.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

export function registerBenchTrain(bench: Command, io: CliIo): void {
  bench
    .command('train')
    .description('adapter training steps (loss + gradients in one ONNX Runtime run, AdamW) on a preset-shaped model')
    .addOption(new Option('--preset <name>', 'model shape').choices(PRESET_NAMES).makeOptionMandatory())
    .option('--batch <n>', 'sequences per step', intAtLeast(1), 4)
    .option('--seq <n>', 'tokens per sequence', intAtLeast(2), 256)
    .option('--steps <n>', 'timed steps (the median is reported)', intAtLeast(1), 5)
    .addOption(new Option('--method <m>', 'adapter method').choices(['road', 'lora']).default('road'))
    .addOption(new Option('--variant <v>', 'RoAd variant').choices(ROAD_VARIANTS).default('road_1'))
    .option('--group-size <n>', 'RoAd group size', intAtLeast(2), 64)
    .option('--rank <n>', 'LoRA rank', intAtLeast(1), 8)
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .option('--seed <n>', 'seed of the weights and token ids', intAtLeast(0), 0)
    .option('--recompute', 'recompute layers in backward and chunk the loss (less memory, one more forward)')
    .addOption(quantizeOption())
    .option('--json', 'print JSON instead of text')
    .action(async (opts: TrainBenchOptions) => (await import('../commands/bench-train.ts')).runBenchTrain(opts, io));
}
