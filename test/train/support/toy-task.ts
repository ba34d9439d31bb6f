// A toy causal-LM task for trainer tests: rows count upward modulo a small range, so the next token is always
// predictable; a RoAd adapter on tiny-llama learns it quickly.

import type { BatchSource, TrainBatch } from '../../../src/train/batch.ts';

function row(start: number, length: number): number[] {
  return Array.from({ length }, (_, i) => 10 + ((start + i) % 12));
}

export function toyBatches(batches: number, batchSize: number, length: number): BatchSource {
  const make = (epoch: number): TrainBatch[] =>
    Array.from({ length: batches }, (_, b) => {
      const inputIds = Array.from({ length: batchSize }, (_, r) => row((epoch * 7 + b * batchSize + r) % 12, length));
      return {
        inputIds,
        attentionMask: inputIds.map((r) => r.map(() => 1)),
        labels: inputIds.map((r) => [...r]),
        tokens: batchSize * length,
        lossTokens: batchSize * (length - 1),
      };
    });
  return { size: batches * batchSize, batchesForEpoch: make };
}
