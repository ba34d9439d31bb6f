// `roadster merge`: its flags and help; the implementation (commands/adapter-merge.ts) loads when it runs.

import type { Command } from 'commander';
import type { MergeOptions } from '../commands/adapter-merge.ts';
import type { CliIo } from '../io.ts';

export function registerMerge(program: Command, io: CliIo): void {
  program
    .command('merge')
    .description('merge a PEFT adapter (RoAd or LoRA) into its base model and save a plain model folder')
    .requiredOption('--model <idOrDir>', 'base model folder, or Hub repo id (through the Hugging Face cache)')
    .requiredOption('--adapter <dir>', 'PEFT adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'folder to write the merged model to')
    .option('--safe-merge', 'refuse to write weights that are not finite')
    .option('--force', 'replace --out when it holds an earlier merge (a folder with roadster-merge.json)')
    .option('--offline', 'use only local folders and the cache')
    .option('--json', 'print a JSON summary')
    .option('--label-names <names>', 'class names of a SEQ_CLS adapter\'s head, comma-separated by class index (config.json id2label)')
    .action(async (opts: MergeOptions) => (await import('../commands/adapter-merge.ts')).merge(opts, io));
}
