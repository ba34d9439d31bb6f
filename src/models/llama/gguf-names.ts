// llama.cpp's names for the tensors of LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM (gguf-py's
// `tensor_mapping.py` as convert_hf_to_gguf.py applies it), the llama.cpp architecture of each model type, and
// whether Q/K rows are permuted: HF's Llama checkpoints rotate halves of each head ((j, j + D/2) pairs) while
// llama.cpp's `llama` architecture rotates adjacent pairs ((2j, 2j + 1), GGML's "normal" RoPE), so the converter
// reorders the rows of q_proj and k_proj; `qwen2` runs NEOX RoPE (halves) and keeps HF's order.

import type { ModelType } from '../../io/config/index.ts';
import type { ProjectionKind } from '../linear.ts';
import { ALL_PROJECTIONS, names } from './checkpoint-names.ts';

/** The llama.cpp architecture (`general.architecture`) of each supported model type. */
export type LlamaCppArch = 'llama' | 'qwen2';

/** Mistral is the `llama` architecture in llama.cpp (convert_hf_to_gguf.py registers it with LlamaModel). */
export function llamaCppArch(modelType: ModelType): LlamaCppArch {
  switch (modelType) {
    case 'llama':
    case 'mistral':
      return 'llama';
    case 'qwen2':
      return 'qwen2';
  }
}

/** Whether q_proj / k_proj rows are reordered from halves to adjacent pairs (see the file header). */
export function permutesQk(arch: LlamaCppArch): boolean {
  switch (arch) {
    case 'llama':
      return true;
    case 'qwen2':
      return false;
  }
}

const PROJECTION_NAMES: { readonly [K in ProjectionKind]: string } = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

/** Tensor names on the llama.cpp side that have no HF checkpoint tensor. */
export const ggufOnlyNames = {
  /** Llama 3.1 RoPE frequency factors, [D/2]. */
  ropeFreqs: 'rope_freqs.weight',
};

/** HF checkpoint name → llama.cpp tensor name, for every tensor of a causal LM with `layers` layers. */
export function ggufTensorNames(layers: number): Map<string, string> {
  const map = new Map<string, string>([
    [names.embed, 'token_embd.weight'],
    [names.finalNorm, 'output_norm.weight'],
    [names.lmHead, 'output.weight'],
  ]);
  for (let i = 0; i < layers; i++) {
    map.set(names.inputNorm(i), `blk.${i}.attn_norm.weight`);
    map.set(names.postAttentionNorm(i), `blk.${i}.ffn_norm.weight`);
    for (const kind of ALL_PROJECTIONS) {
      map.set(`${names.projection(i, kind)}.weight`, `blk.${i}.${PROJECTION_NAMES[kind]}.weight`);
      map.set(`${names.projection(i, kind)}.bias`, `blk.${i}.${PROJECTION_NAMES[kind]}.bias`);
    }
  }
  return map;
}

/** The projection kind of an HF tensor name when it is a q_proj or k_proj weight or bias, else null. */
export function qkProjection(hfName: string): 'q_proj' | 'k_proj' | null {
  const m = /\.self_attn\.([qk]_proj)\.(weight|bias)$/.exec(hfName);
  return m ? (m[1] as 'q_proj' | 'k_proj') : null;
}
