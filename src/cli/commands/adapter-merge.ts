// `roadster merge`: folds a PEFT adapter (RoAd or LoRA) into its base model's weights and writes a plain
// Hugging Face model folder (PEFT's merge_and_unload + save_pretrained). The folder is written under a
// temporary name and renamed when complete, so an interrupted merge never leaves a half-written model. An
// adapter that saves a classification head (task_type SEQ_CLS) gives a *ForSequenceClassification folder; its
// class names come from --label-names (LABEL_0, LABEL_1, ... without it, as transformers names them).

import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { savedHeadLabels } from '../../adapters/peft-files.ts';
import { PeftModel } from '../../adapters/peft-model.ts';
import { hubOptionsFromEnv } from '../../io/hub/index.ts';
import { AutoModelForCausalLM } from '../../models/auto.ts';
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

/** `roadster merge`. */
export async function merge(opts: MergeOptions, io: CliIo): Promise<void> {
  if (existsSync(opts.out) && readdirSync(opts.out).length > 0 && !opts.force) {
    throw usageError(`--out ${opts.out} exists and is not empty; choose another folder or pass --force to replace it.`);
  }
  const hub = hubOptionsFromEnv(io.env);
  const model = await AutoModelForCausalLM.fromPretrained(opts.model, { ...hub, offline: opts.offline === true || hub.offline === true });
  const labels = savedHeadLabels(opts.adapter);
  const names = opts.labelNames?.split(',').map((n) => n.trim());
  if (names !== undefined && labels === null) throw usageError('--label-names only applies to an adapter that saves a classification head (task_type SEQ_CLS).');
  if (names !== undefined && names.length !== labels) throw usageError(`--label-names gives ${names.length} names but the adapter's classification head has ${labels} labels.`);
  const base =
    labels === null
      ? model
      : withClassificationHead(model, { id2label: names ?? model.classification?.id2label ?? Array.from({ length: labels }, (_, i) => `LABEL_${i}`) });
  const runtime = new Runtime({ threads: availableParallelism() });
  try {
    const peft = PeftModel.fromPretrained(base, runtime, opts.adapter);
    const staging = `${opts.out}.tmp-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    peft.saveMergedModel(staging, { safeMerge: opts.safeMerge === true });
    rmSync(opts.out, { recursive: true, force: true });
    renameSync(staging, opts.out);
    const summary = { model: opts.model, adapter: opts.adapter, out: opts.out, mergedModules: peft.parameters('default').size };
    if (opts.json) printJson(io, summary);
    else io.stdout.write(`merged ${summary.mergedModules} modules of ${opts.adapter} into ${opts.model}; wrote ${opts.out}\n`);
  } finally {
    await runtime.release();
  }
}
