// LoraConfig: PEFT's LoRA config (tuners/lora/config.py, PEFT 0.20) in camelCase, with PEFT's defaults. Reading
// keeps the fields roadster implements, ignores the ones that do not change a trained adapter's math (Megatron,
// init-only sub-configs), and refuses, with a message naming the field, every one that changes the math and
// is not supported (DoRA, rank/alpha patterns, layer selection, LoRA bias, aLoRA, ...). Writing emits PEFT's
// full field list with its defaults, so that Python PEFT loads the folder unchanged.

import { RoadsterError } from '../../errors.ts';
import type { CommonAdapterConfig } from '../kind.ts';
import { parseTargetModules } from '../target-modules.ts';

/**
 * `init_lora_weights`: true (A kaiming-uniform, B = 0), false (A and B as nn.Linear's default init: a random,
 * non-identity adapter), "gaussian" (A ~ N(0, 1/r²), B = 0). "eva", "orthogonal" and "lora_ga" only choose
 * the starting values of a trained adapter: they load and save unchanged but cannot initialise a new one here.
 */
export type LoraInit = boolean | 'gaussian' | 'eva' | 'orthogonal' | 'lora_ga';
const INIT_ONLY: readonly string[] = ['gaussian', 'eva', 'orthogonal', 'lora_ga'];

export interface LoraConfig extends CommonAdapterConfig {
  readonly peftType: 'LORA';
  /** Rank of the update B·A. */
  readonly r: number;
  readonly loraAlpha: number;
  /**
   * Dropout on the LoRA branch's input during training: `lossAndGrads` with a `dropoutSeed` applies it (masks
   * from a fixed table, lora/dropout.ts); `forward` runs as PEFT's eval mode, without it.
   */
  readonly loraDropout: number;
  /** scaling = loraAlpha / √r (rank-stabilised LoRA) instead of loraAlpha / r. */
  readonly useRslora: boolean;
  readonly initLoraWeights: LoraInit;
  /** Only "none": LoRA does not train biases here. */
  readonly bias: 'none';
  /** Only false: Llama-family weights are stored [out, in]. */
  readonly fanInFanOut: false;
}

/** The factor of the update: y + scaling · B A x. */
export function loraScaling(config: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return config.useRslora ? config.loraAlpha / Math.sqrt(config.r) : config.loraAlpha / config.r;
}

const refuse = (where: string, message: string): never => {
  throw new RoadsterError('E_ADAPTER', `${where}: ${message}`);
};

function checkRank(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) refuse(where, `r must be a positive integer, got ${JSON.stringify(value)}`);
  return value as number;
}

function checkAlpha(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) refuse(where, `lora_alpha must be a finite number, got ${JSON.stringify(value)}`);
  return value as number;
}

function checkDropout(value: unknown, where: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) refuse(where, `lora_dropout must be a number in [0, 1), got ${JSON.stringify(value)}`);
  return value as number;
}

function checkInit(value: unknown, where: string): LoraInit {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && INIT_ONLY.includes(value.toLowerCase())) return value.toLowerCase() as LoraInit;
  if (typeof value === 'string' && /^(pissa|olora|corda|loftq)/i.test(value)) {
    refuse(
      where,
      `init_lora_weights "${value}" changes the base model's weights, which roadster does not reproduce; convert the adapter to plain LoRA in PEFT first (save_pretrained with path_initial_model_for_weight_conversion)`,
    );
  }
  return refuse(where, `init_lora_weights ${JSON.stringify(value)} is not supported; use true, false or "gaussian"`);
}

function checkBias(value: unknown, where: string): 'none' {
  if (value === 'none') return value;
  return refuse(where, `bias ${JSON.stringify(value)} is not supported (LoRA here trains no biases); use "none"`);
}

function checkFanInFanOut(value: unknown, where: string): false {
  if (value === false) return value;
  return refuse(where, `fan_in_fan_out ${JSON.stringify(value)} is not supported: Llama-family weights are stored [out, in]; use false`);
}

const unset = (v: unknown) => v === undefined || v === null;
const unsetOrEmpty = (v: unknown) => unset(v) || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v as object).length === 0);
const falsy = (v: unknown) => unset(v) || v === false;

/** PEFT LoRA fields that change the adapter's math and are not supported: when set, loading is refused. */
const UNSUPPORTED: readonly { key: string; isDefault: (v: unknown) => boolean; what: string }[] = [
  { key: 'rank_pattern', isDefault: unsetOrEmpty, what: 'per-module ranks' },
  { key: 'alpha_pattern', isDefault: unsetOrEmpty, what: 'per-module alphas' },
  { key: 'use_dora', isDefault: falsy, what: 'DoRA (weight-decomposed LoRA)' },
  { key: 'layers_to_transform', isDefault: unsetOrEmpty, what: 'adapting only some layers' },
  { key: 'layer_replication', isDefault: unsetOrEmpty, what: 'layer replication' },
  { key: 'exclude_modules', isDefault: unsetOrEmpty, what: 'excluded modules' },
  { key: 'lora_bias', isDefault: falsy, what: 'a bias on lora_B' },
  { key: 'use_qalora', isDefault: falsy, what: 'QA-LoRA' },
  { key: 'use_bdlora', isDefault: falsy, what: 'BD-LoRA' },
  { key: 'target_parameters', isDefault: unsetOrEmpty, what: 'LoRA on parameters' },
  { key: 'trainable_token_indices', isDefault: unsetOrEmpty, what: 'trainable tokens' },
  { key: 'alora_invocation_tokens', isDefault: unsetOrEmpty, what: 'activated LoRA (aLoRA)' },
  { key: 'arrow_config', isDefault: unset, what: 'Arrow routing' },
  { key: 'monteclora_config', isDefault: unset, what: 'MonteCLoRA' },
  { key: 'velora_config', isDefault: unset, what: 'VeLoRA' },
];

/** Parses the LoRA fields of adapter_config.json (common fields are parsed by the caller). */
export function parseLoraFields(json: Readonly<Record<string, unknown>>, common: CommonAdapterConfig, where: string): LoraConfig {
  for (const { key, isDefault, what } of UNSUPPORTED) {
    if (!isDefault(json[key])) refuse(where, `${key} = ${JSON.stringify(json[key])} asks for ${what}, which roadster does not implement; remove it or use plain LoRA`);
  }
  return {
    ...common,
    peftType: 'LORA',
    r: checkRank(json.r ?? 8, where),
    loraAlpha: checkAlpha(json.lora_alpha ?? 8, where),
    loraDropout: checkDropout(json.lora_dropout ?? 0, where),
    useRslora: json.use_rslora === undefined || json.use_rslora === null ? false : Boolean(json.use_rslora),
    initLoraWeights: checkInit(json.init_lora_weights ?? true, where),
    bias: checkBias(json.bias ?? 'none', where),
    fanInFanOut: checkFanInFanOut(json.fan_in_fan_out ?? false, where),
  };
}

/** The LoRA fields of adapter_config.json: PEFT 0.20's full list, with its defaults for what is not supported. */
export function loraFieldsJson(config: LoraConfig): Record<string, unknown> {
  return {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    bias: config.bias,
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: config.fanInFanOut,
    init_lora_weights: config.initLoraWeights,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_bias: false,
    lora_dropout: config.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    monteclora_config: null,
    qalora_group_size: 16,
    r: config.r,
    rank_pattern: {},
    target_parameters: null,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: config.useRslora,
    velora_config: null,
  };
}

/** Options of `loraConfig`, PEFT's LoraConfig arguments in camelCase. */
export interface LoraOptions {
  readonly r?: number;
  readonly loraAlpha?: number;
  readonly loraDropout?: number;
  readonly useRslora?: boolean;
  readonly initLoraWeights?: LoraInit;
  /** Module names (exact or suffix), a regex string, or "all-linear"; default: PEFT's per architecture. */
  readonly targetModules?: readonly string[] | string;
  readonly modulesToSave?: readonly string[] | null;
  readonly baseModelNameOrPath?: string | null;
  readonly taskType?: string;
}

/** PEFT's default LoRA targets per architecture (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const LORA_DEFAULT_TARGETS: { readonly [T in 'llama' | 'qwen2' | 'mistral']: readonly string[] } = {
  llama: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
};

/** A LoraConfig with PEFT's defaults (r 8, lora_alpha 8, no dropout, PEFT's init, default targets of `modelType`). */
export function loraConfig(options: LoraOptions = {}, modelType: keyof typeof LORA_DEFAULT_TARGETS = 'llama'): LoraConfig {
  const where = 'LoraConfig';
  return {
    peftType: 'LORA',
    r: checkRank(options.r ?? 8, where),
    loraAlpha: checkAlpha(options.loraAlpha ?? 8, where),
    loraDropout: checkDropout(options.loraDropout ?? 0, where),
    useRslora: options.useRslora ?? false,
    initLoraWeights: checkInit(options.initLoraWeights ?? true, where),
    bias: 'none',
    fanInFanOut: false,
    targetModules: parseTargetModules(options.targetModules ?? LORA_DEFAULT_TARGETS[modelType], where),
    modulesToSave: options.modulesToSave ?? null,
    baseModelNameOrPath: options.baseModelNameOrPath ?? null,
    revision: null,
    taskType: options.taskType ?? 'CAUSAL_LM',
    inferenceMode: false,
  };
}
