// `roadster serve`: its flags and help; the implementation (commands/serve.ts) loads when it runs.

import { type Command, InvalidArgumentError } from 'commander';
import type { ServeOptions } from '../commands/serve.ts';
import type { CliIo } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

/** `--adapter NAME=DIR`, repeatable. */
function adapterPair(value: string, previous: readonly [string, string][] = []): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`expected NAME=DIR (a name for requests' "model" and a PEFT adapter folder), got "${value}".`);
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('OpenAI-compatible HTTP server; each request picks an adapter (RoAd or LoRA) or the base model by "model"')
    .requiredOption('--model <idOrDir>', 'model folder, or Hub repo id (through the Hugging Face cache)')
    .option('--adapter <name=dir>', 'adapter loaded at start, served as model NAME (repeatable)', adapterPair)
    .option('--adapters-dir <dir>', 'folder whose adapter subfolders may be loaded at run time (/v1/load_lora_adapter, or by naming a subfolder in "model")')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', intAtLeast(0), 8000)
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" on /v1 (default: $ROADSTER_API_KEY, else no auth)')
    .option('--served-model-name <name>', 'the base model\'s name in requests (default: the --model value)')
    .option('--max-loaded-adapters <n>', 'adapters resident at once; the least recently used one is evicted past it', intAtLeast(1), 8)
    .option('--max-batch <n>', 'requests decoded together', intAtLeast(1), 32)
    .option('--max-queue <n>', 'requests that may wait for a batch row; past it requests get 429', intAtLeast(1), 256)
    .option('--max-model-len <n>', 'context length per request, prompt plus new tokens (default: the model\'s)', intAtLeast(1))
    .option('--body-limit <bytes>', 'largest request body; larger ones get 413', intAtLeast(1), 1024 * 1024)
    .option('--drain-timeout <seconds>', 'on SIGTERM, how long requests in flight may take to finish before they are cancelled', intAtLeast(0), 30)
    .option('--revision <rev>', 'branch, tag or commit of a Hub repo (default main)')
    .option('--offline', 'use only local folders and the cache (as HF_HUB_OFFLINE=1)')
    .option('--threads <n>', 'intra-op threads (default: all available)', intAtLeast(1))
    .addOption(quantizeOption())
    .action(async (opts: ServeOptions) => (await import('../commands/serve.ts')).serve(opts, io));
}
