// Sequence classification on the Llama family, as transformers' AutoModelForSequenceClassification: giving a
// model a classification head (`withClassificationHead`) and running it without adapters
// (`classifySequences`). The head itself (pooling, score, loss, config fields) is heads/classification-head.ts.
// Letters: B batch, T positions, C hidden, K labels.

import { RoadsterError } from '../errors.ts';
import type { DType } from '../graph/dtype.ts';
import type { GraphBuilder, Tensor } from '../graph/tracer.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { seededNormals } from '../seeded-random.ts';
import type { TokenBatch } from './attention-inputs.ts';
import { CausalLM, type GraphOptions } from './causal-lm.ts';
import { checkClassNames } from './classification-config.ts';
import { ClassificationHead } from './heads/classification-head.ts';
import { names } from './llama/checkpoint-names.ts';

export {
  CLASSIFICATION_INPUTS,
  argmaxRows,
  classLabelTensor,
  classificationLoss,
  classifierLogits,
  lastTokenPool,
} from './heads/classification-head.ts';

/** The checkpoint name of the classification head's weight [K, C]. */
export const SCORE_WEIGHT = names.score;

/** A batch to classify; `classLabels` (one class index per row) adds the loss. */
export interface ClassifyBatch extends TokenBatch {
  readonly classLabels?: readonly number[];
}

/** The number of labels of a classifier. */
export function numLabels(model: CausalLM): number {
  return requireClassifier(model).numLabels;
}

/** The model's classification head; E_USAGE when it has none. */
export function requireClassifier(model: CausalLM): ClassificationHead {
  if (model.head.type !== 'classification') {
    throw new RoadsterError(
      'E_USAGE',
      `${model.source} has no sequence-classification head; add one with withClassificationHead(model, { id2label }) or AutoModelForSequenceClassification.fromPretrained`,
    );
  }
  return model.head;
}

export interface ClassificationGraphOptions extends Omit<GraphOptions, 'withLoss' | 'lossChunks'> {
  /** Adds a `class_labels` input and a `loss` output. */
  readonly withLoss?: boolean;
  /** The head [K, C] or per-row heads [B, K, C]; default the model's `score.weight`. */
  readonly score?: (b: GraphBuilder, dtype: DType) => Tensor;
}

/** Traces the classifier into `b`: class logits [B, K] and, with `withLoss`, the loss (CausalLM.trace of a classifier). */
export function traceSequenceClassification(model: CausalLM, b: GraphBuilder, options: ClassificationGraphOptions = {}): { logits: Tensor; loss?: Tensor } {
  requireClassifier(model);
  const { score, ...rest } = options;
  const given = options.param ?? ((bb: GraphBuilder, name: string, dt: DType) => model.weightTensor(bb, name, dt));
  const param = score ? (bb: GraphBuilder, name: string, dt: DType) => (name === SCORE_WEIGHT ? score(bb, dt) : given(bb, name, dt)) : given;
  const { logits, loss } = model.trace(b, { ...rest, param });
  return loss ? { logits, loss } : { logits };
}

/** Host feeds of a classification batch: the decoder's, the pool and, with classLabels, the labels. */
export function classificationFeeds(model: CausalLM, batch: ClassifyBatch, dtype: 'float32' | 'float64'): Record<string, HostTensor> {
  requireClassifier(model);
  return model.graphFeeds(batch, dtype, batch.classLabels !== undefined);
}

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
  requireClassifier(model);
  return model.run(runtime, batch, options);
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
  return new CausalLM(model.config, weights, model.generationConfig, model.source, model.rawFiles, new ClassificationHead(model.config, { id2label, padTokenId }));
}
