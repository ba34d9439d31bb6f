// Hugging Face checkpoint names of LlamaForCausalLM, Qwen2ForCausalLM and MistralForCausalLM (they share one
// layout), with the shape each tensor must have. The only place these names are written.

import type { ModelConfig } from '../../io/config/index.ts';
import type { LinearSite, ProjectionKind } from '../linear.ts';

/** A checkpoint tensor: its Hugging Face name and the shape it must have. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export const ATTENTION_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const satisfies readonly ProjectionKind[];
export const MLP_PROJECTIONS = ['gate_proj', 'up_proj', 'down_proj'] as const satisfies readonly ProjectionKind[];
export const ALL_PROJECTIONS: readonly ProjectionKind[] = [...ATTENTION_PROJECTIONS, ...MLP_PROJECTIONS];

export const names = {
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  /** The sequence-classification head (LlamaForSequenceClassification's `score`, Linear(C, K, bias=False)). */
  score: 'score.weight',
  inputNorm: (i: number) => `model.layers.${i}.input_layernorm.weight`,
  postAttentionNorm: (i: number) => `model.layers.${i}.post_attention_layernorm.weight`,
  /** Module path of a projection (append ".weight" / ".bias"). */
  projection: (i: number, kind: ProjectionKind) =>
    `model.layers.${i}.${(ATTENTION_PROJECTIONS as readonly string[]).includes(kind) ? 'self_attn' : 'mlp'}.${kind}`,
};

/** [out, in] of each projection. */
export function projectionShape(config: ModelConfig, kind: ProjectionKind): [number, number] {
  const { hiddenSize: c, numAttentionHeads: h, numKeyValueHeads: hkv, headDim: d, intermediateSize: f } = config;
  switch (kind) {
    case 'q_proj':
      return [h * d, c];
    case 'k_proj':
    case 'v_proj':
      return [hkv * d, c];
    case 'o_proj':
      return [c, h * d];
    case 'gate_proj':
    case 'up_proj':
      return [f, c];
    case 'down_proj':
      return [c, f];
  }
}

export function hasBias(config: ModelConfig, kind: ProjectionKind): boolean {
  switch (kind) {
    case 'q_proj':
      return config.bias.q;
    case 'k_proj':
      return config.bias.k;
    case 'v_proj':
      return config.bias.v;
    case 'o_proj':
      return config.bias.o;
    case 'gate_proj':
    case 'up_proj':
    case 'down_proj':
      return config.bias.mlp;
  }
}

/** Every tensor of the decoder (the backbone, without a head) with its shape. */
export function decoderTensors(config: ModelConfig): WeightSpec[] {
  const { hiddenSize: c, vocabSize: v } = config;
  const specs: WeightSpec[] = [{ name: names.embed, shape: [v, c] }];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    specs.push({ name: names.inputNorm(i), shape: [c] }, { name: names.postAttentionNorm(i), shape: [c] });
    for (const kind of ALL_PROJECTIONS) {
      const [out, inp] = projectionShape(config, kind);
      specs.push({ name: `${names.projection(i, kind)}.weight`, shape: [out, inp] });
      if (hasBias(config, kind)) specs.push({ name: `${names.projection(i, kind)}.bias`, shape: [out] });
    }
  }
  specs.push({ name: names.finalNorm, shape: [c] });
  return specs;
}

/** Every projection of the decoder as a linear site, in layer order (the output head is not a site). */
export function linearSites(config: ModelConfig): LinearSite[] {
  const sites: LinearSite[] = [];
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    for (const kind of ALL_PROJECTIONS) {
      const [outFeatures, inFeatures] = projectionShape(config, kind);
      sites.push({ path: names.projection(layer, kind), layer, kind, inFeatures, outFeatures });
    }
  }
  return sites;
}
