// `roadster studio`: its flags and help; the implementation (commands/studio.ts) loads when it runs.

import type { Command } from 'commander';
import type { StudioOptions } from '../commands/studio.ts';
import type { CliIo } from '../io.ts';

export function registerStudio(program: Command, io: CliIo): void {
  program
    .command('studio')
    .description('serve the studio page on 127.0.0.1: fine-tune RoAd and chat in the browser (onnxruntime-web)')
    .option('--port <n>', 'TCP port on 127.0.0.1 (0: any free port)', '8173')
    .option('--page-dir <dir>', 'the built page (default: dist/studio of the package; npm run build:studio makes it)')
    .action(async (opts: StudioOptions) => (await import('../commands/studio.ts')).runStudio(opts, io));
}
