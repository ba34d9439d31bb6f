// The offline main job: on the shipped base model, classify spam versus ham e-mail with a sequence-classification
// head (transformers' LlamaForSequenceClassification: `score` reads the last token's final hidden state) trained
// together with a RoAd adapter (PEFT task_type SEQ_CLS, the head in modules_to_save); compare with the base model
// (zero-shot label likelihood), with the head alone trained on the frozen model (a linear probe), and with LoRA
// + head, each for the same steps at its own learning rate; then save the adapter, merge it with its head into
// a *ForSequenceClassification folder, check that the merged model predicts exactly what the adapter did, and
// classify a few held-out e-mails. Progress goes through `hooks`; printing is the CLI's job.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loraConfig } from '../adapters/lora/config.ts';
import { SEQ_CLS } from '../adapters/modules-to-save.ts';
import { PeftModel } from '../adapters/peft-model.ts';
import { roadConfig } from '../adapters/road/config.ts';
import { RoadsterError } from '../errors.ts';
import { Tokenizer } from '../io/tokenizer/index.ts';
import { AutoModelForSequenceClassification } from '../models/auto.ts';
import { CausalLM } from '../models/causal-lm.ts';
import { classifySequences, withClassificationHead } from '../models/sequence-classification.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { type ClassifyResult, classifyByLikelihood } from '../train/classify.ts';
import { defaultPadId, loadDataset } from '../train/data/index.ts';
import type { TokenizedDataset } from '../train/data/index.ts';
import { type CurvePoint, lossCurvesSvg } from '../train/loss-curve.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainHooks, type TrainReport, Trainer } from '../train/trainer.ts';
import { classifyByHead, scorePredictions } from './classify-set.ts';
import { pooledFeatures, probePredictions, trainProbe } from './linear-probe.ts';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions } from './options.ts';
import { verifyShippedModel } from './shipped-model.ts';
import { type Email, balancedSample, emailText, isTestEmail, loadSpamAssassin } from './spam-data.ts';

export { DEFAULT_DEMO_OPTIONS, type DemoOptions };

/** The adapters the demo trains, in order. */
export type DemoPhase = 'road' | 'lora';

export interface DemoHooks {
  log?(line: string): void;
  /** Trainer hooks for the phase being trained. */
  train?(phase: DemoPhase, totalSteps: number): TrainHooks;
  /** Called when a pass over e-mails starts; the returned function gets the number done. */
  classifying?(what: string, total: number): (done: number) => void;
}

/** A trained row of the table: test accuracy, confusion[actual][predicted], and the trainer's report. */
export interface MethodResult {
  readonly accuracy: number;
  readonly confusion: number[][];
  readonly lr: number;
  readonly train: TrainReport;
}

/** The head-only baseline: the classification head trained on the frozen base model (a linear probe). */
export interface HeadOnlyResult {
  readonly accuracy: number;
  readonly confusion: number[][];
  readonly lr: number;
  readonly steps: number;
  readonly trainableParameters: number;
  /** Mean training loss of the last 10 % of the steps. */
  readonly finalTrainLoss: number;
  readonly timeSeconds: number;
}

/** `roadster demo --json` (also written to `<out>/demo-report.json`); README's demo section documents the fields. */
export interface DemoReport {
  readonly task: string;
  readonly model: string;
  readonly classes: readonly string[];
  readonly trainExamples: number;
  readonly testExamples: number;
  readonly split: string;
  /** The settings of the run (steps, batch size, text cut, learning rates, ...). */
  readonly settings: Omit<DemoOptions, 'modelDir' | 'outDir'>;
  /** The base model without training: zero-shot, the class whose label words ("ham" / "spam") are more likely. */
  readonly base: { readonly accuracy: number; readonly confusion: number[][] };
  readonly headOnly: HeadOnlyResult;
  readonly road: MethodResult;
  readonly lora: MethodResult | null;
  /** The RoAd adapter and its head merged into a LlamaForSequenceClassification folder, run without adapters. */
  readonly merged: { readonly accuracy: number; readonly agreesWithUnmerged: boolean; readonly disagreements: number; readonly dir: string };
  readonly samples: readonly { readonly subject: string; readonly actual: string; readonly predicted: string }[];
  /** The training losses of the trained rows on one chart (SVG). */
  readonly lossCurve: string;
  readonly timeSeconds: number;
  readonly outDir: string;
}

/** The demo's data files: text/label records, the text cut to `maxChars`. */
function writeJsonl(file: string, emails: readonly Email[], maxChars: number): void {
  writeFileSync(file, emails.map((e) => JSON.stringify({ text: emailText(e, maxChars), label: e.label })).join('\n') + '\n');
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Runs the whole demo; `outDir` must not exist (or be empty). */
export async function runDemo(runtime: Runtime, options: DemoOptions, hooks: DemoHooks = {}): Promise<DemoReport> {
  const started = performance.now();
  const log = (line: string) => hooks.log?.(line);
  const { outDir, seed, steps } = options;
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    throw new RoadsterError('E_USAGE', `output folder ${outDir} exists and is not empty; choose another --out or remove it`);
  }
  verifyShippedModel(options.modelDir);
  const base = await CausalLM.fromFolder(options.modelDir);
  const tokenizer = await Tokenizer.fromFolder(options.modelDir);
  const emails = loadSpamAssassin();
  const train = balancedSample(emails.filter((e) => !isTestEmail(e)), options.trainPerClass, seed + 11);
  const test = balancedSample(emails.filter(isTestEmail), options.testPerClass, seed + 23);
  log(`data: ${emails.length} e-mails; training on ${train.length}, testing on ${test.length} (fixed split, balanced classes)`);

  mkdirSync(join(outDir, 'data'), { recursive: true });
  writeJsonl(join(outDir, 'data', 'train.jsonl'), train, options.maxChars);
  writeJsonl(join(outDir, 'data', 'test.jsonl'), test, options.maxChars);
  const load = async (file: string, labelMode: 'classify' | 'generate'): Promise<TokenizedDataset> =>
    (await loadDataset(join(outDir, 'data', file), { tokenizer, maxLength: options.maxLength, labelMode, classifySuffix: options.classifySuffix, labelNames: ['ham', 'spam'] })).dataset;
  const trainSet = await load('train.jsonl', 'classify');
  const testSet = await load('test.jsonl', 'classify');
  const classes = testSet.info.classNames!;
  const k = classes.length;
  const padId = defaultPadId(tokenizer);
  const progress = (what: string, total: number) => hooks.classifying?.(what, total);
  const testWith = (what: string, run: (b: { inputIds: number[][]; attentionMask: number[][] }) => Promise<import('../runtime/host-tensor.ts').HostTensor>): Promise<ClassifyResult> =>
    classifyByHead(run, testSet.examples, k, { padId, onProgress: progress(what, testSet.size) });
  const schedule = { ...DEFAULT_TRAIN_CONFIG, maxSteps: steps, warmupSteps: Math.round(steps / 10), schedule: 'cosine' as const, seed };
  const curves: { label: string; points: CurvePoint[] }[] = [];

  // The base model as it ships: zero-shot, by the likelihood of the label words after "\nLabel:".
  const promptSet = await load('test.jsonl', 'generate');
  const baseResult = await classifyByLikelihood(async (b) => (await base.forward(runtime, b)).logits, promptSet.examples, promptSet.info.classCompletions!, {
    batchSize: 8,
    padId,
    onProgress: progress('base model, zero-shot', promptSet.size),
  });
  log(`base model, zero-shot (label likelihood): accuracy ${pct(baseResult.accuracy)}`);

  // Head only: the frozen base model's pooled states, a linear head trained on them for the same steps.
  const features = await pooledFeatures(base, runtime, [...trainSet.examples, ...testSet.examples], {
    padId,
    onProgress: progress('frozen base model, features for the head-only row', trainSet.size + testSet.size),
  });
  const batches = () => trainSet.batchSource({ batchSize: options.batchSize, seed, mode: 'length', padId });
  const probe = trainProbe(features, batches(), k, { ...schedule, lr: options.headLr }, { seed });
  curves.push({ label: 'head only', points: probe.losses.map((loss, i) => ({ step: i + 1, loss })) });
  const headResult = scorePredictions(probePredictions(features, probe.weight, k, testSet.examples), testSet.examples, k);
  const tail = probe.losses.slice(-Math.max(1, Math.round(steps / 10)));
  const headOnly: HeadOnlyResult = {
    accuracy: headResult.accuracy,
    confusion: headResult.confusion,
    lr: options.headLr,
    steps,
    trainableParameters: probe.weight.length,
    finalTrainLoss: tail.reduce((a, b) => a + b, 0) / tail.length,
    timeSeconds: probe.timeSeconds,
  };
  log(`head only (frozen base model, ${probe.weight.length} parameters): accuracy ${pct(headOnly.accuracy)} after ${steps} steps`);

  const classifier = withClassificationHead(base, { id2label: classes, seed, padTokenId: padId });
  const trainOne = async (phase: 'road' | 'lora') => {
    const name = phase === 'road' ? 'RoAd' : 'LoRA';
    const lr = phase === 'road' ? options.roadLr : options.loraLr;
    const config =
      phase === 'road'
        ? roadConfig({ variant: options.variant, groupSize: options.groupSize, targetModules: 'all-linear', taskType: SEQ_CLS }, base.config.modelType)
        : loraConfig({ r: options.loraRank, loraAlpha: 2 * options.loraRank, targetModules: 'all-linear', taskType: SEQ_CLS }, base.config.modelType);
    const peft = PeftModel.getPeftModel(classifier, runtime, config, 'default', seed);
    log(`${name} + head: ${peft.printTrainableParameters()}`);
    const points: CurvePoint[] = [];
    const outer = hooks.train?.(phase, steps);
    const trainer = new Trainer(peft, 'default', batches(), null, { ...schedule, lr, outDir: join(outDir, phase) }, {
      ...outer,
      onStep: (r, total) => {
        if (!r.skipped) points.push({ step: r.step, loss: r.loss });
        outer?.onStep?.(r, total);
      },
    });
    const report = await trainer.run();
    curves.push({ label: `${name} + head`, points });
    const result = await testWith(`${name} + head`, async (b) => (await peft.forward(b)).logits);
    log(`${name} + head: accuracy ${pct(result.accuracy)} after ${report.steps} steps (${report.timeSeconds.toFixed(0)} s)`);
    return { peft, result, report, lr };
  };

  const road = await trainOne('road');
  const lora = options.skipLora ? null : await trainOne('lora');

  // Merge the RoAd adapter and its head into the weights; the merged classifier must predict the same classes.
  const mergedDir = join(outDir, 'merged');
  road.peft.saveMergedModel(mergedDir, { safeMerge: true });
  const merged = await AutoModelForSequenceClassification.fromPretrained(mergedDir);
  const mergedResult = await testWith('merged model', async (b) => (await classifySequences(merged, runtime, b)).logits);
  const disagreements = mergedResult.predictions.filter((p, i) => p !== road.result.predictions[i]).length;
  log(`merged model: accuracy ${pct(mergedResult.accuracy)}, ${disagreements} prediction(s) differ from the unmerged adapter`);

  const lossCurve = join(outDir, 'loss-curve.svg');
  writeFileSync(lossCurve, lossCurvesSvg(curves, [], `training loss (class cross-entropy), ${steps} steps of ${options.batchSize} e-mails`));

  const samples = test.slice(0, 6).map((e, i) => ({ subject: e.subject, actual: e.label, predicted: classes[road.result.predictions[i]] }));
  const { modelDir: _m, outDir: _o, ...settings } = options;
  const method = (r: typeof road): MethodResult => ({ accuracy: r.result.accuracy, confusion: r.result.confusion, lr: r.lr, train: r.report });
  const report: DemoReport = {
    task: 'SpamAssassin spam vs ham (Subject and body only)',
    model: options.modelDir,
    classes,
    trainExamples: trainSet.size,
    testExamples: testSet.size,
    split: 'test = e-mails whose MD5 checksum starts with a byte divisible by 5; class-balanced seeded samples from each pool',
    settings,
    base: { accuracy: baseResult.accuracy, confusion: baseResult.confusion },
    headOnly,
    road: method(road),
    lora: lora && method(lora),
    merged: { accuracy: mergedResult.accuracy, agreesWithUnmerged: disagreements === 0, disagreements, dir: mergedDir },
    samples,
    lossCurve,
    timeSeconds: (performance.now() - started) / 1000,
    outDir,
  };
  writeFileSync(join(outDir, 'demo-report.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}
