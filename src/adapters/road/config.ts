// RoadConfig: PEFT's RoAd config (tuners/road/config.py) in camelCase, with PEFT's defaults and validation.

import { RoadsterError } from '../../errors.ts';
import type { CommonAdapterConfig } from '../kind.ts';
import { parseTargetModules } from '../target-modules.ts';
import { type RoadVariant, ROAD_VARIANTS } from './math.ts';

export interface RoadConfig extends CommonAdapterConfig {
  readonly peftType: 'ROAD';
  readonly variant: RoadVariant;
  /** Output elements are paired inside groups of this size (even; divides every target's out_features). */
  readonly groupSize: number;
  /** true: θ = 0, α = 1 (identity); false: PEFT's random init θ ~ N(0, 0.5), α ~ N(1, 0.5). */
  readonly initWeights: boolean;
}

export function checkVariant(value: unknown, where: string): RoadVariant {
  if (typeof value === 'string' && (ROAD_VARIANTS as readonly string[]).includes(value)) return value as RoadVariant;
  throw new RoadsterError('E_ADAPTER', `${where}: unknown RoAd variant ${JSON.stringify(value)}; use one of ${ROAD_VARIANTS.join(', ')}`);
}

export function checkGroupSize(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 2 || value % 2 !== 0) {
    throw new RoadsterError('E_ADAPTER', `${where}: group_size must be a positive even integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function parseRoadFields(json: Readonly<Record<string, unknown>>, common: CommonAdapterConfig, where: string): RoadConfig {
  return {
    ...common,
    peftType: 'ROAD',
    variant: checkVariant(json.variant ?? 'road_1', where),
    groupSize: checkGroupSize(json.group_size ?? 64, where),
    initWeights: json.init_weights === undefined ? true : Boolean(json.init_weights),
  };
}

export function roadFieldsJson(config: RoadConfig): Record<string, unknown> {
  return { variant: config.variant, group_size: config.groupSize, init_weights: config.initWeights };
}

/** Options of `roadConfig`, PEFT's RoadConfig arguments in camelCase. */
export interface RoadOptions {
  readonly variant?: RoadVariant;
  readonly groupSize?: number;
  /** Module names (exact or suffix), a regex string, or "all-linear"; default: PEFT's per architecture. */
  readonly targetModules?: readonly string[] | string;
  readonly modulesToSave?: readonly string[] | null;
  readonly initWeights?: boolean;
  readonly baseModelNameOrPath?: string | null;
  readonly taskType?: string;
}

/** PEFT's default RoAd targets per architecture (TRANSFORMERS_MODELS_TO_ROAD_TARGET_MODULES_MAPPING). */
export const ROAD_DEFAULT_TARGETS: { readonly [T in 'llama' | 'qwen2' | 'mistral']: readonly string[] } = {
  llama: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
};

/** A RoadConfig with PEFT's defaults (road_1, group size 64, identity init, default targets of `modelType`). */
export function roadConfig(options: RoadOptions = {}, modelType: keyof typeof ROAD_DEFAULT_TARGETS = 'llama'): RoadConfig {
  const where = 'RoadConfig';
  return {
    peftType: 'ROAD',
    variant: checkVariant(options.variant ?? 'road_1', where),
    groupSize: checkGroupSize(options.groupSize ?? 64, where),
    initWeights: options.initWeights ?? true,
    targetModules: parseTargetModules(options.targetModules ?? ROAD_DEFAULT_TARGETS[modelType], where),
    modulesToSave: options.modulesToSave ?? null,
    baseModelNameOrPath: options.baseModelNameOrPath ?? null,
    revision: null,
    taskType: options.taskType ?? 'CAUSAL_LM',
    inferenceMode: false,
  };
}
