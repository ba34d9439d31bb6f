// PEFT's adapter folder format, both ways: adapter_config.json (sorted keys, PEFT's common fields plus the
// method's) and adapter_model.safetensors with PEFT's keys `base_model.model.<module path>.<param>` (adapter
// name stripped), F32, metadata {"format": "pt"}; the head's weights in modules_to_save (a classifier's score)
// are saved under their module's key, `base_model.model.score.weight`. Loading validates the adapter against the model: every
// wrapped module must exist and fit, every tensor must be present, of the right shape, and finite.

import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../errors.ts';
import { openSafetensors, serializeSafetensors, writeFileAtomically } from '../io/safetensors/index.ts';
import type { LinearSite } from '../models/linear.ts';
import type { CommonAdapterConfig, SiteParams } from './kind.ts';
import { type AdapterConfig, checkPeftType, kindOf, ADAPTER_KINDS } from './kinds.ts';
import type { WeightSpec } from '../models/llama/checkpoint-names.ts';
import { SCORE_WEIGHT } from '../models/sequence-classification.ts';
import { checkModulesToSave, savesHead } from './modules-to-save.ts';
import { parseTargetModules, selectSites, targetModulesToJson } from './target-modules.ts';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json' as const;
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors' as const;
/** The PEFT release whose file format roadster writes. */
export const PEFT_FORMAT_VERSION = '0.20.0';
const KEY_PREFIX = 'base_model.model.';

/** PEFT's state-dict key of a parameter, as saved (no adapter name). */
export function savedKey(path: string, param: string): string {
  return `${KEY_PREFIX}${path}.${param}`;
}

function stringOrNull(json: Readonly<Record<string, unknown>>, key: string, where: string): string | null {
  const v = json[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new RoadsterError('E_ADAPTER', `${where}: ${key} must be a string or null, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses adapter_config.json contents into a typed config. */
export function parseAdapterConfig(json: unknown, where: string, defaultTargets?: readonly string[]): AdapterConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RoadsterError('E_ADAPTER', `${where}: expected a JSON object`);
  }
  const obj = json as Record<string, unknown>;
  const peftType = checkPeftType(obj.peft_type, where);
  const modules = obj.modules_to_save;
  if (modules !== undefined && modules !== null && !(Array.isArray(modules) && modules.every((m) => typeof m === 'string'))) {
    throw new RoadsterError('E_ADAPTER', `${where}: modules_to_save must be a list of module names or null`);
  }
  const targets = obj.target_modules ?? defaultTargets;
  if (targets === undefined || targets === null) {
    throw new RoadsterError('E_ADAPTER', `${where}: target_modules is missing and this architecture has no default; list the modules to adapt`);
  }
  const common: CommonAdapterConfig = {
    targetModules: parseTargetModules(targets, where),
    modulesToSave: (modules as string[] | null | undefined) ?? null,
    baseModelNameOrPath: stringOrNull(obj, 'base_model_name_or_path', where),
    revision: stringOrNull(obj, 'revision', where),
    taskType: stringOrNull(obj, 'task_type', where) ?? 'CAUSAL_LM',
    inferenceMode: obj.inference_mode === undefined ? false : Boolean(obj.inference_mode),
  };
  checkModulesToSave(common, where);
  return ADAPTER_KINDS[peftType].parseConfig(obj, common, where);
}

/** adapter_config.json contents for a config, with PEFT's keys in sorted order. */
export function adapterConfigJson(config: AdapterConfig, options: { inferenceMode?: boolean } = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    auto_mapping: null,
    base_model_name_or_path: config.baseModelNameOrPath,
    inference_mode: options.inferenceMode ?? true,
    modules_to_save: config.modulesToSave,
    peft_type: config.peftType,
    peft_version: PEFT_FORMAT_VERSION,
    revision: config.revision,
    target_modules: targetModulesToJson(config.targetModules),
    task_type: config.taskType,
    ...kindOf(config).configJson(config),
  };
  return Object.fromEntries(Object.keys(all).sort().map((k) => [k, all[k]]));
}

/**
 * Writes adapter_config.json and adapter_model.safetensors into `dir`, each file atomically. `modules` (the
 * head of a classifier, by weight name with its shape) are saved as PEFT saves modules_to_save.
 */
export function writeAdapterFolder(
  dir: string,
  config: AdapterConfig,
  params: ReadonlyMap<string, SiteParams>,
  siteOf: (path: string) => LinearSite,
  modules: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array | Float64Array }> = new Map(),
): void {
  mkdirSync(dir, { recursive: true });
  const files = adapterFolderFiles(config, params, siteOf, modules);
  writeFileAtomically(join(dir, ADAPTER_WEIGHTS_FILE), [files[ADAPTER_WEIGHTS_FILE]]);
  writeFileAtomically(join(dir, ADAPTER_CONFIG_FILE), [files[ADAPTER_CONFIG_FILE]]);
}

/** The two files of a PEFT adapter folder as bytes (what `writeAdapterFolder` writes; a browser zips them). */
export function adapterFolderFiles(
  config: AdapterConfig,
  params: ReadonlyMap<string, SiteParams>,
  siteOf: (path: string) => LinearSite,
  modules: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array | Float64Array }> = new Map(),
): Record<typeof ADAPTER_WEIGHTS_FILE | typeof ADAPTER_CONFIG_FILE, Uint8Array> {
  const tensors = [];
  for (const [path, site] of params) {
    const shapes = kindOf(config).paramShapes(config, siteOf(path));
    for (const [param, data] of Object.entries(site)) {
      tensors.push({ name: savedKey(path, param), dtype: 'F32' as const, shape: shapes[param], data: data instanceof Float32Array ? data : Float32Array.from(data) });
    }
  }
  for (const [weight, { shape, data }] of modules) {
    tensors.push({ name: `${KEY_PREFIX}${weight}`, dtype: 'F32' as const, shape, data: data instanceof Float32Array ? data : Float32Array.from(data) });
  }
  return {
    [ADAPTER_WEIGHTS_FILE]: serializeSafetensors(tensors, { format: 'pt' }),
    [ADAPTER_CONFIG_FILE]: new TextEncoder().encode(JSON.stringify(adapterConfigJson(config), null, 2)),
  };
}

/** The parsed JSON of a folder's adapter_config.json, unvalidated. */
export function readAdapterConfigJson(dir: string): unknown {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(file)) {
    throw new RoadsterError('E_NOT_FOUND', `${file} does not exist: expected a PEFT adapter folder (adapter_config.json + ${ADAPTER_WEIGHTS_FILE})`);
  }
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RoadsterError('E_ADAPTER', `${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads adapter_config.json of a folder. */
export function readAdapterConfig(dir: string, defaultTargets?: readonly string[]): AdapterConfig {
  return parseAdapterConfig(readAdapterConfigJson(dir), join(dir, ADAPTER_CONFIG_FILE), defaultTargets);
}

/** True for a RoAd adapter_config.json without group_size (PEFT's default 64 is then assumed). */
export function assumesDefaultGroupSize(json: unknown): boolean {
  const obj = json as Record<string, unknown> | null;
  return typeof obj === 'object' && obj !== null && obj.peft_type === 'ROAD' && obj.group_size === undefined;
}

/** `error` with a note that group_size was not given, when that explains it. */
function withGroupSizeNote(error: unknown, dir: string): unknown {
  if (!(error instanceof RoadsterError) || error.code !== 'E_ADAPTER' || !/group_size/.test(error.message)) return error;
  if (!assumesDefaultGroupSize(readAdapterConfigJson(dir))) return error;
  return new RoadsterError('E_ADAPTER', `${error.message} (${join(dir, ADAPTER_CONFIG_FILE)} has no group_size, so PEFT's default 64 was assumed; ` +
    'set "group_size" to the value the adapter was trained with)', { cause: error });
}

/**
 * Reads an adapter folder written by PEFT (or by roadster) for a model whose linear layers are `sites` and whose
 * head lets adapters copy `headWeights` (ModelHead.ownWeights; for compatibility also the classification head's
 * `{ shape }` [K, C], or null for none): the config, validated parameters for every wrapped layer, and the
 * adapter's copies of the head's weights when modules_to_save lists them.
 */
export function readAdapterFolder(
  dir: string,
  sites: readonly LinearSite[],
  headWeights: readonly WeightSpec[] | { readonly shape: readonly number[] } | null = [],
): { config: AdapterConfig; params: Map<string, SiteParams>; modules: Map<string, Float32Array> } {
  const copies: readonly WeightSpec[] = headWeights === null ? [] : 'shape' in headWeights ? [{ name: SCORE_WEIGHT, shape: headWeights.shape }] : headWeights;
  const config = readAdapterConfig(dir);
  if (savesHead(config) && copies.length === 0) {
    throw new RoadsterError(
      'E_ADAPTER',
      `${join(dir, ADAPTER_CONFIG_FILE)}: modules_to_save ${JSON.stringify(config.modulesToSave)} holds a sequence-classification head (task_type ${JSON.stringify(config.taskType)}), ` +
        'but the base model has none; load the base with AutoModelForSequenceClassification.fromPretrained(model, { id2label }) (or withClassificationHead) first',
    );
  }
  const kind = kindOf(config);
  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(file)) throw new RoadsterError('E_NOT_FOUND', `${file} does not exist: the adapter folder has a config but no weights`);
  const chosen = selectSites(config.targetModules, sites, join(dir, ADAPTER_CONFIG_FILE));
  const reader = openSafetensors(file);
  const readFinite = (key: string): Float32Array => {
    const data = reader.readFloat32(key);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new RoadsterError('E_ADAPTER', `${file}: tensor "${key}" holds ${data[bad]} at index ${bad}; the adapter is broken (non-finite values)`);
    return data;
  };
  try {
    const used = new Set<string>();
    const params = new Map<string, SiteParams>();
    for (const site of chosen) {
      try {
        kind.checkSite(config, site);
      } catch (error) {
        throw withGroupSizeNote(error, dir);
      }
      const entry: Record<string, Float32Array> = {};
      for (const [param, shape] of Object.entries(kind.paramShapes(config, site))) {
        const key = savedKey(site.path, param);
        if (!reader.has(key)) {
          throw new RoadsterError('E_ADAPTER', `${file}: missing tensor "${key}" for wrapped module ${site.path}; the adapter does not fit this model`);
        }
        const info = reader.info(key);
        if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
          throw new RoadsterError(
            'E_ADAPTER',
            `${file}: tensor "${key}" has shape [${info.shape.join(', ')}] but module ${site.path} (out ${site.outFeatures}, in ${site.inFeatures}) needs [${shape.join(', ')}]; the adapter was trained for another model or config`,
          );
        }
        entry[param] = readFinite(key);
        used.add(key);
      }
      params.set(site.path, entry);
    }
    const modules = new Map<string, Float32Array>();
    for (const { name, shape } of savesHead(config) ? copies : []) {
      const key = `${KEY_PREFIX}${name}`;
      if (!reader.has(key)) {
        throw new RoadsterError('E_ADAPTER', `${file}: missing tensor "${key}": modules_to_save lists the model's head but the file does not hold it`);
      }
      const found = reader.info(key).shape;
      if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
        throw new RoadsterError(
          'E_ADAPTER',
          `${file}: the head's "${key}" has shape [${found.join(', ')}] but the model's head is [${shape.join(', ')}] ` +
            `(num_labels ${shape[0]}, hidden size ${shape[1]}); load the base model with the labels the adapter was trained with`,
        );
      }
      modules.set(name, readFinite(key));
      used.add(key);
    }
    const extra = reader.tensorNames().filter((n) => !used.has(n));
    if (extra.length > 0) {
      throw new RoadsterError(
        'E_ADAPTER',
        `${file}: ${extra.length} tensor(s) match no wrapped module of this model (e.g. "${extra[0]}"); the adapter does not fit this model`,
      );
    }
    return { config, params, modules };
  } finally {
    reader.close();
  }
}

/**
 * The number of labels of the classification head an adapter folder saves (modules_to_save), read from the
 * tensor's shape; null when it saves none. Callers give the base model a head of that size first, as PEFT users
 * pass num_labels to AutoModelForSequenceClassification.
 */
export function savedHeadLabels(dir: string): number | null {
  const config = readAdapterConfig(dir);
  if (!savesHead(config)) return null;
  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(file)) throw new RoadsterError('E_NOT_FOUND', `${file} does not exist: the adapter folder has a config but no weights`);
  const reader = openSafetensors(file);
  try {
    const key = `${KEY_PREFIX}${SCORE_WEIGHT}`;
    if (!reader.has(key)) throw new RoadsterError('E_ADAPTER', `${file}: missing tensor "${key}": modules_to_save lists the classification head but the file does not hold it`);
    return reader.info(key).shape[0];
  } finally {
    reader.close();
  }
}

/**
 * Reads an adapter folder without a base model (for composing and inspecting): the config and the parameters
 * grouped by module path as the file names them. The fit with a model is not checked here (readAdapterFolder
 * does that); the folder must be consistent in itself: each module has every parameter of its method, finite.
 */
export function readAdapterFolderUnchecked(dir: string): { config: AdapterConfig; params: Map<string, SiteParams> } {
  const config = readAdapterConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(file)) throw new RoadsterError('E_NOT_FOUND', `${file} does not exist: the adapter folder has a config but no weights`);
  const prefix = kindOf(config).prefix;
  const key = new RegExp(`^${KEY_PREFIX.replace(/\./g, '\\.')}(.+?)\\.(${prefix}.+)$`);
  const expected = config.peftType === 'ROAD' ? ['road_theta', 'road_alpha'] : ['lora_A.weight', 'lora_B.weight'];
  const reader = openSafetensors(file);
  try {
    const params = new Map<string, Record<string, Float32Array>>();
    for (const name of reader.tensorNames()) {
      const m = key.exec(name);
      if (!m) continue; // modules_to_save tensors: the callers that need them use readAdapterFolder
      const data = reader.readFloat32(name);
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new RoadsterError('E_ADAPTER', `${file}: tensor "${name}" holds ${data[bad]} at index ${bad}; the adapter is broken (non-finite values)`);
      params.set(m[1], { ...params.get(m[1]), [m[2]]: data });
    }
    for (const [path, p] of params) {
      const missing = expected.filter((e) => !(e in p));
      if (missing.length > 0) throw new RoadsterError('E_ADAPTER', `${file}: module ${path} lacks ${missing.map((e) => `"${savedKey(path, e)}"`).join(', ')}`);
      if (config.peftType === 'ROAD' && p.road_theta.length !== p.road_alpha.length) {
        throw new RoadsterError('E_ADAPTER', `${file}: module ${path} has ${p.road_theta.length} angles but ${p.road_alpha.length} scales`);
      }
    }
    if (params.size === 0) throw new RoadsterError('E_ADAPTER', `${file}: no ${config.peftType} parameters (keys ${KEY_PREFIX}<module>.${prefix}...)`);
    return { config, params };
  } finally {
    reader.close();
  }
}
