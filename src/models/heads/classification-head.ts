// The sequence-classification head of transformers' LlamaForSequenceClassification /
// Qwen2ForSequenceClassification: `score` = Linear(C, K, bias=False) applied to the final normed hidden state of
// each row's last real token, giving class logits [B, K]; the loss is the mean cross-entropy over the batch
// (single_label_classification). transformers finds that token as the rightmost one that is not pad_token_id;
// here it is the last position the attention mask keeps (the same token for right-padded rows whose text does
// not end in the pad id), fed as a one-hot selection, so the [B, T, V] vocabulary logits are never computed.
// A PEFT adapter keeps its own copy of `score.weight` (modules_to_save); in a mixed-adapter batch every row
// brings its adapter's copy, [B, K, C].
//
// Letters: B batch, T positions, C hidden, K labels.

import { RoadsterError } from '../../errors.ts';
import type { GraphBuilder, Tensor } from '../../graph/tracer.ts';
import type { ModelConfig } from '../../io/config/index.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import { type TokenBatch, batchShape } from '../attention-inputs.ts';
import { type SequenceClassification, sequenceClassificationConfigJson } from '../classification-config.ts';
import { type WeightSpec, names } from '../llama/checkpoint-names.ts';
import type { HeadBatch, HeadTraceContext, ModelHead, RowCorrect } from './head.ts';

/** Graph input names of the classification head. */
export const CLASSIFICATION_INPUTS = {
  /** [B, 1, T] one-hot selection of each row's last real token. */
  pool: 'last_token_pool',
  /** [B] int64 class indices. */
  classLabels: 'class_labels',
} as const;

/**
 * The one-hot selection [B, 1, T] of each row's last real token: the last position whose attention mask is 1
 * (the last position when there is no mask).
 * @throws RoadsterError E_USAGE for packed rows or a row without any real token
 */
export function lastTokenPool(batch: TokenBatch, dtype: 'float32' | 'float64'): HostTensor {
  const [b, t] = batchShape(batch);
  if (batch.segmentIds) throw new RoadsterError('E_USAGE', 'packed rows (segmentIds) hold several sequences; classify one sequence per row');
  const data = dtype === 'float64' ? new Float64Array(b * t) : new Float32Array(b * t);
  for (let i = 0; i < b; i++) {
    const mask = batch.attentionMask?.[i];
    let last = t - 1;
    if (mask) while (last >= 0 && mask[last] === 0) last--;
    if (last < 0) throw new RoadsterError('E_USAGE', `row ${i} of the batch has no real token (its attention mask is all 0)`);
    data[i * t + last] = 1;
  }
  return { dtype, shape: [b, 1, t], data };
}

/** int64 class indices [B], checked against K labels. */
export function classLabelTensor(labels: readonly number[], rows: number, k: number): HostTensor {
  if (labels.length !== rows) throw new RoadsterError('E_USAGE', `classLabels has ${labels.length} entries but the batch has ${rows} rows`);
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= k) throw new RoadsterError('E_USAGE', `classLabels[${i}] = ${l} is not a class index in [0, ${k})`);
  });
  return { dtype: 'int64', shape: [rows], data: BigInt64Array.from(labels.map(BigInt)) };
}

/**
 * Class logits from the final hidden states: pool [B, 1, T] @ hidden [B, T, C] picks each row's last real token,
 * then score. `score` is [K, C], or [B, K, C] when every row brings its own head (mixed-adapter batches).
 */
export function classifierLogits(hidden: Tensor, pool: Tensor, score: Tensor): Tensor {
  const [b, , c] = hidden.shape;
  const pooled = pool.matmul(hidden); // [B, 1, C]
  if (score.rank === 3) return pooled.matmul(score, { transB: true }).reshape([b, score.shape[1]]).named('class_logits'); // [B, K]
  return pooled.reshape([b, c]).matmul(score, { transB: true }).named('class_logits'); // [B, K]
}

/** Mean cross-entropy of class logits [B, K] against class indices [B] (transformers' single_label_classification). */
export function classificationLoss(logits: Tensor, classLabels: Tensor): Tensor {
  return logits.crossEntropy(classLabels).named('loss'); // []
}

/** Arg-max class of each row of logits [B, K]. */
export function argmaxRows(logits: HostTensor): number[] {
  const [b, k] = logits.shape;
  const data = logits.data as Float32Array | Float64Array;
  return Array.from({ length: b }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (data[i * k + j] > data[i * k + best]) best = j;
    return best;
  });
}

/**
 * What every head that classifies each row's last real token into K classes shares (the sequence classifier's
 * score, label words' rows of lm_head): the pooled class logits [B, K] from a score [K, C] (or [B, K, C]) and their
 * mean cross-entropy, the host feeds, the loss terms (rows) and the arg-max check. Subclasses give the score.
 */
export abstract class LastTokenClassHead {
  readonly lossInputs = 'classLabels (one class index per row)';
  /** K, the number of classes. */
  abstract get numLabels(): number;
  /** The graph scope of the class logits. */
  protected abstract readonly scope: string;
  /** The score [K, C] (or [B, K, C]) the pooled hidden state is multiplied by. */
  protected abstract score(b: GraphBuilder, ctx: HeadTraceContext): Tensor;

  trace(b: GraphBuilder, hidden: Tensor, ctx: HeadTraceContext): { logits: Tensor; loss?: Tensor } {
    const pool = b.input(CLASSIFICATION_INPUTS.pool, ctx.dtype, ['B', 1, 'T']); // [B, 1, T]
    const logits = b.scope(this.scope, () => classifierLogits(hidden, pool, this.score(b, ctx))); // [B, K]
    if (!ctx.withLoss) return { logits };
    const labels = b.input(CLASSIFICATION_INPUTS.classLabels, 'int64', ['B']); // [B]
    return { logits, loss: classificationLoss(logits, labels) };
  }

  hasLossInputs(batch: HeadBatch): boolean {
    return batch.classLabels !== undefined;
  }

  feeds(batch: HeadBatch, dtype: 'float32' | 'float64', withLoss: boolean): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = { [CLASSIFICATION_INPUTS.pool]: lastTokenPool(batch, dtype) };
    if (!withLoss) return feeds;
    if (!batch.classLabels) throw new RoadsterError('E_USAGE', `the classification loss needs ${this.lossInputs}`);
    feeds[CLASSIFICATION_INPUTS.classLabels] = classLabelTensor(batch.classLabels, batch.inputIds.length, this.numLabels);
    return feeds;
  }

  /** The loss is a mean over rows. */
  lossTerms(batch: HeadBatch): number {
    return batch.inputIds.length;
  }

  rowsCorrect(logits: HostTensor, batch: HeadBatch): RowCorrect[] {
    return argmaxRows(logits).map((p, i) => (batch.classLabels ? p === batch.classLabels[i] : null));
  }
}

export class ClassificationHead extends LastTokenClassHead implements ModelHead, SequenceClassification {
  readonly type = 'classification' as const;
  readonly taskType = 'SEQ_CLS' as const;
  readonly description = 'a sequence classifier';
  readonly generates = false;
  readonly id2label: readonly string[];
  readonly padTokenId: number | null;

  constructor(
    readonly config: ModelConfig,
    spec: SequenceClassification,
  ) {
    super();
    this.id2label = spec.id2label;
    this.padTokenId = spec.padTokenId;
  }

  /** K, the number of classes. */
  get numLabels(): number {
    return this.id2label.length;
  }

  /** The head's labels and pad id as config.json describes them. */
  get spec(): SequenceClassification {
    return { id2label: this.id2label, padTokenId: this.padTokenId };
  }

  weightSpecs(): WeightSpec[] {
    return [{ name: names.score, shape: [this.numLabels, this.config.hiddenSize] }];
  }

  ownWeights(): WeightSpec[] {
    return this.weightSpecs(); // PeftModelForSequenceClassification's modules_to_save: "classifier", "score"
  }

  protected readonly scope = 'score';

  /** The model's score.weight [K, C], or the adapters' copies [B, K, C] in mixed batches. */
  protected score(_b: GraphBuilder, ctx: HeadTraceContext): Tensor {
    return ctx.param(names.score);
  }

  runIdentity(): Record<string, unknown> {
    return { classes: this.id2label };
  }

  configJson(json: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return sequenceClassificationConfigJson(json, this);
  }
}
