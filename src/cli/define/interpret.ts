// `roadster interpret`: its flags and help; the implementation (commands/interpret.ts) loads when it runs.

import type { Command } from 'commander';
import type { InterpretFlags } from '../commands/interpret.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, tokenIdList } from '../options.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerInterpret(program: Command, io: CliIo): void {
  program
    .command('interpret')
    .description('interchange intervention or ablation on module outputs: the base input\'s next-token prediction with the chosen coordinates swapped in from a source input (or ablated)')
    .requiredOption('--model <idOrDir>', 'base model folder, or Hub repo id')
    .option('--adapter <dir>', 'PEFT adapter applied to both runs (the intervention acts on the adapted outputs)')
    .requiredOption('--site <path>', 'module output by checkpoint name (model.layers.3.mlp.down_proj); repeat for several', collect)
    .option('--pairs <pairs>', 'RoAd pairs of each group to act on: a share i/n or ranges (0-3,8); default all coordinates')
    .option('--group-size <n>', 'group size of --pairs (default: the RoAd adapter\'s)', intAtLeast(2))
    .option('--base <text>', 'base input text (needs the model\'s tokenizer)')
    .option('--source <text>', 'source input text')
    .option('--base-ids <ids>', 'base input token ids, comma-separated', tokenIdList)
    .option('--source-ids <ids>', 'source input token ids, comma-separated', tokenIdList)
    .option('--ablate <kind>', 'instead of a swap: zero (set the coordinates to 0) or mean (to their mean over the source input)')
    .option('--top <n>', 'predictions to show', intAtLeast(1), 5)
    .option('--offline', 'use only local folders and the cache')
    .option('--json', 'print JSON')
    .action(async (flags: InterpretFlags) => (await import('../commands/interpret.ts')).interpret(flags, io));
}
