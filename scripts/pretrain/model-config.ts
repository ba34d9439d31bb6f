// The config.json of roadster-base (LlamaForCausalLM) for a vocabulary size and a few size knobs. Fields and
// their order follow what transformers writes for a LlamaConfig; tokens ids are those of the trained tokenizer
// (`<|endoftext|>` = 0 serves as bos, eos and pad, as in GPT-2).

export interface ModelSize {
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
}

/** The shipped model's size (see the model card for why). */
export const BASE_SIZE: ModelSize = { hiddenSize: 256, layers: 6, heads: 4, kvHeads: 2, intermediateSize: 688, maxPositions: 512 };

export function llamaConfigJson(size: ModelSize, vocabSize: number, eosId: number): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: eosId,
    eos_token_id: eosId,
    head_dim: size.hiddenSize / size.heads,
    hidden_act: 'silu',
    hidden_size: size.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: size.intermediateSize,
    max_position_embeddings: size.maxPositions,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: size.heads,
    num_hidden_layers: size.layers,
    num_key_value_heads: size.kvHeads,
    pad_token_id: eosId,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
    use_cache: true,
    vocab_size: vocabSize,
  };
}

/** Parameter count of a config (tied embeddings counted once). */
export function parameterCount(size: ModelSize, vocabSize: number): number {
  const c = size.hiddenSize;
  const d = c / size.heads;
  const attn = c * size.heads * d * 2 + c * size.kvHeads * d * 2;
  const mlp = 3 * c * size.intermediateSize;
  return vocabSize * c + size.layers * (attn + mlp + 2 * c) + c;
}
