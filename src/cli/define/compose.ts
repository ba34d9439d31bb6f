// `roadster compose`: its flags and help; the implementation (commands/compose.ts) loads when it runs.

import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ComposeFlags } from '../commands/compose.ts';
import type { CliIo } from '../io.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--weights 1,0.5`: comma-separated finite numbers. */
function numberList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '' || !Number.isFinite(Number(p)))) throw new InvalidArgumentError(`expected comma-separated numbers such as "1,0.5", got "${value}".`);
  return parts.map(Number);
}

export function registerCompose(program: Command, io: CliIo): void {
  program
    .command('compose')
    .description('compose PEFT adapters into one: RoAd exactly (product of the 2x2 pair transforms), LoRA the PEFT way (cat, linear)')
    .requiredOption('--adapter <dir>', 'adapter folder; repeat it, in the order the adapters act (the first acts first)', collect)
    .requiredOption('--out <dir>', 'folder for the composed adapter (must not exist or be empty)')
    .option('--weights <list>', 'one weight per adapter, comma-separated (RoAd: θ·w, α^w; LoRA: PEFT\'s weights)', numberList)
    .addOption(new Option('--variant <variant>', 'RoAd: the result\'s variant (default: road_1 when it fits, else the most general input variant)').choices(['road_1', 'road_2', 'road_4']))
    .option('--disjoint', 'RoAd: refuse adapters that change the same pair of the same layer')
    .addOption(new Option('--combination <type>', 'LoRA: PEFT add_weighted_adapter combination').choices(['cat', 'linear']))
    .option('--model <idOrDir>', 'base model: check that every adapter and the result fit it')
    .option('--offline', 'use only local folders and the cache')
    .option('--json', 'print the report as JSON')
    .action(async (flags: ComposeFlags) => (await import('../commands/compose.ts')).compose(flags, io));
}
