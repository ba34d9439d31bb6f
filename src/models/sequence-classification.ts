// Sequence classification on the Llama family, as transformers' LlamaForSequenceClassification /
// Qwen2ForSequenceClassification: `score` = Linear(C, K, bias=False) applied to the final normed hidden state of
// each row's last real token, giving class logits [B, K]; the loss is the mean cross-entropy over the batch
// (single_label_classification). transformers finds that token as the rightmost one that is not pad_token_id;
// here it is the last position the attention mask keeps (the same token for right-padded rows whose text does
// not end in the pad id), fed as a one-hot selection, so the [B, T, V] vocabulary logits are never computed.
// Letters: B batch, T positions, C hidden, K labels.

import { RoadsterError } from '../errors.ts';
import type { DType } from '../graph/dtype.ts';
import type { Graph } from '../graph/ir.ts';
import { GraphBuilder, type Tensor } from '../graph/tracer.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { seededNormals } from '../seeded-random.ts';
import { type TokenBatch, batchShape } from './attention-inputs.ts';
import { CausalLM, type GraphOptions } from './causal-lm.ts';
import { checkClassNames, type SequenceClassification } from './classification-config.ts';
import { names } from './llama/checkpoint-names.ts';

/** The checkpoint name of the classification head's weight [K, C]. */
export const SCORE_WEIGHT = names.score;

/** Graph input names of classification graphs (besides the causal LM's). */
export const CLASSIFICATION_INPUTS = {
  /** [B, 1, T] one-hot selection of each row's last real token. */
  pool: 'last_token_pool',
  /** [B] int64 class indices. */
  classLabels: 'class_labels',
} as const;

/** A batch to classify; `classLabels` (one class index per row) adds the loss. */
export interface ClassifyBatch extends TokenBatch {
  readonly classLabels?: readonly number[];
}

/** The number of labels of a classifier. */
export function numLabels(model: CausalLM): number {
  return requireClassifier(model).id2label.length;
}

/** The model's classification head; E_USAGE when it has none. */
export function requireClassifier(model: CausalLM): SequenceClassification {
  if (!model.classification) {
    throw new RoadsterError(
      'E_USAGE',
      `${model.source} has no sequence-classification head; add one with withClassificationHead(model, { id2label }) or AutoModelForSequenceClassification.fromPretrained`,
    );
  }
  return model.classification;
}

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

export interface ClassificationGraphOptions extends Omit<GraphOptions, 'withLoss' | 'lossChunks'> {
  /** Adds a `class_labels` input and a `loss` output. */
  readonly withLoss?: boolean;
  /** The head [K, C] or per-row heads [B, K, C]; default the model's `score.weight`. */
  readonly score?: (b: GraphBuilder, dtype: DType) => Tensor;
}

/** Traces the classifier into `b`: class logits [B, K] and, with `withLoss`, the loss. */
export function traceSequenceClassification(model: CausalLM, b: GraphBuilder, options: ClassificationGraphOptions = {}): { logits: Tensor; loss?: Tensor } {
  requireClassifier(model);
  const dtype = options.dtype ?? 'float32';
  const { hidden } = model.trace(b, { ...options, withLoss: false }); // [B, T, C]
  const pool = b.input(CLASSIFICATION_INPUTS.pool, dtype, ['B', 1, 'T']); // [B, 1, T]
  const param = options.param ?? ((bb: GraphBuilder, name: string, dt: DType) => model.weightTensor(bb, name, dt));
  const score = options.score ? options.score(b, dtype) : param(b, SCORE_WEIGHT, dtype); // [K, C] or [B, K, C]
  const logits = b.scope('score', () => classifierLogits(hidden, pool, score)); // [B, K]
  if (!options.withLoss) return { logits };
  const labels = b.input(CLASSIFICATION_INPUTS.classLabels, 'int64', ['B']); // [B]
  return { logits, loss: classificationLoss(logits, labels) };
}

/** Host feeds of a classification batch: the causal LM's, the pool and, with classLabels, the labels. */
export function classificationFeeds(model: CausalLM, batch: ClassifyBatch, dtype: 'float32' | 'float64'): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = { ...model.feeds(batch, dtype), [CLASSIFICATION_INPUTS.pool]: lastTokenPool(batch, dtype) };
  if (batch.classLabels) feeds[CLASSIFICATION_INPUTS.classLabels] = classLabelTensor(batch.classLabels, batch.inputIds.length, numLabels(model));
  return feeds;
}

const graphs = new WeakMap<CausalLM, Map<string, Graph>>();

/**
 * Runs a classifier (no adapter): class logits [B, K] and, with `classLabels`, the mean cross-entropy
 * (transformers' `AutoModelForSequenceClassification` forward).
 */
export async function classifySequences(
  model: CausalLM,
  runtime: Runtime,
  batch: ClassifyBatch,
  options: { dtype?: 'float32' | 'float64' } = {},
): Promise<{ logits: HostTensor; loss?: number }> {
  const dtype = options.dtype ?? 'float32';
  const withLoss = batch.classLabels !== undefined;
  let cache = graphs.get(model);
  if (!cache) graphs.set(model, (cache = new Map()));
  const key = `${dtype}:${withLoss}`;
  let graph = cache.get(key);
  if (!graph) {
    const b = new GraphBuilder();
    const { logits, loss } = traceSequenceClassification(model, b, { dtype, withLoss });
    cache.set(key, (graph = b.build(loss ? { logits, loss } : { logits })));
  }
  const out = await (await runtime.compile(graph)).run(classificationFeeds(model, batch, dtype));
  return withLoss ? { logits: out.logits, loss: Number(out.loss.data[0]) } : { logits: out.logits };
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

export interface ClassificationHeadOptions {
  /** Class names by index; num_labels is their number (at least 2). */
  readonly id2label: readonly string[];
  /** Seed of the new head's init (default 0). */
  readonly seed?: number;
  /** pad_token_id for saved config.json files (when the model's has none). */
  readonly padTokenId?: number | null;
}

/**
 * The model as a sequence classifier (transformers' `AutoModelForSequenceClassification.from_pretrained` of a
 * causal-LM checkpoint): a new `score.weight` [K, C] drawn from N(0, initializer_range (0.02 when absent))
 * with the seeded generator, and no lm_head. A model that is already a classifier with K labels keeps its head
 * and takes the new label names.
 * @throws RoadsterError E_CONFIG for fewer than 2 labels; E_WEIGHTS when the model's head has another K
 */
export function withClassificationHead(model: CausalLM, options: ClassificationHeadOptions): CausalLM {
  const id2label = checkClassNames([...options.id2label], 'id2label');
  const k = id2label.length;
  const c = model.config.hiddenSize;
  const weights = new Map(model.weights);
  const present = weights.get(SCORE_WEIGHT);
  if (present && present.shape[0] !== k) {
    throw new RoadsterError(
      'E_WEIGHTS',
      `${model.source} has a classification head for ${present.shape[0]} labels, not ${k}; give ${present.shape[0]} labels or start from the causal-LM checkpoint`,
    );
  }
  if (!present) {
    const raw = model.rawFiles.config as { initializer_range?: unknown } | undefined;
    const std = typeof raw?.initializer_range === 'number' ? raw.initializer_range : 0.02;
    const next = seededNormals(options.seed ?? 0);
    const data = new Float32Array(k * c);
    for (let i = 0; i < data.length; i++) data[i] = next() * std;
    weights.set(SCORE_WEIGHT, { shape: [k, c], data });
  }
  weights.delete(names.lmHead); // as LlamaForSequenceClassification, which has no lm_head
  const padTokenId = options.padTokenId ?? model.classification?.padTokenId ?? null;
  return new CausalLM(model.config, weights, model.generationConfig, model.source, model.rawFiles, { id2label, padTokenId });
}
