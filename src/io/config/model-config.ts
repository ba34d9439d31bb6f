// Parses a transformers `config.json` of the Llama family (model_type llama, qwen2, mistral) into one normalized,
// frozen `ModelConfig`. Defaults per architecture follow transformers' `LlamaConfig`, `Qwen2Config` and
// `MistralConfig`; biases and sliding windows follow `modeling_llama.py`, `modeling_qwen2.py` and
// `modeling_mistral.py` (Qwen2: q/k/v biased, o_proj and MLP not; Mistral: no biases).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { FieldReader } from './fields.ts';
import { parseGenerationConfig, type GenerationConfig } from './generation-config.ts';
import { parseRopeScaling, parseRopeTheta, type RopeScaling } from './rope.ts';

/** The `model_type` values this library runs. */
export const MODEL_TYPES = ['llama', 'qwen2', 'mistral'] as const;
/** A supported `model_type`. */
export type ModelType = (typeof MODEL_TYPES)[number];

/** Checkpoint dtypes a config may declare (`torch_dtype`, or `dtype` in transformers 5). */
export const TORCH_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
/** A checkpoint dtype as config.json spells it. */
export type TorchDtype = (typeof TORCH_DTYPES)[number];

/** Which projections carry a bias vector. `mlp` covers gate_proj, up_proj and down_proj. */
export interface ProjectionBias {
  readonly q: boolean;
  readonly k: boolean;
  readonly v: boolean;
  readonly o: boolean;
  readonly mlp: boolean;
}

/** Attention span of one decoder layer: all previous tokens, or the last `slidingWindow` tokens. */
export type LayerAttention = 'full' | 'sliding';

/** A normalized, validated, frozen view of config.json. Letters in comments: C hidden, H heads, D head dim. */
export interface ModelConfig {
  readonly modelType: ModelType;
  /** `architectures` as written (e.g. `["LlamaForCausalLM"]`); informative only. */
  readonly architectures: readonly string[];
  readonly hiddenSize: number; // C
  readonly numHiddenLayers: number; // L
  readonly numAttentionHeads: number; // H
  readonly numKeyValueHeads: number; // Hkv, divides H
  readonly headDim: number; // D: `head_dim`, else C / H
  readonly intermediateSize: number;
  readonly vocabSize: number; // V
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  readonly tieWordEmbeddings: boolean;
  readonly bias: ProjectionBias;
  /** Window of sliding-window layers, or null when every layer attends to all previous tokens. */
  readonly slidingWindow: number | null;
  /** One entry per layer; all 'full' when `slidingWindow` is null. */
  readonly layerTypes: readonly LayerAttention[];
  /** Always 'silu': other activations are refused when parsing. */
  readonly hiddenAct: 'silu';
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | readonly number[] | null;
  readonly padTokenId: number | null;
  readonly torchDtype: TorchDtype | null;
}

/** transformers' constructor defaults for the optional fields, per architecture. */
interface ArchDefaults {
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  /** null: as many KV heads as attention heads. */
  readonly numKeyValueHeads: number | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}

const DEFAULTS: { readonly [T in ModelType]: ArchDefaults } = {
  llama: { maxPositionEmbeddings: 2048, rmsNormEps: 1e-6, ropeTheta: 10000, numKeyValueHeads: null, bosTokenId: 1, eosTokenId: 2 },
  qwen2: { maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 10000, numKeyValueHeads: null, bosTokenId: null, eosTokenId: null },
  mistral: { maxPositionEmbeddings: 131072, rmsNormEps: 1e-6, ropeTheta: 10000, numKeyValueHeads: 8, bosTokenId: 1, eosTokenId: 2 },
};

function isModelType(value: string): value is ModelType {
  return (MODEL_TYPES as readonly string[]).includes(value);
}

function parseModelType(config: FieldReader): ModelType {
  const modelType = config.string('model_type');
  if (!isModelType(modelType)) {
    config.fail('model_type', `one of ${MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`, 'Other architectures are not supported.');
  }
  return modelType;
}

function parseBias(modelType: ModelType, config: FieldReader): ProjectionBias {
  switch (modelType) {
    case 'llama': {
      const attn = config.bool('attention_bias', false);
      return { q: attn, k: attn, v: attn, o: attn, mlp: config.bool('mlp_bias', false) };
    }
    case 'qwen2':
      return { q: true, k: true, v: true, o: false, mlp: false };
    case 'mistral':
      return { q: false, k: false, v: false, o: false, mlp: false };
  }
}

/** True when the key is written as `null` (transformers then uses None instead of the default). */
function explicitNull(config: FieldReader, key: string): boolean {
  return key in config.obj && config.obj[key] === null;
}

/** The sliding window, honouring Qwen2's `use_sliding_window` switch (transformers sets the window to None). */
function parseSlidingWindow(modelType: ModelType, config: FieldReader): number | null {
  switch (modelType) {
    case 'llama':
      return null;
    case 'qwen2':
      if (!config.bool('use_sliding_window', false)) return null;
      return explicitNull(config, 'sliding_window') ? null : config.int('sliding_window', 4096);
    case 'mistral':
      return explicitNull(config, 'sliding_window') ? null : config.int('sliding_window', 4096);
  }
}

/** Qwen2 slides only in layers >= `max_window_layers`; an explicit `layer_types` list wins (transformers 4.53+). */
function parseLayerTypes(modelType: ModelType, config: FieldReader, layers: number, window: number | null): LayerAttention[] {
  if (window === null) return new Array<LayerAttention>(layers).fill('full');
  if (config.has('layer_types')) {
    const list = config.obj.layer_types;
    const valid = Array.isArray(list) && list.length === layers &&
      list.every((t) => t === 'full_attention' || t === 'sliding_attention');
    if (!valid) config.fail('layer_types', `a list of ${layers} entries "full_attention" or "sliding_attention"`);
    return (list as string[]).map((t) => (t === 'sliding_attention' ? 'sliding' : 'full'));
  }
  switch (modelType) {
    case 'qwen2': {
      const first = config.int('max_window_layers', 28, 0);
      return Array.from({ length: layers }, (_, i) => (i >= first ? 'sliding' : 'full'));
    }
    case 'llama':
    case 'mistral':
      return new Array<LayerAttention>(layers).fill('sliding');
  }
}

function parseDtype(config: FieldReader): TorchDtype | null {
  const key = config.has('torch_dtype') ? 'torch_dtype' : 'dtype';
  if (!config.has(key)) return null;
  const dtype = config.string(key);
  if (!(TORCH_DTYPES as readonly string[]).includes(dtype)) {
    config.fail(key, `one of ${TORCH_DTYPES.map((t) => `"${t}"`).join(', ')}`);
  }
  return dtype as TorchDtype;
}

/**
 * Validates and normalizes a parsed config.json.
 * @param json the parsed file
 * @param file the file's path, used in error messages
 * @throws RoadsterError E_CONFIG naming the file and the field
 */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  const config = new FieldReader(json, file);
  const modelType = parseModelType(config);
  const defaults = DEFAULTS[modelType];

  const hiddenAct = config.string('hidden_act', 'silu');
  if (hiddenAct !== 'silu') config.fail('hidden_act', '"silu"', 'Only SwiGLU MLPs (silu) are supported.');

  const hiddenSize = config.int('hidden_size');
  const numHiddenLayers = config.int('num_hidden_layers');
  const numAttentionHeads = config.int('num_attention_heads');
  const numKeyValueHeads = config.int('num_key_value_heads', defaults.numKeyValueHeads ?? numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    config.fail('num_key_value_heads', `a divisor of num_attention_heads (${numAttentionHeads})`);
  }
  if (!config.has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
    config.fail('num_attention_heads', `a divisor of hidden_size (${hiddenSize}) when head_dim is absent`);
  }
  const headDim = config.int('head_dim', hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0) config.fail('head_dim', 'even (RoPE rotates pairs of dimensions)');

  const slidingWindow = parseSlidingWindow(modelType, config);
  const architectures = config.has('architectures') ? config.obj.architectures : [];
  if (!Array.isArray(architectures) || !architectures.every((a) => typeof a === 'string')) {
    config.fail('architectures', 'a list of strings');
  }

  const result: ModelConfig = {
    modelType,
    architectures: Object.freeze([...(architectures as string[])]),
    hiddenSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    intermediateSize: config.int('intermediate_size'),
    vocabSize: config.int('vocab_size'),
    maxPositionEmbeddings: config.int('max_position_embeddings', defaults.maxPositionEmbeddings),
    rmsNormEps: config.positive('rms_norm_eps', defaults.rmsNormEps),
    ropeTheta: parseRopeTheta(config, defaults.ropeTheta),
    ropeScaling: Object.freeze(parseRopeScaling(config)),
    tieWordEmbeddings: config.bool('tie_word_embeddings', false),
    bias: Object.freeze(parseBias(modelType, config)),
    slidingWindow,
    layerTypes: Object.freeze(parseLayerTypes(modelType, config, numHiddenLayers, slidingWindow)),
    hiddenAct: 'silu',
    bosTokenId: 'bos_token_id' in config.obj ? config.tokenId('bos_token_id') : defaults.bosTokenId,
    eosTokenId: 'eos_token_id' in config.obj ? config.tokenIds('eos_token_id') : defaults.eosTokenId,
    padTokenId: config.tokenId('pad_token_id'),
    torchDtype: parseDtype(config),
  };
  return Object.freeze(result);
}

/** config.json plus generation_config.json (null when the folder has none). */
export interface LoadedModelConfig {
  readonly model: ModelConfig;
  readonly generation: GenerationConfig | null;
}

/** Reads and parses a JSON file; E_NOT_FOUND when absent (unless `optional`), E_CONFIG when malformed. */
async function readJson(path: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && optional) return undefined;
    throw new RoadsterError('E_NOT_FOUND', `Cannot read ${path}: ${(error as Error).message}. ` +
      'Expected a Hugging Face model folder containing config.json.', { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new RoadsterError('E_CONFIG', `${path}: not valid JSON (${(error as Error).message}).`, { cause: error });
  }
}

/**
 * Loads `config.json` and, when present, `generation_config.json` from a model folder.
 * @throws RoadsterError E_NOT_FOUND without config.json, E_CONFIG for invalid contents
 */
export async function loadModelConfig(folder: string): Promise<LoadedModelConfig> {
  const configPath = join(folder, 'config.json');
  const model = parseModelConfig(await readJson(configPath, false), configPath);
  const generationPath = join(folder, 'generation_config.json');
  const generationJson = await readJson(generationPath, true);
  const generation = generationJson === undefined ? null : parseGenerationConfig(generationJson, generationPath);
  return Object.freeze({ model, generation });
}
