// `roadster generate`: its flags and help; the implementation (commands/generate.ts) loads when it runs.

import type { Command } from 'commander';
import type { GenerateOptions } from '../commands/generate.ts';
import type { CliIo } from '../io.ts';
import { collect, finiteNumber, intAtLeast, quantizeOption, tokenIdList } from '../options.ts';

export function registerGenerate(program: Command, io: CliIo): void {
  program
    .command('generate')
    .description('generate from a model folder or Hub id: KV cache, sampling, per-request adapters, batches of requests')
    .requiredOption('--model <idOrDir>', 'model folder, or Hub repo id (through the Hugging Face cache)')
    .option('--prompt <text>', 'prompt text (needs the model\'s tokenizer.json); the new text streams to stdout')
    .option('--chat', 'treat --prompt as a user message and apply the model\'s chat template')
    .option('--system <text>', 'with --chat: a system message before the user message')
    .option('--ids <ids>', 'prompt token ids, comma-separated; prints the new ids', tokenIdList)
    .option('--requests <file>', 'JSONL of requests ({"ids"|"prompt"|"messages", "adapter", "max_tokens", "temperature", ...}); prints one JSON line per request, in order')
    .option('--adapter <nameEqDir>', 'PEFT adapter folder (RoAd or LoRA) as NAME=DIR, or DIR (named after the folder); repeatable', collect)
    .option('--use-adapter <name>', 'the adapter for --prompt/--ids (default: the only --adapter, else none)')
    .option('--json', 'print the result as JSON (tokens, text, logprobs, finish_reason) instead of streaming')
    .option('--max-new-tokens <n>', 'tokens to generate at most (a request\'s max_tokens overrides it)', intAtLeast(1), 32)
    .option('--temperature <t>', 'sampling temperature; 0 is greedy (default 0)', finiteNumber, 0)
    .option('--top-k <k>', 'keep the k most likely tokens (0: off)', intAtLeast(-1))
    .option('--top-p <p>', 'keep the smallest set of tokens whose probability reaches p, in (0, 1]', finiteNumber)
    .option('--min-p <p>', 'keep tokens at least p times as likely as the most likely one, in [0, 1]', finiteNumber)
    .option('--repetition-penalty <r>', 'penalise tokens of the prompt and output (> 0; 1: off)', finiteNumber)
    .option('--presence-penalty <x>', 'OpenAI presence penalty in [-2, 2]', finiteNumber)
    .option('--frequency-penalty <x>', 'OpenAI frequency penalty in [-2, 2]', finiteNumber)
    .option('--seed <n>', 'sampling seed (the same seed gives the same tokens whatever shares the batch)', intAtLeast(0))
    .option('--logprobs <n>', 'with --json: the n most likely alternatives per token (0..20)', intAtLeast(0))
    .option('--stop <text>', 'a string that ends generation (not printed); repeatable', collect)
    .option('--ignore-eos', 'keep generating past the end-of-sequence token')
    .option('--max-batch <n>', 'requests decoded together', intAtLeast(1), 32)
    .option('--max-model-len <n>', 'context length: prompt plus new tokens (default: the model\'s)', intAtLeast(1))
    .option('--revision <rev>', 'branch, tag or commit of a Hub repo (default main)')
    .option('--offline', 'use only local folders and the cache (as HF_HUB_OFFLINE=1)')
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .addOption(quantizeOption())
    .action(async (opts: GenerateOptions) => (await import('../commands/generate.ts')).generate(opts, io));
}
