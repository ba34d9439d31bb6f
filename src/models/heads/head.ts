// The one interface every model head implements: what turns the decoder's final hidden states into the
// model's outputs. A model is a backbone (the Llama-family decoder, llama/forward.ts) plus one head; the head
// owns its checkpoint weights, its traced logits and loss, the host feeds of its inputs (labels, pooling), its
// config.json fields and the weights a PEFT adapter may keep its own copy of (modules_to_save). Generic code
// (CausalLM, PeftModel, the trainer) asks the head instead of asking "is this a classifier". The heads,
// language model and sequence classification, are in lm-head.ts and classification-head.ts, and label words
// (a classifier that reads the language model's own rows of its label tokens) in label-words-head.ts; kinds.ts
// holds the table of them.
//
// Letters: B batch, T positions, C hidden.

import type { GraphBuilder, Tensor } from '../../graph/tracer.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import type { TokenBatch } from '../attention-inputs.ts';
import type { WeightSpec } from '../llama/checkpoint-names.ts';

/**
 * The head types roadster implements: transformers' *ForCausalLM and *ForSequenceClassification, and label words
 * (classification through the language model's own head, label-words-head.ts).
 */
export type HeadType = 'lm' | 'classification' | 'label-words';

/** PEFT's task_type of adapters trained on a head. */
export type HeadTaskType = 'CAUSAL_LM' | 'SEQ_CLS';

/** A batch with the loss inputs of every head; each head reads its own. */
export interface HeadBatch extends TokenBatch {
  /** Language-model head: [B][T] token labels (-100 ignored). */
  readonly labels?: readonly (readonly number[])[];
  /** Classification head: one class index per row. */
  readonly classLabels?: readonly number[];
}

/** What a head's trace gets besides the hidden states. */
export interface HeadTraceContext {
  readonly dtype: 'float32' | 'float64';
  /**
   * A weight by checkpoint name: the model's initializer, or a graph input when an adapter brings its own copy
   * (modules_to_save). Such a copy may come with one copy per row, [B, ...shape], in mixed-adapter batches.
   */
  readonly param: (name: string) => Tensor;
  /** Adds the head's loss inputs and a `loss` output. */
  readonly withLoss: boolean;
  /** Training memory: a loss that never holds its largest intermediate at once (see GraphOptions.recompute). */
  readonly recompute: boolean;
  /** Chunks of that loss (heads that chunk; default 8). */
  readonly lossChunks?: number;
}

/** Per row: whether the head's prediction matched the row's label (null: the row has no label to check). */
export type RowCorrect = boolean | null;

/** What each head provides. */
export interface ModelHead {
  readonly type: HeadType;
  /** PEFT's task_type of adapters trained on this head ("CAUSAL_LM", "SEQ_CLS"). */
  readonly taskType: HeadTaskType;
  /** "a causal language model", "a sequence classifier": for messages. */
  readonly description: string;
  /** The loss inputs of a batch, for messages ("labels", "classLabels (one class index per row)"). */
  readonly lossInputs: string;
  /** Whether the model generates text (saved models then keep generation_config.json). */
  readonly generates: boolean;
  /** The head's tensors in a checkpoint, with their shapes (none for a tied lm_head). */
  weightSpecs(): WeightSpec[];
  /** The weights a PEFT adapter may train and save its own copy of (modules_to_save), with their shapes. */
  ownWeights(): WeightSpec[];
  /** Traces the head on the final hidden states [B, T, C]: its logits and, with `withLoss`, the loss []. */
  trace(b: GraphBuilder, hidden: Tensor, ctx: HeadTraceContext): { logits: Tensor; loss?: Tensor };
  /** Whether `batch` carries the head's loss inputs (then forward computes the loss). */
  hasLossInputs(batch: HeadBatch): boolean;
  /** Host feeds of the head's graph inputs; with `withLoss`, its loss inputs too. */
  feeds(batch: HeadBatch, dtype: 'float32' | 'float64', withLoss: boolean): Record<string, HostTensor>;
  /** The loss is a mean over this many terms of `batch` (label tokens, or rows): the weight of its loss in a sum. */
  lossTerms(batch: HeadBatch): number;
  /** Per row of `batch`, whether the arg-max of `logits` (this head's) predicts the row's label. */
  rowsCorrect(logits: HostTensor, batch: HeadBatch): RowCorrect[];
  /**
   * What a training run on this head must keep to resume from its checkpoint (the classes and, for label words,
   * their tokens); empty for the language model.
   */
  runIdentity(): Record<string, unknown>;
  /** config.json contents of a saved model with this head, from the backbone's (every other field kept). */
  configJson(json: Readonly<Record<string, unknown>>): Record<string, unknown>;
}
