// Evaluation: token-weighted mean loss over a set of batches, and, for rows that carry a class label, the
// accuracy of predicting the label's tokens (teacher-forced arg-max at every label position, which is what
// greedy decoding of the label would produce).

import type { PeftModel } from '../adapters/peft-model.ts';
import type { TrainBatch } from './batch.ts';

export interface EvalResult {
  readonly loss: number;
  readonly tokens: number;
  /** Share of labelled rows whose label tokens are all predicted (null when no row has a class label). */
  readonly accuracy: number | null;
  readonly examples: number;
}

export async function evaluate(peft: PeftModel, batches: readonly TrainBatch[]): Promise<EvalResult> {
  let lossSum = 0;
  let lossTokens = 0;
  let correct = 0;
  let labelled = 0;
  let examples = 0;
  for (const batch of batches) {
    const { logits, loss } = await peft.forward(batch);
    lossSum += loss! * batch.lossTokens;
    lossTokens += batch.lossTokens;
    examples += batch.inputIds.length;
    if (!batch.classLabels) continue;
    const [, t, v] = logits.shape;
    const data = logits.data as Float32Array;
    batch.inputIds.forEach((_, row) => {
      let ok = true;
      let any = false;
      for (let j = 0; j + 1 < t; j++) {
        const target = batch.labels[row][j + 1];
        if (target === -100) continue;
        any = true;
        let best = 0;
        for (let k = 1; k < v; k++) if (data[(row * t + j) * v + k] > data[(row * t + j) * v + best]) best = k;
        if (best !== target) ok = false;
      }
      if (any) {
        labelled++;
        if (ok) correct++;
      }
    });
  }
  return { loss: lossSum / Math.max(1, lossTokens), tokens: lossTokens, accuracy: labelled === 0 ? null : correct / labelled, examples };
}
