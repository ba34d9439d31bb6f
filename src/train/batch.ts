// What the trainer consumes: padded (or packed) micro-batches, and a deterministic source of them per epoch
// (resume restarts at an epoch and batch index, so the list for an epoch must never change).

import type { PeftBatch } from '../adapters/peft-model.ts';

export interface TrainBatch extends PeftBatch {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly labels: number[][];
  readonly segmentIds?: number[][];
  /** Classification: the class index of each row (accuracy is computed from the label tokens). */
  readonly classLabels?: number[];
  /** Real (non-padding) tokens. */
  readonly tokens: number;
  /** Positions that carry a loss term (labels[t + 1] != -100). */
  readonly lossTokens: number;
}

export interface BatchSource {
  /** Examples in the set. */
  readonly size: number;
  /** The micro-batches of an epoch, identical on every call for the same epoch. */
  batchesForEpoch(epoch: number): readonly TrainBatch[];
}
