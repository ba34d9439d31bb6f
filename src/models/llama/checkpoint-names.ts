// Hugging Face checkpoint names of LlamaForCausalLM, Qwen2ForCausalLM and MistralForCausalLM (they share one
// layout), with the shape each tensor must have. The only place these names are written.

import type { ModelConfig } from '../../io/config/index.ts';
import type { FusedProjectionKind, LinearSite, ProjectionKind } from '../linear.ts';

/** A checkpoint tensor: its Hugging Face name and the shape it must have. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export const ATTENTION_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const satisfies readonly ProjectionKind[];
export const MLP_PROJECTIONS = ['gate_proj', 'up_proj', 'down_proj'] as const satisfies readonly ProjectionKind[];
export const ALL_PROJECTIONS: readonly ProjectionKind[] = [...ATTENTION_PROJECTIONS, ...MLP_PROJECTIONS];

/**
 * The projections generation graphs fuse (one matmul on the concatenated weight), with their parts in output
 * order. The fused weights are not checkpoint tensors: CausalLM concatenates the parts' once (`fusedWeightParts`).
 */
export const FUSED_PROJECTIONS: { readonly [K in FusedProjectionKind]: readonly ProjectionKind[] } = {
  qkv_proj: ['q_proj', 'k_proj', 'v_proj'],
  gate_up_proj: ['gate_proj', 'up_proj'],
};

export const names = {
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  /** The sequence-classification head (LlamaForSequenceClassification's `score`, Linear(C, K, bias=False)). */
  score: 'score.weight',
  inputNorm: (i: number) => `model.layers.${i}.input_layernorm.weight`,
  postAttentionNorm: (i: number) => `model.layers.${i}.post_attention_layernorm.weight`,
  /** Module path of a projection (append ".weight" / ".bias"). */
  projection: (i: number, kind: ProjectionKind | FusedProjectionKind) =>
    `model.layers.${i}.${(ATTENTION_PROJECTIONS as readonly string[]).includes(kind) || kind === 'qkv_proj' ? 'self_attn' : 'mlp'}.${kind}`,
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

/** The fused projection `kind` of layer `layer` as a site, with its parts (see FUSED_PROJECTIONS). */
export function fusedSite(config: ModelConfig, layer: number, kind: FusedProjectionKind): LinearSite {
  const parts = FUSED_PROJECTIONS[kind].map((part): LinearSite => {
    const [outFeatures, inFeatures] = projectionShape(config, part);
    return { path: names.projection(layer, part), layer, kind: part, inFeatures, outFeatures };
  });
  const outFeatures = parts.reduce((n, p) => n + p.outFeatures, 0);
  return { path: names.projection(layer, kind), layer, kind, inFeatures: parts[0].inFeatures, outFeatures, parts };
}

/** Whether any part of the fused projection `kind` has a bias (the fused bias then has zeros for the others). */
export function fusedHasBias(config: ModelConfig, kind: FusedProjectionKind): boolean {
  return FUSED_PROJECTIONS[kind].some((part) => hasBias(config, part));
}

/**
 * The sites of the generation graphs' decoder, in layer order: per layer qkv_proj, o_proj, gate_up_proj and
 * down_proj, the fused ones with their parts.
 */
export function fusedLinearSites(config: ModelConfig): LinearSite[] {
  const sites: LinearSite[] = [];
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const plain = (kind: ProjectionKind): LinearSite => {
      const [outFeatures, inFeatures] = projectionShape(config, kind);
      return { path: names.projection(layer, kind), layer, kind, inFeatures, outFeatures };
    };
    sites.push(fusedSite(config, layer, 'qkv_proj'), plain('o_proj'), fusedSite(config, layer, 'gate_up_proj'), plain('down_proj'));
  }
  return sites;
}

/**
 * The checkpoint tensors a fused weight or bias name ("model.layers.3.self_attn.qkv_proj.weight") concatenates,
 * in order, each with its row count; a part without a bias is null (zeros in the fused bias). Null when `name`
 * is not a fused tensor's.
 */
export function fusedWeightParts(config: ModelConfig, name: string): { readonly name: string | null; readonly rows: number }[] | null {
  const m = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.(qkv_proj|gate_up_proj)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const [layer, kind, tensor] = [Number(m[1]), m[2] as FusedProjectionKind, m[3]];
  if (layer >= config.numHiddenLayers || name !== `${names.projection(layer, kind)}.${tensor}`) return null;
  return FUSED_PROJECTIONS[kind].map((part) => ({
    name: tensor === 'weight' || hasBias(config, part) ? `${names.projection(layer, part)}.${tensor}` : null,
    rows: projectionShape(config, part)[0],
  }));
}
