// Deterministic causal-LM batches of tiny-llama token ids, for tests that train a few steps.

import type { BatchSource, TrainBatch } from '../../src/train/batch.ts';

/** Two rows of six token ids, a function of `seed`; every token is a label. */
export function toyBatch(seed: number): TrainBatch {
  const ids = Array.from({ length: 2 }, (_, r) => Array.from({ length: 6 }, (_, t) => (seed * 31 + r * 7 + t * 13) % 256));
  return { inputIds: ids, attentionMask: ids.map((row) => row.map(() => 1)), labels: ids, tokens: 12, lossTokens: 10 };
}

/** Four examples in two batches per epoch, other batches each epoch. */
export const toySource: BatchSource = { size: 4, batchesForEpoch: (e) => [toyBatch(e * 2), toyBatch(e * 2 + 1)] };
