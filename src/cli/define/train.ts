// `roadster train`: its flags (the table in train/flags.ts) and help; the implementation (commands/train.ts)
// loads when it runs.

import type { Command } from 'commander';
import type { CliIo } from '../io.ts';
import { trainOptions, type TrainFlags } from '../train/flags.ts';

export function registerTrain(program: Command, io: CliIo): void {
  const command = program
    .command('train')
    .description('fine-tune a RoAd or LoRA adapter on a JSONL file (flags, or a JSON/YAML --config file)')
    .option('--config <file>', 'JSON or YAML file of settings: the flags\' names in camelCase or kebab-case; flags override it');
  for (const option of trainOptions()) command.addOption(option);
  command.action(async (opts: TrainFlags & { config?: string }) => (await import('../commands/train.ts')).train(opts, io));
}
