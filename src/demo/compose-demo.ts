// `roadster demo compose`: issue 15's experiment on the shipped base model. Two tasks whose data ships offline
// (spam vs ham e-mail, SpamAssassin, "...\nSpam: yes"; State of the Union passages from before 1900 vs from 1950,
// "...\nEra: modern"), each label one token. Every adapter is trained and scored through label words
// (models/label-words.ts): the language model's logits of its task's two label tokens at the prompt's last token,
// with the cross-entropy over those two tokens as the loss. RoAd adapter A learns spam on pairs 0/2 of every group,
// adapter B the era on pairs 1/2, each under complement noise on the other's pairs; each is evaluated alone, then
// their exact product (composeAdapters) on both tasks, by accuracy and by the ROC AUC of the label-logit margin (a
// product that only shifts the margin keeps the AUC). Controls with the same steps: two all-pairs RoAd adapters composed by product, and two LoRA adapters
// combined the PEFT way (cat and linear). Then IIA (compose-iia.ts): swapping A's subspace from spam sources into
// ham bases at the last token, at all adapted layers and one layer at a time, against random pairs of the same
// size. All of it but the IIA runs once per seed (own samples, own adapters), and the report gives the mean.
// Progress goes through `hooks`; printing is the CLI's job.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeAdapters } from '../adapters/compose.ts';
import type { AdapterEntry } from '../adapters/kind.ts';
import type { AdapterConfig } from '../adapters/kinds.ts';
import { loraConfig } from '../adapters/lora/config.ts';
import { PeftModel } from '../adapters/peft-model.ts';
import { roadConfig } from '../adapters/road/config.ts';
import { parsePairSelection } from '../adapters/road/pairs.ts';
import { type ComplementNoise, restrictRoadPairs } from '../adapters/subspace.ts';
import { RoadsterError } from '../errors.ts';
import { Tokenizer } from '../io/tokenizer/index.ts';
import { CausalLM } from '../models/causal-lm.ts';
import { withLabelWords } from '../models/label-words.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { type TokenizedDataset, defaultPadId, labelWordIds, loadDataset } from '../train/data/index.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainHooks, Trainer } from '../train/trainer.ts';
import { classifyByHead } from './classify-set.ts';
import { DEFAULT_COMPOSE_DEMO_NOISE, DEFAULT_COMPOSE_DEMO_SEEDS, DEFAULT_COMPOSE_DEMO_STEPS } from './compose-defaults.ts';
import type { DemoOptions } from './options.ts';
import { type IiaReport, subspaceIia } from './compose-iia.ts';
import { verifyShippedModel } from './shipped-model.ts';
import { balancedPassages, isTestPassage, loadSotuPassages } from './sotu-data.ts';
import { balancedSample, emailText, isTestEmail, loadSpamAssassin } from './spam-data.ts';

/** The demo's settings (no head and no skipping LoRA here), and the IIA's. */
export interface ComposeDemoOptions extends Omit<DemoOptions, 'headLr' | 'skipLora' | 'classifySuffix'> {
  /** Complement noise on the other adapter's pairs while A and B train (restrictRoadPairs), or null for none. */
  readonly complementNoise: ComplementNoise | null;
  /** How many seeds the whole experiment runs with: `seed`, `seed + 1`, ...; each draws its own samples and trains its own adapters. */
  readonly seeds: number;
  /** (ham base, spam source) pairs of the IIA, at most. */
  readonly iiaPairs: number;
  /** Random subspaces of the same size for the IIA baseline. */
  readonly randomDraws: number;
}

/**
 * Settings chosen on validation examples from each task's training pool (scripts/compose-sweep.ts, docs/compose.md):
 * RoAd at 1e-2 for 300 steps, where each adapter alone is within 3 points of the best seen for it (A 91 %,
 * B 96 %) and their product keeps the most of both (97 % and 98 %; 2e-2 for 150 steps kept 90 % of spam); LoRA
 * at 1e-3, the better of 1e-3 and 3e-3 for each adapter alone (92.5 % and 98.5 %). 400 test examples per class
 * (the spam test split has 403 spam e-mails): with 100 per class the sampling error of each accuracy (about ±3
 * points) could not tell a product that keeps 93 % from one that keeps 97 %.
 */
export const DEFAULT_COMPOSE_DEMO_OPTIONS: Omit<ComposeDemoOptions, 'modelDir' | 'outDir'> = {
  trainPerClass: 200,
  testPerClass: 400,
  steps: DEFAULT_COMPOSE_DEMO_STEPS,
  batchSize: 8,
  maxChars: 300,
  maxLength: 96,
  variant: 'road_4',
  groupSize: 16,
  roadLr: 1e-2,
  loraRank: 8,
  loraLr: 1e-3,
  seed: 0,
  complementNoise: DEFAULT_COMPOSE_DEMO_NOISE,
  seeds: DEFAULT_COMPOSE_DEMO_SEEDS,
  iiaPairs: 64,
  randomDraws: 3,
};

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Each task's prompt ends in its own words, so each adapter learns to answer after its own cue; every label word
 * is one token of the shipped tokenizer (" ham" and " spam" are two each, and A learned them worse: 72.5 % against
 * 88 % on validation e-mails, scripts/compose-sweep.ts). */
const SPAM_SEPARATOR = '\nSpam:';
const SPAM_WORDS = { ham: 'no', spam: 'yes' } as const;
const ERA_SEPARATOR = '\nEra:';

export type TaskName = 'spam' | 'era';
export type ComposePhase = 'A (spam, pairs 0/2)' | 'B (era, pairs 1/2)' | 'all-pairs spam' | 'all-pairs era' | 'LoRA spam' | 'LoRA era';

export interface ComposeDemoHooks {
  log?(line: string): void;
  train?(phase: ComposePhase, totalSteps: number): TrainHooks;
}

/** One combination evaluated on one task: its accuracy, the share of the single adapter's it keeps, and its AUC. */
export interface Combined {
  readonly accuracy: number;
  /** accuracy / the single adapter's accuracy on this task. */
  readonly retention: number;
  /** ROC AUC of log p(second class) - log p(first class): 0.5 is chance, and a uniform shift of the margin keeps it. */
  readonly auc: number;
}

export interface TaskReport {
  readonly task: string;
  readonly classes: readonly string[];
  readonly trainExamples: number;
  readonly testExamples: number;
  /** The base model without adaptation. */
  readonly base: number;
  /** The task's subspace adapter alone (A or B). */
  readonly single: number;
  /** The product of A and B. */
  readonly composed: Combined;
  /** ROC AUC (see Combined) of the base model, the single adapter, and the controls' single adapters. */
  readonly auc: { readonly base: number; readonly single: number; readonly allPairs: number; readonly lora: number };
  readonly controls: {
    readonly allPairs: { readonly single: number; readonly composed: Combined };
    readonly lora: { readonly single: number; readonly cat: Combined; readonly linear: Combined };
  };
}

/** The two tasks' reports of one run. */
export interface TaskPair {
  readonly spam: TaskReport;
  readonly era: TaskReport;
}

export interface ComposeDemoReport {
  readonly model: string;
  readonly settings: Omit<ComposeDemoOptions, 'modelDir' | 'outDir'>;
  /** The seeds run, in order. */
  readonly seeds: readonly number[];
  /**
   * Each task's numbers: with one seed that run's, with several their mean, where every `retention` is the mean
   * accuracy over the mean single accuracy (the share kept by the expected accuracies).
   */
  readonly tasks: TaskPair;
  /** Each seed's own reports, in the order of `seeds`. */
  readonly perSeed: readonly { readonly seed: number; readonly tasks: TaskPair }[];
  /** What composeAdapters reported for the first seed's A·B product. */
  readonly composition: { readonly disjoint: boolean; readonly variant: string; readonly note: string };
  /** On the first seed's adapter A and spam test sample. */
  readonly iia: IiaReport;
  readonly trainableParameters: { readonly subspace: number; readonly allPairs: number; readonly lora: number };
  readonly timeSeconds: number;
  readonly outDir: string;
}

interface Task {
  readonly name: TaskName;
  readonly description: string;
  /** The base model classifying by this task's label words. */
  readonly model: CausalLM;
  readonly classes: readonly string[];
  /** The label token of each class. */
  readonly tokens: readonly number[];
  readonly train: TokenizedDataset;
  readonly test: TokenizedDataset;
}

/** ROC AUC of `scores` for `labels` (1 positive, 0 negative), ties counting half; 0.5 when a class is missing. */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  const pos = scores.filter((_, i) => labels[i] === 1);
  const neg = scores.filter((_, i) => labels[i] === 0);
  if (pos.length === 0 || neg.length === 0) return 0.5;
  let wins = 0;
  for (const p of pos) for (const q of neg) wins += p > q ? 1 : p === q ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

function writeJsonl(file: string, records: readonly { text: string; label: string }[]): void {
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** What one seed's run needs that every seed shares: the base model, its tokenizer and the two corpora. */
interface Shared {
  readonly base: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly padId: number;
  readonly emails: ReturnType<typeof loadSpamAssassin>;
  readonly sotu: ReturnType<typeof loadSotuPassages>;
}

/** One seed's run: its trained adapter A and spam task (the IIA's), its reports and its A·B product's report. */
interface SeedRun {
  readonly tasks: TaskPair;
  readonly a: AdapterEntry<AdapterConfig>;
  readonly spam: Task;
  readonly composition: ComposeDemoReport['composition'];
  readonly trainable: ComposeDemoReport['trainableParameters'];
}

/** Runs the experiment; `outDir` must not exist (or be empty). Seed s writes its data and adapters under `<outDir>/seed-<s>/`. */
export async function runComposeDemo(runtime: Runtime, options: ComposeDemoOptions, hooks: ComposeDemoHooks = {}): Promise<ComposeDemoReport> {
  const started = performance.now();
  const log = (line: string) => hooks.log?.(line);
  if (!Number.isInteger(options.seeds) || options.seeds < 1) {
    throw new RoadsterError('E_USAGE', `seeds must be a whole number of at least 1, not ${options.seeds}`);
  }
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0) {
    throw new RoadsterError('E_USAGE', `output folder ${options.outDir} exists and is not empty; choose another --out or remove it`);
  }
  verifyShippedModel(options.modelDir);
  const base = await CausalLM.fromFolder(options.modelDir);
  const tokenizer = await Tokenizer.fromFolder(options.modelDir);
  const shared: Shared = { base, tokenizer, padId: defaultPadId(tokenizer), emails: loadSpamAssassin(), sotu: loadSotuPassages(options.maxChars) };
  const seeds = Array.from({ length: options.seeds }, (_, i) => options.seed + i);
  const runs: SeedRun[] = [];
  for (const [i, seed] of seeds.entries()) {
    if (seeds.length > 1) log(`seed ${seed} (${i + 1} of ${seeds.length})`);
    runs.push(await runSeed(runtime, shared, options, seed, join(options.outDir, `seed-${seed}`), hooks));
  }
  const first = runs[0];

  log('IIA: swapping A\'s subspace from spam sources into ham bases at the last token (adapter A) ...');
  // interventions act on the language model's vocabulary logits: A on the plain base model
  const intervened = new PeftModel(base, runtime);
  intervened.addAdapterFromParams(first.a.name, first.a.config, first.a.params);
  const spamTest = first.spam.test.examples;
  const prompts = { prompts: spamTest.map((e) => e.inputIds), labels: spamTest.map((e) => e.classLabel!), classNames: first.spam.classes, candidates: first.spam.tokens };
  const iia = await subspaceIia(intervened, prompts, {
    model: 'adapter A alone',
    groupSize: options.groupSize,
    subspace: '0/2',
    complement: '1/2',
    baseClass: SPAM_WORDS.ham,
    sourceClass: SPAM_WORDS.spam,
    sites: [...first.a.params.keys()],
    pairs: options.iiaPairs,
    randomDraws: options.randomDraws,
    seed: seeds[0],
    padId: shared.padId,
  });
  const rate = (x: number | null) => (x === null ? 'n/a' : pct(x));
  log(`IIA: A's pairs ${rate(iia.flipRate)}, random pairs of the same size ${rate(iia.random.mean)}, B's pairs ${rate(iia.complement)} (${iia.examples} pairs)`);

  const out: ComposeDemoReport = {
    model: options.modelDir,
    settings: (({ modelDir: _m, outDir: _o, ...rest }) => rest)(options),
    seeds,
    tasks: runs.length === 1 ? first.tasks : { spam: meanTaskReport(runs.map((r) => r.tasks.spam)), era: meanTaskReport(runs.map((r) => r.tasks.era)) },
    perSeed: runs.map((r, i) => ({ seed: seeds[i], tasks: r.tasks })),
    composition: first.composition,
    iia,
    trainableParameters: first.trainable,
    timeSeconds: (performance.now() - started) / 1000,
    outDir: options.outDir,
  };
  writeFileSync(join(options.outDir, 'compose-report.json'), JSON.stringify(out, null, 2) + '\n');
  return out;
}

/**
 * The mean of several seeds' reports of one task: every accuracy and AUC averaged, every retention the mean
 * accuracy over the mean accuracy it is a share of.
 */
export function meanTaskReport(reports: readonly TaskReport[]): TaskReport {
  if (reports.length === 0) throw new RoadsterError('E_USAGE', 'meanTaskReport needs at least one report');
  const mean = (pick: (r: TaskReport) => number) => reports.reduce((sum, r) => sum + pick(r), 0) / reports.length;
  const combined = (pick: (r: TaskReport) => Combined, of: number): Combined => {
    const accuracy = mean((r) => pick(r).accuracy);
    return { accuracy, retention: of > 0 ? accuracy / of : 0, auc: mean((r) => pick(r).auc) };
  };
  const first = reports[0];
  const single = mean((r) => r.single);
  const allPairs = mean((r) => r.controls.allPairs.single);
  const lora = mean((r) => r.controls.lora.single);
  return {
    task: first.task,
    classes: first.classes,
    trainExamples: first.trainExamples,
    testExamples: first.testExamples,
    base: mean((r) => r.base),
    single,
    composed: combined((r) => r.composed, single),
    auc: { base: mean((r) => r.auc.base), single: mean((r) => r.auc.single), allPairs: mean((r) => r.auc.allPairs), lora: mean((r) => r.auc.lora) },
    controls: {
      allPairs: { single: allPairs, composed: combined((r) => r.controls.allPairs.composed, allPairs) },
      lora: { single: lora, cat: combined((r) => r.controls.lora.cat, lora), linear: combined((r) => r.controls.lora.linear, lora) },
    },
  };
}

/** The experiment with one seed: samples drawn, six adapters trained under `dir`, everything scored on the test samples. */
async function runSeed(runtime: Runtime, shared: Shared, options: ComposeDemoOptions, seed: number, dir: string, hooks: ComposeDemoHooks): Promise<SeedRun> {
  const log = (line: string) => hooks.log?.(line);
  const { base, tokenizer, padId, emails, sotu } = shared;
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const { trainPerClass: n, testPerClass: m, maxChars } = options;
  const spamRecords = (pool: typeof emails, count: number, s: number) => balancedSample(pool, count, s).map((e) => ({ text: emailText(e, maxChars), label: SPAM_WORDS[e.label] }));
  const eraRecords = (pool: typeof sotu, count: number, s: number) => balancedPassages(pool, count, s).map((p) => ({ text: p.text.slice(0, maxChars), label: p.label }));
  writeJsonl(join(dataDir, 'spam-train.jsonl'), spamRecords(emails.filter((e) => !isTestEmail(e)), n, seed + 11));
  writeJsonl(join(dataDir, 'spam-test.jsonl'), spamRecords(emails.filter(isTestEmail), m, seed + 23));
  writeJsonl(join(dataDir, 'era-train.jsonl'), eraRecords(sotu.filter((p) => !isTestPassage(p)), n, seed + 31));
  writeJsonl(join(dataDir, 'era-test.jsonl'), eraRecords(sotu.filter(isTestPassage), m, seed + 37));
  // classify mode with the cue as the suffix: the text is cut, the cue kept, and each row ends at the position
  // that predicts the label token
  const load = async (file: string, labelNames: string[], cue: string) =>
    (await loadDataset(join(dataDir, file), { tokenizer, maxLength: options.maxLength, labelNames, labelMode: 'classify', classifySuffix: cue })).dataset;
  const task = async (name: TaskName, description: string, classes: string[], cue: string): Promise<Task> => {
    const tokens = labelWordIds(tokenizer, classes, cue);
    return {
      name,
      description,
      model: withLabelWords(base, { id2label: classes, tokenIds: tokens }),
      classes,
      tokens,
      train: await load(`${name}-train.jsonl`, classes, cue),
      test: await load(`${name}-test.jsonl`, classes, cue),
    };
  };
  const tasks: Record<TaskName, Task> = {
    spam: await task('spam', 'SpamAssassin spam vs ham (Subject and body; "Spam: yes" or "no")', [SPAM_WORDS.ham, SPAM_WORDS.spam], SPAM_SEPARATOR),
    era: await task('era', 'State of the Union passages, early (before 1900) vs modern (from 1950) addresses', ['early', 'modern'], ERA_SEPARATOR),
  };
  log(`data: spam ${tasks.spam.train.size} train / ${tasks.spam.test.size} test e-mails; era ${tasks.era.train.size} train / ${tasks.era.test.size} test passages`);

  const modelType = base.config.modelType;
  const road = () => roadConfig({ variant: options.variant, groupSize: options.groupSize, targetModules: 'all-linear', baseModelNameOrPath: options.modelDir }, modelType);
  const lora = () => loraConfig({ r: options.loraRank, loraAlpha: 2 * options.loraRank, targetModules: 'all-linear', baseModelNameOrPath: options.modelDir }, modelType);
  const trainable: Record<string, number> = {};
  const train = async (phase: ComposePhase, name: string, config: AdapterConfig, task: Task, pairs: string | null, lr: number): Promise<AdapterEntry<AdapterConfig>> => {
    const peft = PeftModel.getPeftModel(task.model, runtime, config, name, seed);
    if (pairs !== null) restrictRoadPairs(peft, name, parsePairSelection(pairs), options.complementNoise);
    trainable[phase] = peft.trainableParameters().trainable;
    const source = task.train.batchSource({ batchSize: options.batchSize, seed, mode: 'length', padId });
    const trainer = new Trainer(
      peft,
      name,
      source,
      null,
      { ...DEFAULT_TRAIN_CONFIG, lr, maxSteps: options.steps, warmupSteps: Math.round(options.steps / 10), schedule: 'cosine', seed, outDir: join(dir, name) },
      hooks.train?.(phase, options.steps),
    );
    const report = await trainer.run();
    log(`${phase}: ${report.steps} steps in ${report.timeSeconds.toFixed(0)} s, final loss ${report.finalTrainLoss?.toFixed(3) ?? '-'}`);
    return peft.adapter(name);
  };

  // one evaluator per task, on its label-words model: class logits [B, 2] of the task's label tokens
  const evaluators = { spam: new PeftModel(tasks.spam.model, runtime), era: new PeftModel(tasks.era.model, runtime) };
  const accuracy = async (entry: AdapterEntry<AdapterConfig> | null, task: Task): Promise<{ accuracy: number; auc: number }> => {
    const evaluator = evaluators[task.name];
    const run = async (b: { inputIds: number[][]; attentionMask: number[][] }) => {
      if (entry === null) return (await task.model.run(runtime, b)).logits;
      if (!evaluator.adapterNames.includes(entry.name)) evaluator.addAdapterFromParams(entry.name, entry.config, entry.params);
      evaluator.setAdapter(entry.name);
      return (await evaluator.forward(b)).logits;
    };
    const r = await classifyByHead(run, task.test.examples, task.classes.length, { batchSize: 16, padId });
    return { accuracy: r.accuracy, auc: rocAuc(r.scores!.map((x) => x[1] - x[0]), task.test.examples.map((e) => e.classLabel!)) };
  };
  const combine = (name: string, parts: readonly AdapterEntry<AdapterConfig>[], combination?: 'cat' | 'linear') => {
    const c = composeAdapters(parts.map((entry) => ({ entry })), { combination });
    return { entry: { name, config: c.config, params: c.params } as AdapterEntry<AdapterConfig>, report: c.report };
  };

  const baseAcc = { spam: await accuracy(null, tasks.spam), era: await accuracy(null, tasks.era) };
  log(`base model: spam ${pct(baseAcc.spam.accuracy)}, era ${pct(baseAcc.era.accuracy)}`);

  const a = await train('A (spam, pairs 0/2)', 'A', road(), tasks.spam, '0/2', options.roadLr);
  const b = await train('B (era, pairs 1/2)', 'B', road(), tasks.era, '1/2', options.roadLr);
  const ab = combine('A+B', [a, b]);
  const a2 = await train('all-pairs spam', 'A_all', road(), tasks.spam, null, options.roadLr);
  const b2 = await train('all-pairs era', 'B_all', road(), tasks.era, null, options.roadLr);
  const ab2 = combine('A_all+B_all', [a2, b2]);
  const a3 = await train('LoRA spam', 'A_lora', lora(), tasks.spam, null, options.loraLr);
  const b3 = await train('LoRA era', 'B_lora', lora(), tasks.era, null, options.loraLr);
  const cat = combine('lora_cat', [a3, b3], 'cat');
  const linear = combine('lora_linear', [a3, b3], 'linear');

  const single = { spam: { sub: a, all: a2, lora: a3 }, era: { sub: b, all: b2, lora: b3 } };
  const report = async (task: Task): Promise<TaskReport> => {
    const s = single[task.name];
    const mine = { sub: await accuracy(s.sub, task), all: await accuracy(s.all, task), lora: await accuracy(s.lora, task) };
    const kept = (r: { accuracy: number; auc: number }, of: { accuracy: number }): Combined => ({ ...r, retention: of.accuracy > 0 ? r.accuracy / of.accuracy : 0 });
    const r: TaskReport = {
      task: task.description,
      classes: task.classes,
      trainExamples: task.train.size,
      testExamples: task.test.size,
      base: baseAcc[task.name].accuracy,
      single: mine.sub.accuracy,
      composed: kept(await accuracy(ab.entry, task), mine.sub),
      auc: { base: baseAcc[task.name].auc, single: mine.sub.auc, allPairs: mine.all.auc, lora: mine.lora.auc },
      controls: {
        allPairs: { single: mine.all.accuracy, composed: kept(await accuracy(ab2.entry, task), mine.all) },
        lora: { single: mine.lora.accuracy, cat: kept(await accuracy(cat.entry, task), mine.lora), linear: kept(await accuracy(linear.entry, task), mine.lora) },
      },
    };
    log(
      `${task.name}: single ${pct(r.single)}, composed ${pct(r.composed.accuracy)} (keeps ${pct(r.composed.retention)}; AUC ${r.auc.single.toFixed(3)} -> ${r.composed.auc.toFixed(3)}); ` +
        `all-pairs ${pct(r.controls.allPairs.single)} -> product ${pct(r.controls.allPairs.composed.accuracy)}; LoRA ${pct(r.controls.lora.single)} -> cat ${pct(r.controls.lora.cat.accuracy)}, linear ${pct(r.controls.lora.linear.accuracy)}`,
    );
    return r;
  };
  const spamReport = await report(tasks.spam);
  const eraReport = await report(tasks.era);

  return {
    tasks: { spam: spamReport, era: eraReport },
    a,
    spam: tasks.spam,
    composition: { disjoint: ab.report.disjoint ?? false, variant: ab.report.variant ?? '', note: ab.report.note },
    trainable: { subspace: trainable['A (spam, pairs 0/2)'], allPairs: trainable['all-pairs spam'], lora: trainable['LoRA spam'] },
  };
}
