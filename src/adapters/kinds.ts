// The table of adapter methods, one entry per PEFT type (a missing method is a compile error), and the
// config union they parse into.

import { RoadsterError } from '../errors.ts';
import type { AdapterKind, PeftType } from './kind.ts';
import type { LoraConfig } from './lora/config.ts';
import { LORA_KIND } from './lora/kind.ts';
import type { RoadConfig } from './road/config.ts';
import { ROAD_KIND } from './road/kind.ts';

/** The config of each PEFT type. */
export interface ConfigOf {
  ROAD: RoadConfig;
  LORA: LoraConfig;
}

/** Any adapter config (a union discriminated by `peftType`). */
export type AdapterConfig = ConfigOf[PeftType];

export const ADAPTER_KINDS: { readonly [T in PeftType]: AdapterKind<ConfigOf[T]> } = {
  ROAD: ROAD_KIND,
  LORA: LORA_KIND,
};

export const PEFT_TYPES = Object.keys(ADAPTER_KINDS) as PeftType[];

/** The method of a config, typed loosely for code that handles every method alike. */
export function kindOf(config: AdapterConfig): AdapterKind<AdapterConfig> {
  return ADAPTER_KINDS[config.peftType] as unknown as AdapterKind<AdapterConfig>;
}

export function checkPeftType(value: unknown, where: string): PeftType {
  if (typeof value === 'string' && (PEFT_TYPES as string[]).includes(value)) return value as PeftType;
  throw new RoadsterError('E_ADAPTER', `${where}: peft_type ${JSON.stringify(value)} is not supported; roadster reads ${PEFT_TYPES.join(', ')}`);
}
