// Which model a request names, and vLLM's runtime adapter management: `model` is the base model's served name
// or a resident adapter; POST /v1/load_lora_adapter and /v1/unload_lora_adapter load and unload PEFT folders
// (RoAd or LoRA) whose real path lies under --adapters-dir (symlinks resolved, so neither `..` nor a link leaves
// it). With --adapters-dir, a request may also name a folder of it that is not loaded yet: it is loaded on
// demand, as vLLM's filesystem LoRA resolver does. The engine's store evicts the least recently used adapter
// that no request uses; a failed load leaves everything as it was.

import { existsSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { GenerationEngine } from '../generate/engine.ts';
import { ApiError, badRequest, modelNotFound } from './errors.ts';

/** One entry of GET /v1/models, as vLLM's ModelCard. */
export interface ModelCard {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: 'roadster';
  /** The base model's path or Hub id; an adapter's folder. */
  readonly root: string;
  /** null for the base model; the base model's served name for an adapter. */
  readonly parent: string | null;
  readonly max_model_len: number | null;
}

export class ServedModels {
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #adaptersDir: string | null;

  constructor(
    private readonly engine: GenerationEngine,
    /** The base model's name in requests (--served-model-name). */
    readonly baseName: string,
    /** Where the base model came from (a folder or a Hub id). */
    private readonly baseRoot: string,
    adaptersDir: string | null,
    private readonly onWarning?: (message: string) => void,
  ) {
    this.#adaptersDir = adaptersDir === null ? null : realpathSync(adaptersDir);
  }

  /** The adapter a request's `model` names (null: the base model); loads a folder of --adapters-dir on demand. */
  resolve(model: string | undefined): string | null {
    if (model === undefined || model === this.baseName) return null;
    if (this.engine.adapters.has(model)) return model;
    const dir = this.#adaptersDir;
    if (dir !== null && /^[A-Za-z0-9._-]+$/.test(model) && model !== '.' && model !== '..' && existsSync(join(dir, model, 'adapter_config.json'))) {
      this.load(model, model);
      return model;
    }
    throw modelNotFound(model, this.names());
  }

  names(): string[] {
    return [this.baseName, ...this.engine.adapters.names];
  }

  cards(): ModelCard[] {
    const card = (id: string, root: string, parent: string | null, maxLen: number | null): ModelCard => ({
      id, object: 'model', created: this.#created, owned_by: 'roadster', root, parent, max_model_len: maxLen,
    });
    return [
      card(this.baseName, this.baseRoot, null, this.engine.maxModelLen),
      ...this.engine.adapters.names.map((n) => card(n, this.engine.adapters.source(n) ?? n, this.baseName, this.engine.maxModelLen)),
    ];
  }

  /** POST /v1/load_lora_adapter: `path` (absolute, or relative to --adapters-dir) must lie under --adapters-dir. */
  load(name: string, path: string): { evicted: readonly string[] } {
    const dir = this.requireDir();
    if (name === this.baseName) throw badRequest(`"${name}" is the base model's name; pick another lora_name`, 'lora_name');
    if (this.engine.adapters.has(name)) throw badRequest(`The lora adapter '${name}' has already been loaded; unload it first`, 'lora_name');
    const wanted = isAbsolute(path) ? path : resolve(dir, path);
    if (!existsSync(wanted)) throw badRequest(`lora_path ${path} does not exist under the adapters folder`, 'lora_path', 'not_found');
    const real = realpathSync(wanted);
    const rel = relative(dir, real);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
      throw badRequest(`lora_path ${path} resolves outside the adapters folder (--adapters-dir ${dir}); only folders inside it may be loaded`, 'lora_path', 'path_not_allowed');
    }
    if (!statSync(real).isDirectory()) throw badRequest(`lora_path ${path} is not a folder (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)`, 'lora_path');
    const loaded = this.engine.loadAdapter(name, real);
    for (const w of loaded.warnings) this.onWarning?.(`adapter "${name}": ${w}`);
    return { evicted: loaded.evicted };
  }

  /** POST /v1/unload_lora_adapter. */
  unload(name: string): void {
    this.requireDir();
    if (!this.engine.adapters.has(name)) throw new ApiError(404, `The lora adapter '${name}' cannot be found.`, 'invalid_request_error', 'lora_name', 'model_not_found');
    this.engine.unloadAdapter(name);
  }

  private requireDir(): string {
    if (this.#adaptersDir === null) {
      throw new ApiError(404, 'Loading and unloading adapters at run time is off: start roadster serve with --adapters-dir DIR to allow folders under DIR.', 'invalid_request_error', null, 'adapter_management_disabled');
    }
    return this.#adaptersDir;
  }
}
