// Warnings about an adapter folder and the base model it is applied to, for what loading cannot reject: an
// adapter whose base_model_name_or_path names another model, or whose recorded base (a local folder) has another
// architecture or size, and a RoAd config without group_size (PEFT's default 64 is assumed). Shapes that do not
// fit are errors of the loader; these fit but may give wrong numbers. The library returns the warnings and
// prints nothing; callers show them (the CLI writes `warning: ...` lines).

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CausalLM } from '../models/causal-lm.ts';
import { ADAPTER_CONFIG_FILE, assumesDefaultGroupSize, readAdapterConfigJson } from './peft-files.ts';

/** config.json fields that must agree between the adapter's recorded base and the model it is applied to. */
const ARCHITECTURE_FIELDS = ['architectures', 'model_type', 'hidden_size', 'num_hidden_layers', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads'];

function sameModel(recorded: string, base: string): boolean {
  if (recorded === base) return true;
  if (existsSync(recorded) && existsSync(base)) {
    try {
      return realpathSync(recorded) === realpathSync(base);
    } catch {
      return false;
    }
  }
  // a Hub id and a local copy of it ("org/name" and ".../name") are taken as the same model
  const last = (s: string) => basename(s.replace(/[\\/]+$/, '').replace(/@[0-9a-f]{40}$/, '')).toLowerCase();
  return last(recorded) === last(base);
}

function readConfig(folder: string): Record<string, unknown> | null {
  try {
    const json = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as unknown;
    return typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * What does not look right about applying the adapter in `adapterDir` to `base` (named `baseName`, the id or
 * folder the user gave). Empty when nothing is suspicious.
 */
export function adapterBaseWarnings(adapterDir: string, base: CausalLM, baseName: string): string[] {
  const json = readAdapterConfigJson(adapterDir) as Record<string, unknown>;
  const file = join(adapterDir, ADAPTER_CONFIG_FILE);
  const warnings: string[] = [];
  const recorded = typeof json.base_model_name_or_path === 'string' && json.base_model_name_or_path !== '' ? json.base_model_name_or_path : null;
  if (recorded !== null && !sameModel(recorded, baseName)) {
    warnings.push(`the adapter was made for ${recorded} (base_model_name_or_path in ${file}), not ${baseName}; ` +
      'its numbers are only right on the base it was trained on.');
  }
  const recordedConfig = recorded !== null && existsSync(recorded) ? readConfig(recorded) : null;
  const baseConfig = base.rawFiles.config as Record<string, unknown> | undefined;
  if (recordedConfig !== null && baseConfig !== undefined) {
    const differ = ARCHITECTURE_FIELDS.filter((f) => recordedConfig[f] !== undefined && JSON.stringify(recordedConfig[f]) !== JSON.stringify(baseConfig[f]));
    if (differ.length > 0) {
      const show = (c: Record<string, unknown>) => differ.map((f) => `${f} ${JSON.stringify(c[f])}`).join(', ');
      warnings.push(`the adapter's base ${recorded} has ${show(recordedConfig)} but ${baseName} has ${show(baseConfig)}: another architecture.`);
    }
  }
  if (assumesDefaultGroupSize(json)) {
    warnings.push(`${file} has no group_size, so PEFT's default 64 was assumed; if the adapter was trained with another, set "group_size" in the file.`);
  }
  return warnings;
}
