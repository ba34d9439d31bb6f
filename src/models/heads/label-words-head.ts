// Prompt-based classification through the language-model head (LM-BFF's label words, Gao et al. 2021): each
// class is one vocabulary token (" yes", " no"), and the class logits are the LM head's logits of those K tokens
// at each row's last real token, the position that predicts the word after the prompt. The loss is the
// cross-entropy over the K label tokens only, so training moves the label words against each other and leaves the
// rest of the vocabulary alone, unlike the causal-LM loss on the label words, which also pushes every other
// token down. The head has no weights of its own: it reads K rows of lm_head (the token embeddings when tied), so
// an adapter trained on it is a CAUSAL_LM adapter of the language model (nothing in modules_to_save), loads in
// PEFT on the causal LM, composes with other adapters, and its class logits equal the causal LM's vocabulary
// logits of the label tokens. A saved model is the causal LM.
//
// Letters: B batch, T positions, C hidden, V vocabulary, K labels.

import { RoadsterError } from '../../errors.ts';
import type { GraphBuilder, Tensor } from '../../graph/tracer.ts';
import type { ModelConfig } from '../../io/config/index.ts';
import type { WeightSpec } from '../llama/checkpoint-names.ts';
import { LastTokenClassHead } from './classification-head.ts';
import type { HeadTraceContext, ModelHead } from './head.ts';
import { LmHead } from './lm-head.ts';

/** The classes of a label-words head: their names and the vocabulary token of each. */
export interface LabelWords {
  /** Class names by index (at least 2). */
  readonly id2label: readonly string[];
  /** The token id each class is predicted as, one per class, all different. */
  readonly tokenIds: readonly number[];
}

/**
 * Checks a label-words spec against a vocabulary of `vocabSize` tokens.
 * @throws RoadsterError E_USAGE for fewer than 2 classes, a count mismatch, an id outside the vocabulary or a repeated id
 */
export function checkLabelWords(spec: LabelWords, vocabSize: number): LabelWords {
  const { id2label, tokenIds } = spec;
  if (id2label.length < 2) throw new RoadsterError('E_USAGE', `label words need at least 2 classes, found ${id2label.length}`);
  if (tokenIds.length !== id2label.length) {
    throw new RoadsterError('E_USAGE', `label words: ${id2label.length} class names but ${tokenIds.length} token ids; give one token per class`);
  }
  tokenIds.forEach((id, k) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RoadsterError('E_USAGE', `label words: class "${id2label[k]}" has token id ${id}, outside the vocabulary [0, ${vocabSize})`);
    }
    const first = tokenIds.indexOf(id);
    if (first !== k) throw new RoadsterError('E_USAGE', `label words: classes "${id2label[first]}" and "${id2label[k]}" are the same token (${id}); choose words that differ`);
  });
  return { id2label: [...id2label], tokenIds: [...tokenIds] };
}

export class LabelWordsHead extends LastTokenClassHead implements ModelHead {
  readonly type = 'label-words' as const;
  readonly taskType = 'CAUSAL_LM' as const;
  readonly description = 'a causal language model classifying by label words';
  readonly generates = true;
  readonly id2label: readonly string[];
  readonly tokenIds: readonly number[];
  private readonly lm: LmHead;

  constructor(
    readonly config: ModelConfig,
    spec: LabelWords,
  ) {
    super();
    const checked = checkLabelWords(spec, config.vocabSize);
    this.id2label = checked.id2label;
    this.tokenIds = checked.tokenIds;
    this.lm = new LmHead(config);
  }

  /** K, the number of classes. */
  get numLabels(): number {
    return this.id2label.length;
  }

  /** The language model's: lm_head, or nothing when it is tied to the token embeddings. */
  weightSpecs(): WeightSpec[] {
    return this.lm.weightSpecs();
  }

  ownWeights(): WeightSpec[] {
    return []; // the rows it reads are the frozen lm_head's
  }

  protected readonly scope = 'label_words';

  /** The rows of the output matrix [V, C] for the label tokens: [K, C]. */
  protected score(b: GraphBuilder, ctx: HeadTraceContext): Tensor {
    return this.lm.weight(ctx.param).gather(b.constant(this.tokenIds, 'int64', [this.numLabels]), 0);
  }

  runIdentity(): Record<string, unknown> {
    return { classes: this.id2label, labelTokens: this.tokenIds };
  }

  /** A saved model is the causal LM: config.json as it was. */
  configJson(json: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return this.lm.configJson(json);
  }
}
