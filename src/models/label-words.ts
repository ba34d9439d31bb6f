// Giving a causal LM a label-words head (heads/label-words-head.ts): the same weights, classified by the LM
// head's logits of one token per class at each row's last real token, and trained on the cross-entropy over
// those tokens. Adapters trained on it are CAUSAL_LM adapters of the unchanged language model.

import { RoadsterError } from '../errors.ts';
import { CausalLM } from './causal-lm.ts';
import { type LabelWords, LabelWordsHead } from './heads/label-words-head.ts';

export { type LabelWords, LabelWordsHead, checkLabelWords } from './heads/label-words-head.ts';

/**
 * The model classifying by label words: class k's logit is the vocabulary logit of `tokenIds[k]` at each row's
 * last real token. The weights are shared, nothing is added; `model` must have its language-model head.
 * @throws RoadsterError E_USAGE for a model without an lm head, or label words that do not fit (checkLabelWords)
 */
export function withLabelWords(model: CausalLM, spec: LabelWords): CausalLM {
  if (model.head.type === 'classification') {
    throw new RoadsterError('E_USAGE', `${model.source} is ${model.head.description}: label words read the language model's head; load the causal-LM checkpoint`);
  }
  return new CausalLM(model.config, model.weights, model.generationConfig, model.source, model.rawFiles, new LabelWordsHead(model.config, spec));
}

/** The same model with its language-model head back (the head a label-words model was made from). */
export function withoutLabelWords(model: CausalLM): CausalLM {
  if (model.head.type !== 'label-words') return model;
  return new CausalLM(model.config, model.weights, model.generationConfig, model.source, model.rawFiles, null);
}
