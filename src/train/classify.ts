// Classification by likelihood: each example's prompt is scored with every class's completion (the label
// words the adapter was trained to generate) and the class with the highest total log-probability wins. Works
// with any runner that returns logits, so adapted, merged and base models are compared the same way.

import { RoadsterError } from '../errors.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { TokenizedExample } from './data/tokenize.ts';

/** Logits [B, T, V] of a right-padded batch. */
export type LogitsRunner = (batch: { inputIds: number[][]; attentionMask: number[][] }) => Promise<HostTensor>;

export interface ClassifyResult {
  /** Predicted class per example. */
  readonly predictions: number[];
  /** Share of examples whose prediction is their `classLabel`. */
  readonly accuracy: number;
  /** confusion[actual][predicted] counts. */
  readonly confusion: number[][];
  /** Per example, each class's score: its total log-probability (likelihood), or its logit (a head's). */
  readonly scores?: number[][];
}

/** The prompt of a generate-mode example: its tokens before the first labelled position's completion. */
export function promptOf(example: TokenizedExample): number[] {
  // labels[t] is the target at t; the completion starts at the first t whose label is set.
  const first = example.labels.findIndex((l) => l !== -100);
  if (first <= 0) throw new RoadsterError('E_DATA', 'classification example has no prompt before its label');
  return example.inputIds.slice(0, first);
}

function logSoftmaxAt(data: Float32Array, offset: number, v: number, target: number): number {
  let max = -Infinity;
  for (let k = 0; k < v; k++) if (data[offset + k] > max) max = data[offset + k];
  let sum = 0;
  for (let k = 0; k < v; k++) sum += Math.exp(data[offset + k] - max);
  return data[offset + target] - max - Math.log(sum);
}

/** Classifies `examples` (which carry `classLabel`) by the likelihood of each class completion. */
export async function classifyByLikelihood(
  run: LogitsRunner,
  examples: readonly TokenizedExample[],
  completions: readonly (readonly number[])[],
  options: { batchSize?: number; padId?: number; onProgress?: (done: number) => void } = {},
): Promise<ClassifyResult> {
  const batchSize = options.batchSize ?? 8;
  const pad = options.padId ?? 0;
  const k = completions.length;
  const predictions: number[] = [];
  const scores: number[][] = [];
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let start = 0; start < examples.length; start += batchSize) {
    const chunk = examples.slice(start, start + batchSize);
    const rows = chunk.flatMap((e) => {
      const prompt = promptOf(e);
      return completions.map((c) => ({ ids: [...prompt, ...c], promptLength: prompt.length, completion: c }));
    });
    const t = Math.max(...rows.map((r) => r.ids.length));
    const logits = await run({
      inputIds: rows.map((r) => [...r.ids, ...new Array<number>(t - r.ids.length).fill(pad)]),
      attentionMask: rows.map((r) => [...r.ids.map(() => 1), ...new Array<number>(t - r.ids.length).fill(0)]),
    });
    const v = logits.shape[2];
    const data = logits.data as Float32Array;
    chunk.forEach((e, i) => {
      let best = 0;
      let bestScore = -Infinity;
      const mine: number[] = [];
      for (let c = 0; c < k; c++) {
        const row = rows[i * k + c];
        let score = 0;
        row.completion.forEach((token, j) => {
          score += logSoftmaxAt(data, ((i * k + c) * t + row.promptLength - 1 + j) * v, v, token);
        });
        mine.push(score);
        if (score > bestScore) [best, bestScore] = [c, score];
      }
      predictions.push(best);
      scores.push(mine);
      if (e.classLabel !== undefined) confusion[e.classLabel][best]++;
    });
    options.onProgress?.(Math.min(examples.length, start + batchSize));
  }
  const correct = examples.filter((e, i) => e.classLabel === predictions[i]).length;
  return { predictions, accuracy: correct / Math.max(1, examples.length), confusion, scores };
}
