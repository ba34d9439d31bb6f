// Fine-tuning in a tab: a RoAd adapter on a TokenizedDataset, one optimizer step at a time (the page keeps
// the UI alive between steps and can stop after any), through the same step function as Node's Trainer
// (train/step.ts), the same batches (TokenizedDataset.batchSource as `roadster train` builds it) and the same
// AdamW. A checkpoint is a plain object of typed arrays (the page stores it in IndexedDB); restoring one
// continues the run bit for bit.

import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterFolderFiles } from '../adapters/peft-files.ts';
import { PeftModel } from '../adapters/peft-model.ts';
import { roadConfig } from '../adapters/road/config.ts';
import type { RoadVariant } from '../adapters/road/math.ts';
import { RoadsterError } from '../errors.ts';
import type { Tokenizer } from '../io/tokenizer/tokenizer.ts';
import type { CausalLM } from '../models/causal-lm.ts';
import type { BaseRuntime } from '../runtime/base-runtime.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { BatchSource } from '../train/batch.ts';
import { DEFAULT_TRAIN_CONFIG } from '../train/config.ts';
import type { TokenizedDataset } from '../train/data/dataset.ts';
import { defaultPadId } from '../train/data/tokenize.ts';
import { AdamW, type ParamArray } from '../train/optimizer.ts';
import type { ScheduleKind } from '../train/schedule.ts';
import { type StepConfig, optimizerStep } from '../train/step.ts';

/** The settings the page offers (RoAd and the optimizer). */
export interface StudioSettings {
  readonly variant: RoadVariant;
  readonly groupSize: number;
  /** "all-linear" or module names. */
  readonly targetModules: string | readonly string[];
  readonly lr: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly maxLength: number;
  readonly seed: number;
  readonly schedule: ScheduleKind;
  readonly warmupSteps: number;
}

export const DEFAULT_STUDIO_SETTINGS: StudioSettings = {
  variant: 'road_1',
  groupSize: 16,
  targetModules: 'all-linear',
  lr: 5e-2,
  steps: 50,
  batchSize: 4,
  maxLength: 128,
  seed: 0,
  schedule: 'constant',
  warmupSteps: 0,
};

/** The name of the adapter the studio trains. */
export const STUDIO_ADAPTER = 'default';

/** One optimizer step as the page shows it. */
export interface StudioStep {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  /** Real tokens in this step, and this step's tokens per second. */
  readonly tokens: number;
  readonly tokensPerSecond: number;
  readonly skipped: boolean;
}

/** Everything a run needs to continue: stored by the page, structured-cloneable. */
export interface StudioCheckpoint {
  readonly version: 1;
  /** Model, data and settings: a checkpoint only resumes the run it came from. */
  readonly fingerprint: string;
  readonly settings: StudioSettings;
  readonly step: number;
  readonly epoch: number;
  readonly batchIndex: number;
  readonly history: readonly StudioStep[];
  /** Adapter parameters by PEFT name; optimizer moments by the same names. */
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly moments: Readonly<Record<string, { m: Float64Array; v: Float64Array }>>;
}

/** The TrainConfig fields a studio run uses (the rest are Node Trainer's defaults). */
export function studioStepConfig(settings: StudioSettings): StepConfig & { maxSteps: number } {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    lr: settings.lr,
    schedule: settings.schedule,
    warmupSteps: settings.warmupSteps,
    seed: settings.seed,
    maxSteps: settings.steps,
  };
}

/** The trainer's batch source of a studio run, as `roadster train` builds it (length-grouped, seeded). */
export function studioBatches(dataset: TokenizedDataset, tokenizer: Tokenizer, settings: StudioSettings): BatchSource {
  return dataset.batchSource({ batchSize: settings.batchSize, seed: settings.seed, mode: 'length', maxLength: settings.maxLength, padId: defaultPadId(tokenizer) });
}

/** A training run in progress. */
export class TrainSession {
  readonly peft: PeftModel;
  private readonly optimizer: AdamW;
  private readonly params: Map<string, ParamArray>;
  private readonly batches: BatchSource;
  private readonly config: ReturnType<typeof studioStepConfig>;
  private position = { step: 0, epoch: 0, batchIndex: 0 };
  private readonly steps: StudioStep[] = [];

  constructor(
    readonly model: CausalLM,
    readonly runtime: BaseRuntime,
    readonly tokenizer: Tokenizer,
    dataset: TokenizedDataset,
    readonly settings: StudioSettings,
    /** Identifies the model and data (the page hashes the files); part of the checkpoint's fingerprint. */
    readonly dataId: string,
  ) {
    if (!Number.isInteger(settings.steps) || settings.steps < 1) throw new RoadsterError('E_USAGE', `steps must be a positive integer, got ${settings.steps}`);
    const config = roadConfig({ variant: settings.variant, groupSize: settings.groupSize, targetModules: settings.targetModules }, model.config.modelType);
    this.peft = PeftModel.getPeftModel(model, runtime as Runtime, config, STUDIO_ADAPTER, settings.seed);
    this.config = studioStepConfig(settings);
    this.optimizer = new AdamW({ lr: this.config.lr, betas: DEFAULT_TRAIN_CONFIG.betas, eps: DEFAULT_TRAIN_CONFIG.eps, weightDecay: DEFAULT_TRAIN_CONFIG.weightDecay });
    this.params = this.peft.namedParameters(STUDIO_ADAPTER);
    this.batches = studioBatches(dataset, tokenizer, settings);
  }

  get fingerprint(): string {
    return JSON.stringify({ data: this.dataId, model: this.model.source, settings: this.settings });
  }

  /** Optimizer steps done. */
  get step(): number {
    return this.position.step;
  }

  get done(): boolean {
    return this.position.step >= this.settings.steps;
  }

  get history(): readonly StudioStep[] {
    return this.steps;
  }

  /** Runs the next optimizer step. */
  async next(): Promise<StudioStep> {
    if (this.done) throw new RoadsterError('E_USAGE', `the run has finished its ${this.settings.steps} steps`);
    let { epoch, batchIndex } = this.position;
    let list = this.batches.batchesForEpoch(epoch);
    if (batchIndex >= list.length) {
      epoch++;
      batchIndex = 0;
      list = this.batches.batchesForEpoch(epoch);
    }
    const group = list.slice(batchIndex, batchIndex + 1);
    const started = performance.now();
    const out = await optimizerStep(this.peft, this.optimizer, this.params, group, this.config, this.position.step, this.settings.steps, STUDIO_ADAPTER);
    const seconds = (performance.now() - started) / 1000;
    this.position = { step: this.position.step + 1, epoch, batchIndex: batchIndex + group.length };
    const record: StudioStep = {
      step: this.position.step,
      loss: out.loss,
      lr: out.lr,
      gradNorm: out.gradNorm,
      tokens: out.tokens,
      tokensPerSecond: out.tokens / Math.max(seconds, 1e-9),
      skipped: !out.finite,
    };
    this.steps.push(record);
    return record;
  }

  /** The run's state now, with copies of the parameters and moments. */
  checkpoint(): StudioCheckpoint {
    const params: Record<string, Float32Array> = {};
    for (const [name, p] of this.params) params[name] = Float32Array.from(p);
    const moments: Record<string, { m: Float64Array; v: Float64Array }> = {};
    for (const [name, { m, v }] of this.optimizer.state.moments) moments[name] = { m: m.slice(), v: v.slice() };
    return { version: 1, fingerprint: this.fingerprint, settings: this.settings, ...this.position, history: [...this.steps], params, moments };
  }

  /** Continues from a checkpoint of this run (E_CHECKPOINT when it is another run's). */
  restore(ckpt: StudioCheckpoint): void {
    if (ckpt.version !== 1 || ckpt.fingerprint !== this.fingerprint) {
      throw new RoadsterError('E_CHECKPOINT', 'the stored checkpoint belongs to another model, data file or settings; start a new run or pick the same files and settings');
    }
    for (const [name, p] of this.params) {
      const saved = ckpt.params[name];
      if (saved === undefined || saved.length !== p.length) throw new RoadsterError('E_CHECKPOINT', `the stored checkpoint has no parameter ${name} of ${p.length} values`);
      p.set(saved);
    }
    this.optimizer.state.step = ckpt.step;
    this.optimizer.state.moments.clear();
    for (const [name, { m, v }] of Object.entries(ckpt.moments)) this.optimizer.state.moments.set(name, { m: m.slice(), v: v.slice() });
    this.position = { step: ckpt.step, epoch: ckpt.epoch, batchIndex: ckpt.batchIndex };
    this.steps.splice(0, this.steps.length, ...ckpt.history);
  }

  /** The adapter as PEFT folder files (adapter_config.json, adapter_model.safetensors), as Node's saveAdapter writes them. */
  adapterFiles(): Record<string, Uint8Array> {
    const entry = this.peft.adapter(STUDIO_ADAPTER);
    const sites = new Map(this.model.linearSites().map((s) => [s.path, s]));
    const files = adapterFolderFiles(entry.config, entry.params, (p) => sites.get(p)!);
    return { [ADAPTER_CONFIG_FILE]: files[ADAPTER_CONFIG_FILE], [ADAPTER_WEIGHTS_FILE]: files[ADAPTER_WEIGHTS_FILE] };
  }
}
