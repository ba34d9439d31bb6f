// Evaluation: token-weighted mean loss over a set of batches, and, for rows that carry a class label, the
// accuracy of predicting the label's tokens (teacher-forced arg-max at every label position, which is what
// greedy decoding of the label would produce). A sequence classifier is scored by its class logits instead:
// the mean cross-entropy over examples and the share whose arg-max class is the label.

import type { PeftModel } from '../adapters/peft-model.ts';
import { RoadsterError } from '../errors.ts';
import { argmaxRows } from '../models/sequence-classification.ts';
import type { TrainBatch } from './batch.ts';

export interface EvalResult {
  readonly loss: number;
  /** Loss terms: label tokens, or examples for a sequence classifier. */
  readonly tokens: number;
  /** Share of labelled rows whose label tokens are all predicted (null when no row has a class label). */
  readonly accuracy: number | null;
  readonly examples: number;
}

async function evaluateClassifier(peft: PeftModel, batches: readonly TrainBatch[]): Promise<EvalResult> {
  let lossSum = 0;
  let correct = 0;
  let examples = 0;
  for (const batch of batches) {
    if (!batch.classLabels) throw new RoadsterError('E_DATA', 'evaluating a sequence classifier needs a class label on every example');
    const { logits, loss } = await peft.forward(batch);
    lossSum += loss! * batch.inputIds.length;
    examples += batch.inputIds.length;
    argmaxRows(logits).forEach((p, i) => (correct += p === batch.classLabels![i] ? 1 : 0));
  }
  return { loss: lossSum / Math.max(1, examples), tokens: examples, accuracy: examples === 0 ? null : correct / examples, examples };
}

export async function evaluate(peft: PeftModel, batches: readonly TrainBatch[]): Promise<EvalResult> {
  if (peft.isSequenceClassifier) return evaluateClassifier(peft, batches);
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
