// `roadster export --format gguf`: writes a model, or a model with a PEFT adapter (RoAd or LoRA) merged in
// through PeftModel.mergeAndUnload, as one GGUF file for llama.cpp (and Ollama, LM Studio). The vocabulary is the
// model's tokenizer.json (byte-level BPE), or with --placeholder-vocab a byte-level placeholder for folders
// without a tokenizer (benchmark presets: token ids only). The file is written atomically; an existing file
// that is not GGUF is never overwritten.

import { mkdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { PeftModel } from '../../adapters/peft-model.ts';
import { resolveModelFiles } from '../../io/hub/index.ts';
import { AutoModelForCausalLM, type FromPretrainedOptions } from '../../models/auto.ts';
import type { CausalLM } from '../../models/causal-lm.ts';
import { type GgufVocabulary, exportGguf } from '../../models/gguf-export.ts';
import { Runtime } from '../../runtime/index.ts';
import { type CliIo, printJson, usageError } from '../io.ts';
import { modelLoadOptions } from '../load-options.ts';

export interface ExportOptions {
  readonly model: string;
  readonly adapter?: string;
  readonly format: 'gguf';
  readonly out: string;
  readonly dtype: string;
  readonly placeholderVocab?: boolean;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly json?: boolean;
}

/** The model with the adapter merged in (a fresh Runtime only holds the PeftModel; no graph is run). */
async function merged(base: CausalLM, adapter: string): Promise<CausalLM> {
  const runtime = new Runtime({ threads: availableParallelism() });
  try {
    return PeftModel.fromPretrained(base, runtime, adapter).mergeAndUnload();
  } finally {
    await runtime.release();
  }
}

/** The folder holding the model's tokenizer files: the model folder, or its Hub snapshot in the cache. */
async function tokenizerFolder(model: string, options: FromPretrainedOptions): Promise<string> {
  const isFolder = (() => {
    try {
      return statSync(model).isDirectory();
    } catch {
      return false;
    }
  })();
  if (isFolder) return model;
  const files = await resolveModelFiles(model, { ...options, files: [], optionalFiles: ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'] });
  return files.folder;
}

export async function runExport(opts: ExportOptions, io: CliIo): Promise<void> {
  const out = resolve(opts.out);
  if (!out.endsWith('.gguf')) throw usageError(`--out ${opts.out} should end in .gguf (llama.cpp and Ollama find models by that extension).`);
  const { options: loadOptions, stop: stopProgress } = modelLoadOptions(opts, io);
  let model: CausalLM;
  let vocabulary: GgufVocabulary;
  try {
    model = await AutoModelForCausalLM.fromPretrained(opts.model, loadOptions);
    vocabulary = opts.placeholderVocab ? 'placeholder' : { folder: await tokenizerFolder(opts.model, loadOptions) };
  } finally {
    stopProgress();
  }
  if (opts.adapter !== undefined) model = await merged(model, opts.adapter);
  mkdirSync(dirname(out), { recursive: true });
  const summary = await exportGguf(model, out, { vocabulary, dtype: opts.dtype });
  const report = { model: opts.model, adapter: opts.adapter ?? null, format: opts.format, ...summary };
  if (opts.json) return printJson(io, report);
  for (const warning of summary.warnings) io.stderr.write(`warning: ${warning}\n`);
  io.stdout.write(
    `wrote ${out} (${summary.architecture}, ${summary.dtype}, ${summary.tensors} tensors, ${(summary.bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `${summary.vocabulary === 'placeholder' ? 'placeholder vocabulary' : `pre-tokenizer ${summary.preTokenizer}`}` +
      `${opts.adapter === undefined ? '' : `, adapter ${opts.adapter} merged`})\n`,
  );
}

