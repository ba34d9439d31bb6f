// Evaluation: token-weighted mean loss over a set of batches, and, for rows that carry a class label, the
// accuracy of predicting the label's tokens (teacher-forced arg-max at every label position, which is what
// greedy decoding of the label would produce). A sequence classifier is scored by its class logits instead:
// the mean cross-entropy over examples and the share whose arg-max class is the label. The model's head
// (models/heads/) says which: its loss terms and whether each row is predicted correctly.

import type { PeftModel } from '../adapters/peft-model.ts';
import { RoadsterError } from '../errors.ts';
import type { TrainBatch } from './batch.ts';

export interface EvalResult {
  readonly loss: number;
  /** Loss terms: label tokens, or examples for a sequence classifier. */
  readonly tokens: number;
  /** Share of labelled rows whose label tokens are all predicted (null when no row has a class label). */
  readonly accuracy: number | null;
  readonly examples: number;
}

/** Loss (weighted by each batch's loss terms) and accuracy of the model's head over `batches`. */
export async function evaluate(peft: PeftModel, batches: readonly TrainBatch[]): Promise<EvalResult> {
  const head = peft.base.head;
  let lossSum = 0;
  let lossTerms = 0;
  let correct = 0;
  let labelled = 0;
  let examples = 0;
  for (const batch of batches) {
    if (!head.hasLossInputs(batch)) throw new RoadsterError('E_DATA', `evaluating ${head.description} needs ${head.lossInputs} on every batch`);
    const { logits, loss } = await peft.forward(batch);
    const terms = head.lossTerms(batch);
    lossSum += loss! * terms;
    lossTerms += terms;
    examples += batch.inputIds.length;
    for (const ok of head.rowsCorrect(logits, batch)) {
      if (ok === null) continue;
      labelled++;
      if (ok) correct++;
    }
  }
  return { loss: lossSum / Math.max(1, lossTerms), tokens: lossTerms, accuracy: labelled === 0 ? null : correct / labelled, examples };
}
