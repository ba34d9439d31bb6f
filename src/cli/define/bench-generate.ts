// `roadster bench generate`: its flags and help; the implementation (commands/bench-generate.ts) loads when it runs.

import { type Command, InvalidArgumentError, Option } from 'commander';
import { PRESET_NAMES } from '../../io/config/presets.ts';
import type { GenerateBenchOptions } from '../commands/bench-generate.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

const METHODS = ['base', 'road', 'lora', 'merged'];

function intList(value: string): number[] {
  const parts = value.split(',').map((p) => Number(p.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new InvalidArgumentError(`expected positive integers such as "1,8,32", got "${value}".`);
  return parts;
}

function methodList(value: string): string[] {
  const parts = value.split(',').map((p) => p.trim());
  const bad = parts.filter((p) => !METHODS.includes(p));
  if (bad.length > 0) throw new InvalidArgumentError(`unknown method(s) ${bad.join(', ')}; choose from ${METHODS.join(', ')}.`);
  return parts;
}

export function registerBenchGenerate(bench: Command, io: CliIo): void {
  bench
    .command('generate')
    .description('generation engine: prefill and decode tokens/s of base, RoAd, LoRA and merged models, rows on distinct adapters')
    .addOption(new Option('--preset <name>', 'model shape (random weights)').choices(PRESET_NAMES))
    .option('--model <dir>', 'a model folder instead of a preset')
    .option('--batches <list>', 'batch sizes', intList, [1, 8, 32, 64])
    .option('--adapters <list>', 'distinct adapters per batch size (capped at the batch)', intList, [1, 4, 16, 64])
    .option('--methods <list>', `methods among ${METHODS.join(', ')}`, methodList, METHODS)
    .option('--prompt <n>', 'prompt tokens per request', intAtLeast(1), 32)
    .option('--new <n>', 'new tokens per request (decode steps)', intAtLeast(2), 32)
    .option('--rounds <n>', 'timed rounds per case; the methods of a batch size alternate round by round', intAtLeast(1), 1)
    .option('--contexts <list>', 'also time the batch-1 decode step after prompts of these lengths', intList)
    .option('--llama-cpp', 'also time llama.cpp (node-llama-cpp) at batch 1 on the same weights exported to F32 GGUF')
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .option('--seed <n>', 'seed of the weights, adapters and token ids', intAtLeast(0), 0)
    .addOption(quantizeOption())
    .option('--json', 'print JSON ({ results: [{ method, batch, adapters, prefillTokensPerSecond, decodeTokensPerSecond, stepMsP50, stepMsP99, peakRssMB }] })')
    .action(async (opts: GenerateBenchOptions) => (await import('../commands/bench-generate.ts')).runBenchGenerate(opts, io));
}
