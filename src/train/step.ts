// One optimizer step, apart from the trainer's files: a group of micro-batches (gradient accumulation,
// token-weighted; example-weighted for a sequence classifier), the global norm, clipping, the schedule's
// learning rate and AdamW. `Trainer` (Node, checkpoints on disk) and the browser's training session run the
// same function, so both give the same losses for the same batches.

import type { PeftModel } from '../adapters/peft-model.ts';
import { mixSeed } from '../seeded-random.ts';
import type { TrainBatch } from './batch.ts';
import type { TrainConfig } from './config.ts';
import { type AdamW, clipCoefficient, globalNorm, type ParamArray } from './optimizer.ts';
import { lrFactor } from './schedule.ts';

/** Tells the frozen-entry noise's seeds apart from the dropout masks' of the same micro-batch. */
const FROZEN_NOISE_STREAM = 1;

/** What one optimizer step gives. */
export interface StepOutcome {
  /** The group's loss (weighted mean of the micro-batches'). */
  readonly loss: number;
  readonly gradNorm: number;
  readonly lr: number;
  /** Real tokens in the group. */
  readonly tokens: number;
  /** Whether loss and gradients were finite (otherwise the parameters were left as they were). */
  readonly finite: boolean;
}

/** The settings a step reads. */
export type StepConfig = Pick<TrainConfig, 'lr' | 'schedule' | 'warmupSteps' | 'maxGradNorm' | 'recompute' | 'seed'>;

/** Loss terms of a micro-batch: label tokens, or rows for a sequence classifier (its loss is a mean over rows). */
export function lossTerms(peft: PeftModel, batch: TrainBatch): number {
  return peft.base.head.lossTerms(batch);
}

/**
 * Runs optimizer step `step` (0-based) of `totalSteps` on `group`: one ONNX Runtime run per micro-batch, then
 * AdamW on `params` (updated in place) when everything is finite.
 */
export async function optimizerStep(
  peft: PeftModel,
  optimizer: AdamW,
  params: ReadonlyMap<string, ParamArray>,
  group: readonly TrainBatch[],
  config: StepConfig,
  step: number,
  totalSteps: number,
  /** The adapter being trained: its trainable-entry masks (subspace training) freeze the rest in AdamW. */
  adapterName: string,
): Promise<StepOutcome> {
  const terms = group.reduce((a, b) => a + lossTerms(peft, b), 0);
  const sums = new Map<string, Float64Array>();
  let loss = 0;
  let tokens = 0;
  for (const [micro, batch] of group.entries()) {
    const weight = lossTerms(peft, batch) / Math.max(1, terms);
    // LoRA dropout masks and frozen-entry noise: functions of (seed, step, micro-batch), so a resumed run draws the same
    const dropoutSeed = mixSeed(config.seed, step, micro);
    const noiseSeed = mixSeed(config.seed, step, micro, FROZEN_NOISE_STREAM);
    const out = await peft.lossAndGrads(batch, { recompute: config.recompute, dropoutSeed, noiseSeed });
    loss += out.loss * weight;
    tokens += batch.tokens;
    for (const [name, g] of out.grads) {
      let acc = sums.get(name);
      if (!acc) sums.set(name, (acc = new Float64Array(g.length)));
      for (let i = 0; i < g.length; i++) acc[i] += g[i] * weight;
    }
  }
  const norm = globalNorm(sums.values());
  const finite = Number.isFinite(loss) && Number.isFinite(norm);
  const lr = config.lr * lrFactor({ kind: config.schedule, warmupSteps: config.warmupSteps, totalSteps }, step);
  if (finite) {
    const scale = config.maxGradNorm === null ? 1 : clipCoefficient(norm, config.maxGradNorm);
    optimizer.step(params as Map<string, ParamArray>, sums, lr, scale, peft.trainableMask(adapterName)?.masks);
  }
  return { loss, gradNorm: norm, lr, tokens, finite };
}
