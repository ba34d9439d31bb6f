// The graphs of autoregressive generation, traced from the same forward code as training (llama/forward.ts):
// a prefill graph that runs the prompt and returns every layer's keys and values, and a decode graph that reads
// the KV cache as inputs and returns the new positions' keys and values. Both end with the language-model head's
// next-token step (heads/lm-head.ts): the last position's logits [B, V] and their logsumexp.
//
// Letters: B batch, T new positions, P cached positions, Hkv KV heads, D head dim, C hidden, V vocabulary.

import { type GraphBuilder, type Tensor, concat } from '../graph/tracer.ts';
import { type CausalLM, INPUT_NAMES } from './causal-lm.ts';
import type { LinearFn } from './linear.ts';
import { llamaForward } from './llama/forward.ts';

/** Graph input and output names of the KV cache, per layer. */
export const KV_NAMES = {
  pastKeys: (layer: number) => `past_keys.${layer}`,
  pastValues: (layer: number) => `past_values.${layer}`,
  keys: (layer: number) => `keys.${layer}`,
  values: (layer: number) => `values.${layer}`,
} as const;

/** Inputs of the decode graph's bias over the cached keys, [B, 1, T, P] (the new keys' part is attention_bias). */
export const PAST_BIAS_NAMES = { attention: 'past_attention_bias', sliding: 'past_sliding_attention_bias' } as const;

export interface GenerationGraphOptions {
  /** Decode against a KV cache of P positions (inputs past_keys.i / past_values.i); without it, a prefill. */
  readonly withCache: boolean;
  /** The projection (adapters attach here). */
  readonly linear?: LinearFn;
}

/**
 * Traces one generation step into `b` (float32). Inputs: input_ids, position_ids [B, T]; attention_bias (and
 * sliding_attention_bias) [B, 1, T, T] among the new positions; with a cache, past_attention_bias (and
 * past_sliding_attention_bias) [B, 1, T, P] and past_keys.i, past_values.i [B, Hkv, P, D]. Outputs: logits [B, V]
 * of the last position and their logsumexp [B]; keys.i, values.i [B, Hkv, T, D].
 * @throws RoadsterError E_USAGE for a model whose head is not the language model's
 */
export function traceGenerationStep(model: CausalLM, b: GraphBuilder, options: GenerationGraphOptions): Record<string, Tensor> {
  const { config } = model;
  const head = model.requireLmHead();
  const { numKeyValueHeads: hkv, headDim: d } = config;
  // [B, 1, T, S]: with a cache, the bias over the P cached keys, then over the T new ones
  const bias = (name: string, pastName: string) => {
    const own = b.input(name, 'float32', ['B', 1, 'T', 'T']); // [B, 1, T, T]
    return options.withCache ? concat([b.input(pastName, 'float32', ['B', 1, 'T', 'P']), own], -1) : own; // [B, 1, T, S]
  };
  const param = (name: string) => model.weightTensor(b, name, 'float32');
  const { hidden, kv } = llamaForward(
    model.forwardContext(b, { dtype: 'float32', param, linear: options.linear }),
    {
      inputIds: b.input(INPUT_NAMES.inputIds, 'int64', ['B', 'T']),
      positionIds: b.input(INPUT_NAMES.positionIds, 'int64', ['B', 'T']),
      attentionBias: bias(INPUT_NAMES.attentionBias, PAST_BIAS_NAMES.attention),
      slidingBias: model.hasSlidingLayers ? bias(INPUT_NAMES.slidingBias, PAST_BIAS_NAMES.sliding) : undefined,
      cache: options.withCache
        ? (i) => ({
            keys: b.input(KV_NAMES.pastKeys(i), 'float32', ['B', hkv, 'P', d]),
            values: b.input(KV_NAMES.pastValues(i), 'float32', ['B', hkv, 'P', d]),
          })
        : undefined,
    },
  );
  const { logits, logsumexp } = head.traceNextToken(hidden, param); // [B, V], [B]
  const outputs: Record<string, Tensor> = { logits, logsumexp };
  kv.forEach((layer, i) => {
    outputs[KV_NAMES.keys(i)] = layer.keys; // [B, Hkv, T, D]
    outputs[KV_NAMES.values(i)] = layer.values; // [B, Hkv, T, D]
  });
  return outputs;
}
