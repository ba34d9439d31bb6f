// `roadster train`: fine-tunes a RoAd or LoRA adapter on a JSONL file and writes, into --out, metrics.jsonl,
// loss-curve.svg, report.json, checkpoints and the final PEFT adapter folder. Settings come from flags and an
// optional JSON/YAML config file (flags win). Everything is validated (settings, model, tokenizer, adapter,
// data, the output folder) before the run starts; what was created in --out before a failure is removed.
// With --label-mode classify the model gets a sequence-classification head over the data's classes, and the
// adapter (task_type SEQ_CLS) trains and saves its copy of it, as PEFT's modules_to_save. With --label-mode words
// it classifies by label words (models/label-words.ts): the language model's logits of each class's one token
// after --prompt-separator, with nothing added to the model, so the adapter stays a CAUSAL_LM adapter.

import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { AdapterConfig } from '../../adapters/kinds.ts';
import { loraConfig } from '../../adapters/lora/config.ts';
import { PeftModel } from '../../adapters/peft-model.ts';
import { roadConfig } from '../../adapters/road/config.ts';
import { parsePairSelection } from '../../adapters/road/pairs.ts';
import { restrictRoadPairs } from '../../adapters/subspace.ts';
import { RoadsterError } from '../../errors.ts';
import type { ModelType } from '../../io/config/index.ts';
import { hubOptionsFromEnv, resolveModelFiles } from '../../io/hub/index.ts';
import { Tokenizer } from '../../io/tokenizer/index.ts';
import { SEQ_CLS } from '../../adapters/modules-to-save.ts';
import { AutoModelForCausalLM, type FromPretrainedOptions } from '../../models/auto.ts';
import type { CausalLM } from '../../models/causal-lm.ts';
import { withLabelWords } from '../../models/label-words.ts';
import { withClassificationHead } from '../../models/sequence-classification.ts';
import { DEFAULT_PROMPT_SEPARATOR, defaultPadId, labelWordIds } from '../../train/data/index.ts';
import { Runtime } from '../../runtime/index.ts';
import { Trainer, type TrainReport } from '../../train/trainer.ts';
import { type CliIo, printJson, usageError } from '../io.ts';
import { downloadReporter } from '../progress.ts';
import { type DataReport, dataWarnings, loadRunData } from '../train/data.ts';
import type { TrainFlags } from '../train/flags.ts';
import { checkOutDir, clearInterruptedRun, prepareOutDir } from '../train/out-dir.ts';
import { releaseOnExit } from '../train/out-lock.ts';
import { trainProgress } from '../train/progress.ts';
import { defaultMaxLength, mergeFlags, readConfigFile, resolveSettings, settingWarnings, type AdapterSettings, type TrainSettings } from '../train/settings.ts';

/** Tokenizer files transformers reads besides tokenizer.json (as AutoTokenizer resolves them). */
const TOKENIZER_OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

/** The tokenizer and the folder it was read from (the token cache hashes that folder's files). */
async function loadTokenizer(model: string, options: FromPretrainedOptions): Promise<{ tokenizer: Tokenizer; folder: string }> {
  const local = await stat(model).then((s) => s.isDirectory(), () => false);
  const folder = local
    ? model
    : (await resolveModelFiles(model, { ...options, files: ['tokenizer.json'], optionalFiles: TOKENIZER_OPTIONAL_FILES })).folder;
  return { tokenizer: await Tokenizer.fromFolder(folder), folder };
}

function adapterConfig(s: TrainSettings, modelType: ModelType): AdapterConfig {
  const common = { targetModules: s.targetModules ?? undefined, baseModelNameOrPath: s.model, ...(s.labelMode === 'classify' ? { taskType: SEQ_CLS } : {}) };
  switch (s.adapter.method) {
    case 'road':
      return roadConfig({ ...common, variant: s.adapter.variant, groupSize: s.adapter.groupSize, initWeights: s.initWeights }, modelType);
    case 'lora':
      return loraConfig({ ...common, r: s.adapter.rank, loraAlpha: s.adapter.loraAlpha, loraDropout: s.adapter.loraDropout, initLoraWeights: s.initWeights }, modelType);
  }
}

function describeAdapter(a: AdapterSettings): string {
  switch (a.method) {
    case 'road':
      return `RoAd ${a.variant}, group size ${a.groupSize}${a.pairs === null ? '' : `, pairs ${a.pairs}`}${a.complementNoise === null ? '' : `, complement noise θ ${a.complementNoise.theta}, α ${a.complementNoise.alpha}`}`;
    case 'lora':
      return `LoRA rank ${a.rank}, alpha ${a.loraAlpha}${a.loraDropout > 0 ? `, dropout ${a.loraDropout}` : ''}`;
  }
}

function describeHead(r: TrainCommandReport): string {
  if (r.classes === null) return '';
  if (r.labelTokens === null) return ` + classification head (${r.classes.join(', ')})`;
  const tokens = r.labelTokens;
  return ` on label words (${r.classes.map((name, k) => `${name}: token ${tokens[k]}`).join(', ')})`;
}

/** Checks that the model can take what the tokenizer and --max-length produce; returns the max length. */
function checkModelFit(model: CausalLM, tokenizer: Tokenizer, settings: TrainSettings): number {
  const { vocabSize, maxPositionEmbeddings } = model.config;
  if (tokenizer.vocabSize > vocabSize) {
    throw new RoadsterError('E_TOKENIZER', `the tokenizer of ${settings.model} has ${tokenizer.vocabSize} ids but the model's ` +
      `vocabulary has ${vocabSize}; use the model's own tokenizer.`);
  }
  const maxLength = settings.maxLength ?? defaultMaxLength(maxPositionEmbeddings);
  if (maxLength > maxPositionEmbeddings) {
    throw usageError(`--max-length ${maxLength} is more than the model's max_position_embeddings (${maxPositionEmbeddings}).`);
  }
  return maxLength;
}

/** The report of `--json`: the trainer's report, the adapter and the data. */
export interface TrainCommandReport extends TrainReport {
  readonly method: AdapterSettings;
  readonly data: DataReport;
  /** --label-mode classify or words: the head's labels by class index (its id2label); else null. */
  readonly classes: readonly string[] | null;
  /** --label-mode words: the token each class is predicted as, by class index; else null. */
  readonly labelTokens: readonly number[] | null;
}

const n = (x: number): string => x.toLocaleString('en-US');
const loss = (x: number | null): string => (x === null ? '-' : x.toFixed(4));

function printReport(io: CliIo, r: TrainCommandReport): void {
  const rows: [string, string][] = [
    ['adapter', `${describeAdapter(r.method)}${describeHead(r)} -> ${r.outDir}`],
    ['trainable parameters', `${n(r.trainableParameters)} of ${n(r.totalParameters)} (${r.trainablePercent.toFixed(4)}%)`],
    ['steps', `${r.steps}${r.resumedFrom === null ? '' : ` (resumed from step ${r.resumedFrom})`}`],
    ['tokens', n(r.tokens)],
    ['time', `${r.timeSeconds.toFixed(1)} s, ${n(Math.round(r.tokensPerSecond))} tokens/s`],
    ['final train loss', loss(r.finalTrainLoss)],
  ];
  if (r.data.evalSource !== null) rows.push(['final eval loss', loss(r.finalEvalLoss)]);
  if (r.evalAccuracy !== null) rows.push(['eval accuracy', `${(100 * r.evalAccuracy).toFixed(1)}%`]);
  if (r.nonFiniteSkipped > 0) rows.push(['non-finite steps skipped', String(r.nonFiniteSkipped)]);
  const t = r.data.train;
  rows.push(['train data', `${t.file}: ${n(t.examples)} ${t.format} examples, ${t.truncated} truncated, ${t.skippedLines} bad lines skipped`]);
  if (r.data.eval !== null) {
    const e = r.data.eval;
    rows.push(['eval data', `${e.file}: ${n(e.examples)} ${e.format} examples, ${e.truncated} truncated, ${e.skippedLines} bad lines skipped`]);
  } else if (r.data.evalSource === 'split') {
    rows.push(['eval data', `${r.data.evalExamples} examples held out of ${t.file} (${r.data.trainExamples} left to train on)`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  io.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join(''));
}

/** `roadster train`. */
export async function train(cli: TrainFlags & { config?: string }, io: CliIo): Promise<void> {
  const { config, ...cliFlags } = cli;
  const settings = resolveSettings(mergeFlags(config === undefined ? {} : readConfigFile(config), cliFlags));
  const plan = checkOutDir(settings.out, settings.resume);

  const hub = hubOptionsFromEnv(io.env);
  const downloads = downloadReporter(io);
  const loadOptions: FromPretrainedOptions = {
    ...hub,
    offline: settings.offline || hub.offline === true,
    ...(settings.revision === undefined ? {} : { revision: settings.revision }),
    onProgress: downloads.onProgress,
  };
  let model: CausalLM;
  let tokenizer: { tokenizer: Tokenizer; folder: string };
  try {
    tokenizer = await loadTokenizer(settings.model, loadOptions);
    model = await AutoModelForCausalLM.fromPretrained(settings.model, loadOptions);
  } finally {
    downloads.stop();
  }
  const maxLength = checkModelFit(model, tokenizer.tokenizer, settings);

  const runtime = new Runtime({ threads: settings.threads ?? availableParallelism(), quantizeWeights: settings.quantize });
  const progress = trainProgress(io, { logEvery: settings.logEvery });
  try {
    const config = adapterConfig(settings, model.config.modelType);
    if (settings.labelMode !== 'classify') PeftModel.getPeftModel(model, runtime, config); // the adapter's fit, before --out is touched
    const guard = prepareOutDir(settings.out, (line) => progress.log(`note: ${line}`));
    const stopWatching = releaseOnExit(guard.lock);
    try {
      let peft: PeftModel;
      let trainer: Trainer;
      let data: Awaited<ReturnType<typeof loadRunData>>;
      let labelTokens: number[] | null = null;
      try {
        data = await loadRunData(settings, tokenizer.tokenizer, tokenizer.folder, maxLength);
        const classes = data.classes;
        if (classes !== null && settings.labelMode === 'words') {
          labelTokens = labelWordIds(tokenizer.tokenizer, classes, settings.promptSeparator ?? DEFAULT_PROMPT_SEPARATOR);
        }
        const base =
          classes === null
            ? model
            : labelTokens !== null
              ? withLabelWords(model, { id2label: classes, tokenIds: labelTokens })
              : withClassificationHead(model, { id2label: classes, seed: settings.train.seed, padTokenId: defaultPadId(tokenizer.tokenizer) });
        peft = PeftModel.getPeftModel(base, runtime, config, 'default', settings.train.seed);
        if (settings.adapter.method === 'road' && settings.adapter.pairs !== null) restrictRoadPairs(peft, 'default', parsePairSelection(settings.adapter.pairs), settings.adapter.complementNoise);
        trainer = new Trainer(peft, 'default', data.train, data.eval, { ...settings.train, inputs: data.inputs, outDir: settings.out }, progress.hooks);
      } catch (error) {
        guard.rollback();
        throw error;
      }
      if (plan.mode === 'restart') {
        progress.log(`note: ${plan.note}`);
        clearInterruptedRun(settings.out);
      }
      const resuming = plan.mode === 'resume';
      if (resuming && !trainer.resume()) {
        throw usageError(`--resume: ${settings.out} has no valid checkpoint to continue from.`);
      }
      for (const warning of [...dataWarnings(data.report), ...settingWarnings(settings, trainer.totalSteps)]) progress.log(`warning: ${warning}`);
      const evalLine = data.eval === null ? '' : `, ${data.report.evalExamples} eval examples`;
      progress.log(`${peft.printTrainableParameters()}`);
      progress.log(`${data.report.trainExamples} ${data.report.train.format} training examples${evalLine}; ` +
        `${trainer.totalSteps} optimizer steps${resuming ? ' (resuming)' : ''}`);
      const report = await trainer.run();
      progress.stop();
      const full: TrainCommandReport = { ...report, method: settings.adapter, data: data.report, classes: data.classes, labelTokens };
      if (settings.json) printJson(io, full);
      else printReport(io, full);
    } finally {
      stopWatching();
      guard.lock.release();
    }
  } finally {
    progress.stop();
    await runtime.release();
  }
}
