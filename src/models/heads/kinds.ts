// The table of model heads, one entry per head type (a missing head is a compile error), and the union of
// their implementations: how each recognises itself in config.json.

import type { ModelConfig } from '../../io/config/index.ts';
import { type SequenceClassification, sequenceClassificationOf } from '../classification-config.ts';
import { ClassificationHead } from './classification-head.ts';
import type { HeadType, ModelHead } from './head.ts';
import { LabelWordsHead } from './label-words-head.ts';
import { LmHead } from './lm-head.ts';

/** The implementation of each head type. */
export interface HeadOf {
  lm: LmHead;
  classification: ClassificationHead;
  'label-words': LabelWordsHead;
}

/** Any head (a union discriminated by `type`). */
export type Head = HeadOf[HeadType];

/** What the table knows of each head type. */
export interface HeadKind<H extends ModelHead> {
  /** The head config.json describes, or null when it describes another head. */
  fromConfigJson(json: unknown, config: ModelConfig, where: string): H | null;
}

export const HEAD_KINDS: { readonly [T in HeadType]: HeadKind<HeadOf[T]> } = {
  lm: { fromConfigJson: (_json, config) => new LmHead(config) },
  classification: {
    fromConfigJson: (json, config, where) => {
      const spec = sequenceClassificationOf(json, where);
      return spec ? new ClassificationHead(config, spec) : null;
    },
  },
  // a training view of the language model: config.json describes the causal LM, so it never names this head
  'label-words': { fromConfigJson: () => null },
};

/** The order config.json is matched in: the language-model head, transformers' *ForCausalLM, last. */
const MATCH_ORDER = ['classification', 'lm'] as const satisfies readonly HeadType[];

/**
 * The head config.json contents describe (architectures ending in "ForSequenceClassification": a classifier;
 * else the language model).
 * @throws RoadsterError E_CONFIG for head fields that do not fit (see classification-config.ts)
 */
export function headFromConfigJson(json: unknown, config: ModelConfig, where: string): Head {
  for (const type of MATCH_ORDER) {
    const head = HEAD_KINDS[type].fromConfigJson(json, config, where);
    if (head) return head;
  }
  return new LmHead(config);
}

/** The head of a model: a classifier's for `classification`, else the language model's. */
export function headOf(config: ModelConfig, classification: SequenceClassification | null): Head {
  return classification ? new ClassificationHead(config, classification) : new LmHead(config);
}
