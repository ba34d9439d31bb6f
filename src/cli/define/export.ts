// `roadster export`: its flags and help; the implementation (commands/export.ts) loads when it runs.

import { type Command, Option } from 'commander';
import type { ExportOptions } from '../commands/export.ts';
import type { CliIo } from '../io.ts';

export function registerExport(program: Command, io: CliIo): void {
  program
    .command('export')
    .description('write a model (with a PEFT adapter merged in) as a GGUF file for llama.cpp, Ollama and LM Studio')
    .requiredOption('--model <idOrDir>', 'model folder, or Hub repo id (through the Hugging Face cache)')
    .option('--adapter <dir>', 'PEFT adapter folder (RoAd or LoRA) to merge into the weights first')
    .addOption(new Option('--format <format>', 'output format').choices(['gguf']).default('gguf'))
    .requiredOption('--out <file>', 'the .gguf file to write (an existing GGUF file is replaced; any other file is refused)')
    .option('--dtype <dtype>', 'tensor type: f32, or f16 (matrices; 1-D tensors stay f32)', 'f32')
    .option('--placeholder-vocab', 'without tokenizer.json: write a byte-level placeholder vocabulary (token ids only, for benchmarks)')
    .option('--revision <rev>', 'branch, tag or commit of a Hub model')
    .option('--offline', 'use only local folders and the cache')
    .option('--json', 'print a JSON summary')
    .action(async (opts: ExportOptions) => (await import('../commands/export.ts')).runExport(opts, io));
}
