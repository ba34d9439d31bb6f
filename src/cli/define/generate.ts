// `roadster generate`: its flags and help; the implementation (commands/generate.ts) loads when it runs.

import type { Command } from 'commander';
import type { GenerateOptions } from '../commands/generate.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption, tokenIdList } from '../options.ts';

export function registerGenerate(program: Command, io: CliIo): void {
  program
    .command('generate')
    .description('greedy generation from a model folder or Hub id (no KV cache yet)')
    .requiredOption('--model <idOrDir>', 'model folder, or Hub repo id (through the Hugging Face cache)')
    .option('--prompt <text>', 'prompt text (needs the model\'s tokenizer.json)')
    .option('--ids <ids>', 'prompt token ids, comma-separated (for folders without a tokenizer); prints ids', tokenIdList)
    .option('--max-new-tokens <n>', 'tokens to generate at most', intAtLeast(0), 32)
    .option('--revision <rev>', 'branch, tag or commit of a Hub repo (default main)')
    .option('--offline', 'use only local folders and the cache (as HF_HUB_OFFLINE=1)')
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .addOption(quantizeOption())
    .action(async (opts: GenerateOptions) => (await import('../commands/generate.ts')).generate(opts, io));
}
