// The training loop: one ONNX Runtime run per micro-batch gives the loss and the adapter gradients; AdamW
// (in TypeScript: adapter parameters are tiny) updates the parameters in place. Gradient accumulation is
// token-weighted (example-weighted for a sequence classifier, whose loss is a mean over rows), clipping global;
// non-finite steps are skipped and counted. A classifier's head (modules_to_save) trains with the adapter.
// Checkpoints (adapter with its head, optimizer moments, trainer state with the data position) make `resume`
// continue bit for bit.

import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../errors.ts';
import { INT8_SCHEME_VERSION } from '../graph/quantize.ts';
import { writeFileAtomically } from '../io/safetensors/index.ts';
import type { PeftModel } from '../adapters/peft-model.ts';
import { type CheckpointPayload, cleanPartialCheckpoints, loadLatestCheckpoint, pruneCheckpoints, saveCheckpoint } from './checkpoint.ts';
import { evaluate, type EvalResult } from './evaluate.ts';
import { lossCurveSvg } from './loss-curve.ts';
import { AdamW, type ParamArray } from './optimizer.ts';
import { optimizerStep } from './step.ts';
import { DEFAULT_TRAIN_CONFIG, type RunInput, type TrainConfig } from './config.ts';
import type { TrainBatch, BatchSource } from './batch.ts';

export { DEFAULT_TRAIN_CONFIG, type RunInput, type TrainConfig };

/** One optimizer step as reported to callbacks and metrics.jsonl. */
export interface StepRecord {
  readonly type: 'step';
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly gradNorm: number;
  readonly lr: number;
  readonly tokens: number;
  readonly tokensPerSecond: number;
  readonly elapsedSeconds: number;
  readonly skipped: boolean;
}

export interface EvalRecord extends EvalResult {
  readonly type: 'eval';
  readonly step: number;
}

export interface TrainHooks {
  onStep?(record: StepRecord, totalSteps: number): void;
  onEval?(record: EvalRecord): void;
  onCheckpoint?(dir: string, step: number): void;
  /** Something the caller should hear about that does not stop the run (a corrupt checkpoint passed over). */
  onWarning?(message: string): void;
}

export interface TrainReport {
  readonly adapter: string;
  /** PEFT's task type: "CAUSAL_LM", or "SEQ_CLS" for a sequence classifier (evalAccuracy is then arg-max accuracy). */
  readonly task: 'CAUSAL_LM' | 'SEQ_CLS';
  readonly trainableParameters: number;
  readonly totalParameters: number;
  readonly trainablePercent: number;
  /** Frozen matmul weights: "none" (float32) or "int8" (the runtime's quantizeWeights). */
  readonly quantize: string;
  readonly steps: number;
  readonly tokens: number;
  readonly timeSeconds: number;
  readonly tokensPerSecond: number;
  readonly finalTrainLoss: number | null;
  readonly finalEvalLoss: number | null;
  readonly evalAccuracy: number | null;
  readonly nonFiniteSkipped: number;
  readonly resumedFrom: number | null;
  readonly outDir: string;
}

/** What a checkpoint stores besides adapter and optimizer tensors. */
interface TrainerState {
  readonly version: 1;
  readonly fingerprint: string;
  readonly step: number;
  /** The next micro-batch to run: epoch and index in that epoch's batch list. */
  readonly epoch: number;
  readonly batchIndex: number;
  readonly tokens: number;
  readonly elapsedSeconds: number;
  readonly nonFiniteSkipped: number;
  readonly nonFiniteInARow: number;
  readonly lastLoss: number | null;
}

export const METRICS_FILE = 'metrics.jsonl';
export const CURVE_FILE = 'loss-curve.svg';
export const REPORT_FILE = 'report.json';

/** Settings that must match for `resume` to continue a run (int8 weights change the numbers, so they count). */
function fingerprint(config: TrainConfig, adapter: string, train: BatchSource, head: Record<string, unknown>, quantize: string, trains: string | null): string {
  const { outDir: _o, evalEvery: _e, saveEvery: _s, keepCheckpoints: _k, maxNonFiniteInARow: _m, recompute: _r, inputs, ...rest } = config;
  const int8 = quantize === 'none' ? {} : { quantize, quantizeScheme: INT8_SCHEME_VERSION };
  const hashes = inputs === undefined ? {} : { inputs: Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.sha256])) };
  const restricted = trains === null ? {} : { trains };
  const base = { ...rest, adapter, examples: train.size, batches: train.batchesForEpoch(0).length, ...int8, ...hashes, ...restricted };
  return JSON.stringify({ ...base, ...head });
}

/** What differs between a checkpoint's fingerprint and this run's, one phrase per setting or input. */
function fingerprintChanges(saved: string, now: string, inputs: TrainConfig['inputs']): string[] {
  const parse = (s: string): Record<string, unknown> => {
    try {
      return JSON.parse(s) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  const [then, current] = [parse(saved), parse(now)];
  const changes: string[] = [];
  const thenInputs = (then.inputs ?? {}) as Record<string, string>;
  const nowInputs = (current.inputs ?? {}) as Record<string, string>;
  for (const name of new Set([...Object.keys(thenInputs), ...Object.keys(nowInputs)])) {
    if (thenInputs[name] === nowInputs[name]) continue;
    const file = inputs?.[name]?.file;
    const short = (h: string | undefined) => (h === undefined ? 'none' : h.slice(0, 12));
    changes.push(`the ${name}${file === undefined ? '' : ` (${file})`} changed since the checkpoint (sha256 ${short(thenInputs[name])} then, ${short(nowInputs[name])} now)`);
  }
  for (const key of new Set([...Object.keys(then), ...Object.keys(current)])) {
    if (key === 'inputs' || JSON.stringify(then[key]) === JSON.stringify(current[key])) continue;
    changes.push(`${key} was ${JSON.stringify(then[key]) ?? 'not set'}, now ${JSON.stringify(current[key]) ?? 'not set'}`);
  }
  return changes;
}

export class Trainer {
  private readonly optimizer: AdamW;
  private readonly params: Map<string, ParamArray>;
  private state: TrainerState;
  private readonly trainCurve: { step: number; loss: number }[] = [];
  private readonly evalCurve: { step: number; loss: number }[] = [];
  private resumedFrom: number | null = null;
  private lastEval: EvalResult | null = null;

  constructor(
    readonly peft: PeftModel,
    readonly adapterName: string,
    readonly train: BatchSource,
    readonly evalSet: BatchSource | null,
    readonly config: TrainConfig,
    readonly hooks: TrainHooks = {},
  ) {
    if (train.size === 0) throw new RoadsterError('E_USAGE', 'the training set is empty');
    if (config.gradAccum < 1 || !Number.isInteger(config.gradAccum)) throw new RoadsterError('E_USAGE', `gradAccum must be a positive integer, got ${config.gradAccum}`);
    peft.setAdapter(adapterName);
    this.optimizer = new AdamW({ lr: config.lr, betas: config.betas, eps: config.eps, weightDecay: config.weightDecay });
    this.params = peft.namedParameters(adapterName);
    this.state = {
      version: 1,
      fingerprint: fingerprint(config, adapterName, train, peft.base.head.runIdentity(), peft.runtime.options.quantizeWeights, peft.trainableMask(adapterName)?.label ?? null),
      step: 0,
      epoch: 0,
      batchIndex: 0,
      tokens: 0,
      elapsedSeconds: 0,
      nonFiniteSkipped: 0,
      nonFiniteInARow: 0,
      lastLoss: null,
    };
  }

  /** Optimizer steps the run will make. */
  get totalSteps(): number {
    if (this.config.maxSteps !== null) return this.config.maxSteps;
    return Math.ceil(this.train.batchesForEpoch(0).length / this.config.gradAccum) * this.config.epochs;
  }

  /**
   * Continues from the newest valid checkpoint in the output folder (returns false when there is none).
   * The adapter must fit the model and the settings must match the checkpointed run.
   */
  resume(): boolean {
    cleanPartialCheckpoints(this.config.outDir);
    const ckpt = loadLatestCheckpoint<TrainerState>(this.config.outDir);
    if (!ckpt) return false;
    for (const { dir, reason } of ckpt.skipped) this.hooks.onWarning?.(`skipped checkpoint ${dir}: ${reason}; continuing from ${ckpt.dir}.`);
    if (ckpt.state.fingerprint !== this.state.fingerprint) {
      const changes = fingerprintChanges(ckpt.state.fingerprint, this.state.fingerprint, this.config.inputs);
      throw new RoadsterError(
        'E_CHECKPOINT',
        `${ckpt.dir} was made with other settings or data: ${changes.join('; ')}. Resume with the same settings and data, or use another --out ` +
          `(checkpoint: ${ckpt.state.fingerprint}; this run: ${this.state.fingerprint})`,
      );
    }
    // Load the adapter through the PEFT loader: it checks the fit with this model.
    const probe = `${this.adapterName}.resume`;
    this.peft.loadAdapter(ckpt.adapterDir, probe);
    const saved = this.peft.parameters(probe);
    for (const [path, site] of this.peft.parameters(this.adapterName)) {
      for (const [p, data] of Object.entries(site)) data.set(saved.get(path)![p]);
    }
    const savedModules = this.peft.modules(probe);
    for (const [weight, data] of this.peft.modules(this.adapterName)) {
      const from = savedModules.get(weight);
      if (!from) throw new RoadsterError('E_CHECKPOINT', `${ckpt.adapterDir} has no ${weight} (the classification head) but this run trains one`);
      data.set(from);
    }
    this.peft.deleteAdapter(probe);
    this.peft.setAdapter(this.adapterName);
    this.optimizer.state.step = ckpt.state.step;
    this.optimizer.state.moments.clear();
    for (const name of this.params.keys()) {
      const m = ckpt.tensors.get(`m.${name}`);
      const v = ckpt.tensors.get(`v.${name}`);
      if (m && v) this.optimizer.state.moments.set(name, { m, v });
    }
    this.state = ckpt.state;
    this.resumedFrom = ckpt.step;
    this.truncateMetrics(ckpt.step);
    return true;
  }

  /** Runs to the end; returns the final report (also written to report.json). */
  async run(): Promise<TrainReport> {
    const { config } = this;
    mkdirSync(config.outDir, { recursive: true });
    const total = this.totalSteps;
    const started = performance.now() - this.state.elapsedSeconds * 1000;
    let { epoch, batchIndex } = this.state;
    let batches = this.train.batchesForEpoch(epoch);
    while (this.state.step < total) {
      if (batchIndex >= batches.length) {
        epoch++;
        batchIndex = 0;
        batches = this.train.batchesForEpoch(epoch);
      }
      const group = batches.slice(batchIndex, batchIndex + config.gradAccum);
      batchIndex += group.length;
      const record = await this.optimizerStep(group, epoch, started);
      this.state = { ...this.state, epoch, batchIndex, elapsedSeconds: (performance.now() - started) / 1000 };
      this.log(record);
      this.hooks.onStep?.(record, total);
      if (this.state.nonFiniteInARow >= config.maxNonFiniteInARow) {
        throw new RoadsterError(
          'E_TRAIN',
          `${this.state.nonFiniteInARow} steps in a row had a non-finite loss or gradient (step ${this.state.step}); stopping. ` +
            (this.state.step > 0 && this.config.saveEvery !== null ? 'The last good checkpoint is kept; ' : '') +
            'lower the learning rate or check the data.',
        );
      }
      const last = this.state.step >= total;
      if (config.evalEvery !== null && this.state.step % config.evalEvery === 0 && !last) await this.runEval();
      if (config.saveEvery !== null && this.state.step % config.saveEvery === 0 && !last) this.checkpoint();
    }
    if (this.evalSet) await this.runEval();
    this.checkpoint();
    return this.finish((performance.now() - started) / 1000);
  }

  private async optimizerStep(group: readonly TrainBatch[], epoch: number, started: number): Promise<StepRecord> {
    const { loss, gradNorm: norm, lr, tokens, finite } = await optimizerStep(this.peft, this.optimizer, this.params, group, this.config, this.state.step, this.totalSteps, this.adapterName);
    this.state = {
      ...this.state,
      step: this.state.step + 1,
      tokens: this.state.tokens + tokens,
      nonFiniteSkipped: this.state.nonFiniteSkipped + (finite ? 0 : 1),
      nonFiniteInARow: finite ? 0 : this.state.nonFiniteInARow + 1,
      lastLoss: finite ? loss : this.state.lastLoss,
    };
    const elapsed = (performance.now() - started) / 1000;
    return {
      type: 'step',
      step: this.state.step,
      epoch,
      loss,
      gradNorm: norm,
      lr,
      tokens: this.state.tokens,
      tokensPerSecond: this.state.tokens / Math.max(elapsed, 1e-9),
      elapsedSeconds: elapsed,
      skipped: !finite,
    };
  }

  private async runEval(): Promise<void> {
    if (!this.evalSet) return;
    const result = await evaluate(this.peft, this.evalSet.batchesForEpoch(0));
    this.lastEval = result;
    const record: EvalRecord = { type: 'eval', step: this.state.step, ...result };
    this.log(record);
    this.hooks.onEval?.(record);
  }

  private checkpoint(): void {
    const tensors = new Map<string, Float64Array>();
    for (const [name, { m, v }] of this.optimizer.state.moments) {
      tensors.set(`m.${name}`, m);
      tensors.set(`v.${name}`, v);
    }
    const payload: CheckpointPayload<TrainerState> = { state: this.state, tensors };
    const dir = saveCheckpoint(this.config.outDir, this.state.step, payload, (d) => this.peft.saveAdapter(d, this.adapterName));
    pruneCheckpoints(this.config.outDir, this.config.keepCheckpoints);
    this.hooks.onCheckpoint?.(dir, this.state.step);
  }

  private log(record: StepRecord | EvalRecord): void {
    if (record.type === 'step' && !record.skipped) this.trainCurve.push({ step: record.step, loss: record.loss });
    if (record.type === 'eval') this.evalCurve.push({ step: record.step, loss: record.loss });
    appendFileSync(join(this.config.outDir, METRICS_FILE), `${JSON.stringify(record)}\n`);
  }

  /** After a resume: drop metric lines past the checkpoint (they will be logged again) and reload the curves. */
  private truncateMetrics(step: number): void {
    const file = join(this.config.outDir, METRICS_FILE);
    if (!existsSync(file)) return;
    const kept = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter((l) => {
        try {
          return (JSON.parse(l) as { step: number }).step <= step;
        } catch {
          return false; // a line cut by the crash
        }
      });
    writeFileAtomically(file, [new TextEncoder().encode(kept.map((l) => `${l}\n`).join(''))]);
    for (const l of kept) {
      const r = JSON.parse(l) as StepRecord | EvalRecord;
      if (r.type === 'step' && !r.skipped) this.trainCurve.push({ step: r.step, loss: r.loss });
      if (r.type === 'eval') this.evalCurve.push({ step: r.step, loss: r.loss });
    }
  }

  private finish(seconds: number): TrainReport {
    const out = this.config.outDir;
    this.peft.saveAdapter(out, this.adapterName);
    const { trainable, total, percent } = this.peft.trainableParameters();
    const report: TrainReport = {
      adapter: this.adapterName,
      task: this.peft.base.head.taskType,
      trainableParameters: trainable,
      totalParameters: total,
      trainablePercent: percent,
      quantize: this.peft.runtime.options.quantizeWeights,
      steps: this.state.step,
      tokens: this.state.tokens,
      timeSeconds: seconds,
      tokensPerSecond: this.state.tokens / Math.max(seconds, 1e-9),
      finalTrainLoss: this.state.lastLoss,
      finalEvalLoss: this.lastEval?.loss ?? null,
      evalAccuracy: this.lastEval?.accuracy ?? null,
      nonFiniteSkipped: this.state.nonFiniteSkipped,
      resumedFrom: this.resumedFrom,
      outDir: out,
    };
    writeFileSync(join(out, CURVE_FILE), lossCurveSvg(this.trainCurve, this.evalCurve, `${this.adapterName}: ${report.steps} steps`));
    writeFileAtomically(join(out, REPORT_FILE), [new TextEncoder().encode(JSON.stringify(report, null, 2) + '\n')]);
    return report;
  }
}
