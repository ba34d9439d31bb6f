// `roadster preset write`: its flags and help; the implementation (commands/preset-write.ts) loads when it
// runs.

import { type Command, Option } from 'commander';
import { PRESET_NAMES } from '../../io/config/presets.ts';
import type { PresetWriteOptions } from '../commands/preset-write.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, PRESET_DTYPES } from '../options.ts';

export function registerPresetWrite(preset: Command, io: CliIo): void {
  preset
    .command('write')
    .description('write a preset model folder (exact config.json, random weights)')
    .addOption(new Option('--preset <name>', 'which model').choices(PRESET_NAMES).makeOptionMandatory())
    .requiredOption('--out <dir>', 'folder to write (created; must be empty unless --force)')
    .addOption(new Option('--dtype <dtype>', 'storage dtype of the weights').choices(PRESET_DTYPES).default('BF16'))
    .option('--seed <n>', 'seed of the random weights', intAtLeast(0), 0)
    .option('--force', 'write into a non-empty folder')
    .action(async (opts: PresetWriteOptions) => (await import('../commands/preset-write.ts')).presetWrite(opts, io));
}
