// Preset model folders for benchmarks: a preset's exact config.json with random weights (writeRandomModel),
// written once into a cache folder (default `<os.tmpdir()>/roadster-presets/<name>-<dtype>-seed<seed>`) and
// reused by later runs, so that `bench forward` measures loading and running, not weight generation. Folders
// are written under a temporary name and renamed, so a cached folder is always complete.

import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { PRESETS, type PresetName } from '../io/config/index.ts';
import { writeRandomModel } from '../models/random-model.ts';
import type { PresetDtype } from './options.ts';

const TORCH_DTYPE: { readonly [D in PresetDtype]: string } = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };

/** The default cache of preset folders. */
export function defaultPresetCacheDir(): string {
  return join(tmpdir(), 'roadster-presets');
}

/** The config.json a preset folder of this dtype holds (the preset's, with torch_dtype set to the storage dtype). */
export function presetConfigJson(name: PresetName, dtype: PresetDtype): Record<string, unknown> {
  return { ...PRESETS[name].configJson, torch_dtype: TORCH_DTYPE[dtype] };
}

function isCached(folder: string, name: PresetName, dtype: PresetDtype): boolean {
  try {
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as unknown;
    return isDeepStrictEqual(config, presetConfigJson(name, dtype)) && existsSync(join(folder, 'model.safetensors'));
  } catch {
    return false;
  }
}

/** The cached folder of a preset, written first when absent or stale. `created` says whether it was written now. */
export function ensurePresetFolder(
  name: PresetName,
  options: { dtype: PresetDtype; seed: number; cacheDir?: string },
): { folder: string; created: boolean } {
  const folder = join(options.cacheDir ?? defaultPresetCacheDir(), `${name}-${options.dtype}-seed${options.seed}`);
  if (isCached(folder, name, options.dtype)) return { folder, created: false };
  const temporary = `${folder}.tmp-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  try {
    writeRandomModel(temporary, PRESETS[name].configJson, { seed: options.seed, dtype: options.dtype });
    rmSync(folder, { recursive: true, force: true });
    renameSync(temporary, folder);
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
  return { folder, created: true };
}
