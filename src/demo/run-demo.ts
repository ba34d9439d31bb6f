// The offline main job: on the shipped base model, fine-tune RoAd on spam-vs-ham e-mail classification, compare
// with the base model (zero-shot) and with LoRA trained on the same data for the same steps, then save the
// adapter, merge it, check that merged and unmerged predictions agree, and classify a few held-out e-mails.
// Progress goes through `hooks`; printing is the CLI's job.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loraConfig } from '../adapters/lora/config.ts';
import { PeftModel } from '../adapters/peft-model.ts';
import { roadConfig } from '../adapters/road/config.ts';
import { RoadsterError } from '../errors.ts';
import { Tokenizer } from '../io/tokenizer/index.ts';
import { CausalLM } from '../models/causal-lm.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { type ClassifyResult, classifyByLikelihood } from '../train/classify.ts';
import { defaultPadId, loadDataset } from '../train/data/index.ts';
import type { TokenizedDataset } from '../train/data/index.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainHooks, type TrainReport, Trainer } from '../train/trainer.ts';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions } from './options.ts';
import { verifyShippedModel } from './shipped-model.ts';
import { type Email, balancedSample, emailText, isTestEmail, loadSpamAssassin } from './spam-data.ts';

export { DEFAULT_DEMO_OPTIONS, type DemoOptions };

export interface DemoHooks {
  log?(line: string): void;
  /** Trainer hooks for the phase being trained ("road" or "lora"). */
  train?(phase: 'road' | 'lora', totalSteps: number): TrainHooks;
  classifying?(what: string, total: number): (done: number) => void;
}

export interface MethodResult {
  readonly accuracy: number;
  readonly confusion: number[][];
  readonly train: TrainReport;
}

export interface DemoReport {
  readonly task: string;
  readonly model: string;
  readonly classes: readonly string[];
  readonly trainExamples: number;
  readonly testExamples: number;
  readonly split: string;
  readonly base: { readonly accuracy: number; readonly confusion: number[][] };
  readonly road: MethodResult;
  readonly lora: MethodResult | null;
  readonly merged: { readonly accuracy: number; readonly agreesWithUnmerged: boolean; readonly disagreements: number; readonly dir: string };
  readonly samples: readonly { readonly subject: string; readonly actual: string; readonly predicted: string }[];
  readonly timeSeconds: number;
  readonly outDir: string;
}

function writeJsonl(file: string, emails: readonly Email[], maxChars: number): void {
  writeFileSync(file, emails.map((e) => JSON.stringify({ text: emailText(e, maxChars), label: e.label })).join('\n') + '\n');
}

/** Runs the whole demo; `outDir` must not exist (or be empty). */
export async function runDemo(runtime: Runtime, options: DemoOptions, hooks: DemoHooks = {}): Promise<DemoReport> {
  const started = performance.now();
  const log = (line: string) => hooks.log?.(line);
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0) {
    throw new RoadsterError('E_USAGE', `output folder ${options.outDir} exists and is not empty; choose another --out or remove it`);
  }
  verifyShippedModel(options.modelDir);
  const base = await CausalLM.fromFolder(options.modelDir);
  const tokenizer = await Tokenizer.fromFolder(options.modelDir);
  const emails = loadSpamAssassin();
  const train = balancedSample(emails.filter((e) => !isTestEmail(e)), options.trainPerClass, options.seed + 11);
  const test = balancedSample(emails.filter(isTestEmail), options.testPerClass, options.seed + 23);
  log(`data: ${emails.length} e-mails; training on ${train.length}, testing on ${test.length} (fixed split, balanced classes)`);

  mkdirSync(join(options.outDir, 'data'), { recursive: true });
  writeJsonl(join(options.outDir, 'data', 'train.jsonl'), train, options.maxChars);
  writeJsonl(join(options.outDir, 'data', 'test.jsonl'), test, options.maxChars);
  const load = async (file: string): Promise<TokenizedDataset> =>
    (await loadDataset(join(options.outDir, 'data', file), { tokenizer, maxLength: options.maxLength, labelNames: ['ham', 'spam'] })).dataset;
  const trainSet = await load('train.jsonl');
  const testSet = await load('test.jsonl');
  const completions = testSet.info.classCompletions!;
  const classes = testSet.info.classNames!;
  const padId = defaultPadId(tokenizer);
  const classify = async (what: string, run: (b: { inputIds: number[][]; attentionMask: number[][] }) => Promise<import('../runtime/host-tensor.ts').HostTensor>): Promise<ClassifyResult> =>
    classifyByLikelihood(run, testSet.examples, completions, { batchSize: 8, padId, onProgress: hooks.classifying?.(what, testSet.size) });

  const baseResult = await classify('base model', async (b) => (await base.forward(runtime, b)).logits);
  log(`base model (no adaptation): accuracy ${(100 * baseResult.accuracy).toFixed(1)}%`);

  const trainOne = async (phase: 'road' | 'lora') => {
    const config =
      phase === 'road'
        ? roadConfig({ variant: options.variant, groupSize: options.groupSize, targetModules: 'all-linear' }, base.config.modelType)
        : loraConfig({ r: options.loraRank, loraAlpha: 2 * options.loraRank, targetModules: 'all-linear' }, base.config.modelType);
    const peft = PeftModel.getPeftModel(base, runtime, config, 'default', options.seed);
    log(`${phase === 'road' ? 'RoAd' : 'LoRA'}: ${peft.printTrainableParameters()}`);
    const source = trainSet.batchSource({ batchSize: options.batchSize, seed: options.seed, mode: 'length', padId });
    const trainer = new Trainer(
      peft,
      'default',
      source,
      null,
      { ...DEFAULT_TRAIN_CONFIG, lr: phase === 'road' ? options.roadLr : options.loraLr, maxSteps: options.steps, warmupSteps: Math.round(options.steps / 10), schedule: 'cosine', seed: options.seed, outDir: join(options.outDir, phase) },
      hooks.train?.(phase, options.steps),
    );
    const report = await trainer.run();
    const result = await classify(phase === 'road' ? 'RoAd' : 'LoRA', async (b) => (await peft.forward(b)).logits);
    log(`${phase === 'road' ? 'RoAd' : 'LoRA'}: accuracy ${(100 * result.accuracy).toFixed(1)}% after ${report.steps} steps (${report.timeSeconds.toFixed(0)} s)`);
    return { peft, result, report };
  };

  const road = await trainOne('road');
  const lora = options.skipLora ? null : await trainOne('lora');

  // Merge the RoAd adapter into the weights and check that the merged model predicts the same classes.
  const mergedDir = join(options.outDir, 'merged');
  road.peft.saveMergedModel(mergedDir, { safeMerge: true });
  const merged = await CausalLM.fromFolder(mergedDir);
  const mergedResult = await classify('merged model', async (b) => (await merged.forward(runtime, b)).logits);
  const disagreements = mergedResult.predictions.filter((p, i) => p !== road.result.predictions[i]).length;
  log(`merged model: accuracy ${(100 * mergedResult.accuracy).toFixed(1)}%, ${disagreements} prediction(s) differ from the unmerged adapter`);

  const samples = test.slice(0, 6).map((e, i) => ({ subject: e.subject, actual: e.label, predicted: classes[road.result.predictions[i]] }));
  const report: DemoReport = {
    task: 'SpamAssassin spam vs ham (Subject and body only)',
    model: options.modelDir,
    classes,
    trainExamples: trainSet.size,
    testExamples: testSet.size,
    split: 'test = e-mails whose MD5 checksum starts with a byte divisible by 5; class-balanced seeded samples from each pool',
    base: { accuracy: baseResult.accuracy, confusion: baseResult.confusion },
    road: { accuracy: road.result.accuracy, confusion: road.result.confusion, train: road.report },
    lora: lora && { accuracy: lora.result.accuracy, confusion: lora.result.confusion, train: lora.report },
    merged: { accuracy: mergedResult.accuracy, agreesWithUnmerged: disagreements === 0, disagreements, dir: mergedDir },
    samples,
    timeSeconds: (performance.now() - started) / 1000,
    outDir: options.outDir,
  };
  writeFileSync(join(options.outDir, 'demo-report.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}
