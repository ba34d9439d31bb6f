// A summary of an adapter folder without a base model: config, parameter count, and per-module statistics of
// the parameters (RoAd: angles θ in radians and scales α; other methods: each tensor's mean, spread and range).
// Given the base model it also validates the fit and gives the trainable share, as PEFT prints it.

import { join } from 'node:path';
import { openSafetensors } from '../io/safetensors/index.ts';
import type { CausalLM } from '../models/causal-lm.ts';
import { type AdapterConfig, kindOf } from './kinds.ts';
import { SCORE_WEIGHT } from '../models/sequence-classification.ts';
import { splitWeightName } from './modules-to-save.ts';
import type { SiteParams } from './kind.ts';
import { type RoadPairsReport, roadPairsReport } from './subspace.ts';
import { ADAPTER_WEIGHTS_FILE, adapterConfigJson, readAdapterConfig, readAdapterFolder } from './peft-files.ts';

export interface TensorStats {
  readonly count: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

export interface ModuleReport {
  readonly module: string;
  /** Statistics per parameter name (e.g. road_theta, road_alpha, lora_A.weight). */
  readonly params: Record<string, TensorStats>;
}

export interface AdapterReport {
  readonly dir: string;
  readonly peftType: string;
  readonly config: Record<string, unknown>;
  readonly trainableParameters: number;
  /** Present with a base model: parameters of the base model, and the adapter's share in percent. */
  readonly baseParameters?: number;
  readonly trainablePercent?: number;
  readonly modules: readonly ModuleReport[];
  /** RoAd: which 2-D pairs the adapter uses (blocks that are not the identity); absent for other methods. */
  readonly roadPairs?: RoadPairsReport;
}

export function tensorStats(data: Float32Array): TensorStats {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / data.length;
  let sq = 0;
  for (const v of data) sq += (v - mean) ** 2;
  return { count: data.length, mean, std: Math.sqrt(sq / data.length), min, max };
}

/** Inspects the PEFT adapter folder `dir`; with `base`, also checks that it fits the model. */
export function inspectAdapter(dir: string, base?: CausalLM): AdapterReport {
  const config: AdapterConfig = readAdapterConfig(dir);
  if (base) {
    // validates shapes, names and values (the classification head's too)
    readAdapterFolder(dir, base.linearSites(), base.head.ownWeights());
  }
  // base_model.model.<module>.<prefix><param>: the method's parameters (road_theta, lora_A.weight, ...)
  const paramName = new RegExp(`^base_model\\.model\\.(.+?)\\.(${kindOf(config).prefix}.+)$`);
  const reader = openSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  try {
    const byModule = new Map<string, Record<string, TensorStats>>();
    const raw = new Map<string, Record<string, Float32Array>>();
    let total = 0;
    for (const name of reader.tensorNames()) {
      const m = paramName.exec(name);
      const [module, param] = m ? [m[1], m[2]] : name === `base_model.model.${SCORE_WEIGHT}` ? splitWeightName(SCORE_WEIGHT) : [name, 'value'];
      const data = reader.readFloat32(name);
      total += data.length;
      const entry = byModule.get(module) ?? {};
      entry[param] = tensorStats(data);
      byModule.set(module, entry);
      if (m) raw.set(module, { ...raw.get(module), [param]: data });
    }
    let baseParameters: number | undefined;
    if (base) {
      baseParameters = 0;
      for (const w of base.weights.values()) baseParameters += w.data.length;
    }
    return {
      dir,
      peftType: config.peftType,
      config: adapterConfigJson(config),
      trainableParameters: total,
      baseParameters,
      trainablePercent: baseParameters === undefined ? undefined : (100 * total) / (baseParameters + total),
      modules: [...byModule].map(([module, params]) => ({ module, params })),
      ...(config.peftType === 'ROAD' ? { roadPairs: roadPairsReport(config, raw as Map<string, SiteParams>) } : {}),
    };
  } finally {
    reader.close();
  }
}
