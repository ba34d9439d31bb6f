// Scoring a test set with a sequence classifier: right-padded batches of the examples go through any runner
// that returns class logits [B, K] (an adapted model, a merged model), and the arg-max class is compared with
// each example's label. The same confusion-matrix result as likelihood classification, so every row of the
// demo's table is computed alike.

import { argmaxRows } from '../models/sequence-classification.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { ClassifyResult } from '../train/classify.ts';
import type { TokenizedExample } from '../train/data/index.ts';

/** Class logits [B, K] of a right-padded batch. */
export type ClassLogitsRunner = (batch: { inputIds: number[][]; attentionMask: number[][] }) => Promise<HostTensor>;

/** Right-pads the examples' tokens into one batch with its attention mask. */
export function padBatch(examples: readonly TokenizedExample[], pad: number): { inputIds: number[][]; attentionMask: number[][] } {
  const t = Math.max(...examples.map((e) => e.inputIds.length));
  return {
    inputIds: examples.map((e) => [...e.inputIds, ...new Array<number>(t - e.inputIds.length).fill(pad)]),
    attentionMask: examples.map((e) => [...e.inputIds.map(() => 1), ...new Array<number>(t - e.inputIds.length).fill(0)]),
  };
}

/** Accuracy and confusion of `predictions` against the examples' class labels (K classes). */
export function scorePredictions(predictions: number[], examples: readonly TokenizedExample[], k: number): ClassifyResult {
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  examples.forEach((e, i) => {
    if (e.classLabel !== undefined) confusion[e.classLabel][predictions[i]]++;
  });
  const correct = examples.filter((e, i) => e.classLabel === predictions[i]).length;
  return { predictions, accuracy: correct / Math.max(1, examples.length), confusion };
}

/** Classifies `examples` (which carry `classLabel`) by the arg-max of the runner's class logits; `scores` are those logits. */
export async function classifyByHead(
  run: ClassLogitsRunner,
  examples: readonly TokenizedExample[],
  k: number,
  options: { batchSize?: number; padId?: number; onProgress?: (done: number) => void } = {},
): Promise<ClassifyResult> {
  const batchSize = options.batchSize ?? 16;
  const pad = options.padId ?? 0;
  const predictions: number[] = [];
  const scores: number[][] = [];
  for (let start = 0; start < examples.length; start += batchSize) {
    const logits = await run(padBatch(examples.slice(start, start + batchSize), pad)); // [B, K]
    predictions.push(...argmaxRows(logits));
    const [rows, classes] = logits.shape;
    for (let i = 0; i < rows; i++) scores.push(Array.from((logits.data as Float32Array).subarray(i * classes, (i + 1) * classes)));
    options.onProgress?.(Math.min(examples.length, start + batchSize));
  }
  return { ...scorePredictions(predictions, examples, k), scores };
}
