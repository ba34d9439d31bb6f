// `roadster train`: its flags (the table in train/flags.ts) and help; the implementation (commands/train.ts)
// loads when it runs.

import type { Command } from 'commander';
import type { CliIo } from '../io.ts';
import { roadsterFlagFor, trainOptions, type TrainFlags } from '../train/flags.ts';

export function registerTrain(program: Command, io: CliIo): void {
  const command = program
    .command('train')
    .description('fine-tune a RoAd or LoRA adapter on a JSONL file (flags, or a JSON/YAML --config file)')
    .option('--config <file>', 'JSON or YAML file of settings: the flags\' names in camelCase or kebab-case; flags override it');
  for (const option of trainOptions()) command.addOption(option);
  // commander suggests the closest name by spelling (--save-steps -> --max-steps); transformers' names get ours
  const unknownOption = (command as unknown as { unknownOption(flag: string): never }).unknownOption.bind(command);
  Object.assign(command, {
    unknownOption: (flag: string): never => {
      const ours = roadsterFlagFor(flag);
      if (ours === undefined) return unknownOption(flag);
      return command.error(`error: unknown option '${flag}'\n(roadster's name for transformers' ${flag} is ${ours})`, { code: 'commander.unknownOption' });
    },
  });
  command.action(async (opts: TrainFlags & { config?: string }) => (await import('../commands/train.ts')).train(opts, io));
}
