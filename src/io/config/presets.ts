// config.json files of real models, verbatim, so that benchmarks can build models of the real shapes (with
// random weights) without downloading anything. Values are those of the Hub repositories
// HuggingFaceTB/SmolLM2-135M and Qwen/Qwen2.5-0.5B (base models; their Instruct variants differ in token ids).

import { parseModelConfig, type ModelConfig } from './model-config.ts';

/** Names of the bundled presets. */
export type PresetName = 'smollm2-135m' | 'qwen2.5-0.5b';

/** One preset: the Hub repository it comes from and its config.json as written there. */
export interface Preset {
  readonly repoId: string;
  readonly configJson: Readonly<Record<string, unknown>>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The bundled presets, keyed by name (deeply frozen). */
export const PRESETS: { readonly [P in PresetName]: Preset } = deepFreeze({
  'smollm2-135m': {
    repoId: 'HuggingFaceTB/SmolLM2-135M',
    configJson: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      hidden_size: 576,
      initializer_range: 0.041666666666666664,
      intermediate_size: 1536,
      is_llama_config: true,
      max_position_embeddings: 8192,
      model_type: 'llama',
      num_attention_heads: 9,
      num_hidden_layers: 30,
      num_key_value_heads: 3,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_interleaved: false,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      vocab_size: 49152,
    },
  },
  'qwen2.5-0.5b': {
    repoId: 'Qwen/Qwen2.5-0.5B',
    configJson: {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 24,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      use_mrope: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
  },
});

/** All preset names, in table order. */
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** The parsed `ModelConfig` of a preset. */
export function presetConfig(name: PresetName): ModelConfig {
  return parseModelConfig(PRESETS[name].configJson, `preset ${name} (${PRESETS[name].repoId} config.json)`);
}
