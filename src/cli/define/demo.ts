// `roadster demo`: its flags and help; the implementation (commands/demo.ts) loads when it runs.

import type { Command } from 'commander';
import { DEFAULT_DEMO_OPTIONS } from '../../demo/options.ts';
import type { DemoFlags } from '../commands/demo.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('offline main job: RoAd + classification head vs base model, head only and LoRA on spam/ham e-mail, then merge')
    .option('--out <dir>', 'output folder (must not exist or be empty)', 'roadster-demo')
    .option('--steps <n>', 'training steps of each trained row (head only, RoAd, LoRA)', intAtLeast(1), DEFAULT_DEMO_OPTIONS.steps)
    .option('--train-per-class <n>', 'training e-mails per class', intAtLeast(1), DEFAULT_DEMO_OPTIONS.trainPerClass)
    .option('--test-per-class <n>', 'test e-mails per class', intAtLeast(1), DEFAULT_DEMO_OPTIONS.testPerClass)
    .option('--skip-lora', 'do not train the LoRA comparison')
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .addOption(quantizeOption())
    .option('--json', 'print the report as JSON')
    .action(async (flags: DemoFlags) => (await import('../commands/demo.ts')).demo(flags, io));
}
