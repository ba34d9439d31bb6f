// `roadster demo`: its flags and help; the implementation (commands/demo.ts) loads when it runs.

import type { Command } from 'commander';
import { DEFAULT_DEMO_OPTIONS } from '../../demo/options.ts';
import { DEFAULT_COMPOSE_DEMO_NOISE, DEFAULT_COMPOSE_DEMO_SEEDS, DEFAULT_COMPOSE_DEMO_STEPS } from '../../demo/compose-defaults.ts';
import type { ComposeDemoFlags } from '../commands/demo-compose.ts';
import type { DemoFlags } from '../commands/demo.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

export function registerDemo(program: Command, io: CliIo): void {
  const demo = program
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
    .enablePositionalOptions()
    .action(async (flags: DemoFlags) => (await import('../commands/demo.ts')).demo(flags, io));
  demo
    .command('compose')
    .description('issue 15\'s experiment: RoAd adapters on disjoint pairs (spam, era of a State of the Union passage) composed exactly, against all-pairs and LoRA controls, and IIA of the spam subspace')
    .option('--out <dir>', 'output folder (must not exist or be empty)', 'roadster-demo-compose')
    .option('--steps <n>', 'training steps of each of the six adapters', intAtLeast(1), DEFAULT_COMPOSE_DEMO_STEPS)
    .option('--complement-noise <sd>', 'noise on the other adapter\'s pairs while A and B train: one standard deviation for θ and α, or θ,α; 0 for none', `${DEFAULT_COMPOSE_DEMO_NOISE.theta},${DEFAULT_COMPOSE_DEMO_NOISE.alpha}`)
    .option('--seeds <n>', 'run the whole experiment with seeds 0..n-1 (each its own samples and adapters) and report the mean', intAtLeast(1), DEFAULT_COMPOSE_DEMO_SEEDS)
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .option('--json', 'print the report as JSON')
    .action(async (flags: ComposeDemoFlags) => (await import('../commands/demo-compose.ts')).demoCompose(flags, io));
}
