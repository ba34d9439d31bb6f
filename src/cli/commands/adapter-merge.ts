// `roadster merge`: folds a PEFT adapter (RoAd or LoRA) into its base model's weights and writes a plain
// Hugging Face model folder (PEFT's merge_and_unload + save_pretrained) with the base's tokenizer files and a
// marker file (merge/out-dir.ts). The folder is written under a temporary name and swapped in when complete, so
// an interrupted merge never leaves a half-written model, and --force replaces only an earlier merge. An
// adapter that saves a classification head (task_type SEQ_CLS) gives a *ForSequenceClassification folder; its
// class names come from --label-names (LABEL_0, LABEL_1, ... without it, as transformers names them).

import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { adapterBaseWarnings } from '../../adapters/base-match.ts';
import { savedHeadLabels } from '../../adapters/peft-files.ts';
import { PeftModel } from '../../adapters/peft-model.ts';
import { type HubOptions, hubOptionsFromEnv, resolveModelFiles } from '../../io/hub/index.ts';
import { AutoModelForCausalLM } from '../../models/auto.ts';
import { writeError } from '../fs-errors.ts';
import { checkMergeOut, MERGE_MARKER, type MergeMarker, stageMergeOut } from '../merge/out-dir.ts';
import { withClassificationHead } from '../../models/sequence-classification.ts';
import { Runtime } from '../../runtime/index.ts';
import { type CliIo, printJson, usageError } from '../io.ts';

export interface MergeOptions {
  readonly model: string;
  readonly adapter: string;
  readonly out: string;
  readonly safeMerge?: boolean;
  readonly force?: boolean;
  readonly offline?: boolean;
  readonly json?: boolean;
  readonly labelNames?: string;
}

/** The tokenizer files transformers' save_pretrained writes next to a model, copied from the base. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];
const EXTRA_TEMPLATES_DIR = 'additional_chat_templates';

/** The base's tokenizer files (local folder, or the Hub cache), by name; the ones it lacks are left out. */
async function tokenizerFiles(model: string, hub: HubOptions): Promise<Map<string, string>> {
  const local = await stat(model).then((s) => s.isDirectory(), () => false);
  const resolved = await resolveModelFiles(model, { ...hub, files: [], optionalFiles: TOKENIZER_FILES });
  const files = new Map(resolved.files);
  if (local) {
    try {
      for (const n of readdirSync(join(model, EXTRA_TEMPLATES_DIR))) if (n.endsWith('.jinja')) files.set(join(EXTRA_TEMPLATES_DIR, n), join(model, EXTRA_TEMPLATES_DIR, n));
    } catch {
      // no additional chat templates
    }
  }
  return files;
}

/** `roadster merge`. */
export async function merge(opts: MergeOptions, io: CliIo): Promise<void> {
  checkMergeOut(opts.out, opts.model, opts.adapter, opts.force === true);
  const env = hubOptionsFromEnv(io.env);
  const hub = { ...env, offline: opts.offline === true || env.offline === true };
  const model = await AutoModelForCausalLM.fromPretrained(opts.model, hub);
  const labels = savedHeadLabels(opts.adapter);
  const names = opts.labelNames?.split(',').map((n) => n.trim());
  if (names !== undefined && labels === null) throw usageError('--label-names only applies to an adapter that saves a classification head (task_type SEQ_CLS).');
  if (names !== undefined && names.length !== labels) throw usageError(`--label-names gives ${names.length} names but the adapter's classification head has ${labels} labels.`);
  const base =
    labels === null
      ? model
      : withClassificationHead(model, { id2label: names ?? model.classification?.id2label ?? Array.from({ length: labels }, (_, i) => `LABEL_${i}`) });
  for (const warning of adapterBaseWarnings(opts.adapter, model, opts.model)) io.stderr.write(`warning: ${warning}\n`);
  const tokenizer = await tokenizerFiles(opts.model, hub);
  const runtime = new Runtime({ threads: availableParallelism() });
  try {
    const peft = PeftModel.fromPretrained(base, runtime, opts.adapter);
    const staged = stageMergeOut(opts.out);
    try {
      peft.saveMergedModel(staged.path, { safeMerge: opts.safeMerge === true });
      for (const [name, from] of tokenizer) {
        mkdirSync(join(staged.path, name, '..'), { recursive: true });
        copyFileSync(from, join(staged.path, name));
      }
      const marker: MergeMarker = { tool: 'roadster merge', model: opts.model, adapter: opts.adapter };
      writeFileSync(join(staged.path, MERGE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    } catch (error) {
      staged.discard();
      throw writeError(error, opts.out, '--out');
    }
    staged.commit();
    if (!tokenizer.has('tokenizer.json')) io.stderr.write(`warning: ${opts.model} has no tokenizer.json, so ${opts.out} has none; copy the base model's tokenizer files there before generating.\n`);
    const summary = { model: opts.model, adapter: opts.adapter, out: opts.out, mergedModules: peft.parameters('default').size };
    if (opts.json) printJson(io, summary);
    else io.stdout.write(`merged ${summary.mergedModules} modules of ${opts.adapter} into ${opts.model}; wrote ${opts.out}\n`);
  } finally {
    await runtime.release();
  }
}
