// `roadster preset write`: a Hugging Face model folder with a preset's exact config.json (SmolLM2-135M,
// Qwen2.5-0.5B) and randomly initialised weights, for benchmarks and tests without downloads.

import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PRESETS, type PresetName } from '../../io/config/index.ts';
import { writeRandomModel } from '../../models/random-model.ts';
import { type CliIo, usageError } from '../io.ts';
import type { PresetDtype } from '../options.ts';

export interface PresetWriteOptions {
  readonly preset: PresetName;
  readonly out: string;
  readonly dtype: PresetDtype;
  readonly seed: number;
  readonly force?: boolean;
}

/** Refuses a path that is a file, or a non-empty folder unless `force`. */
function checkOutFolder(out: string, force: boolean): void {
  let entries: string[];
  try {
    if (!statSync(out).isDirectory()) throw usageError(`--out ${out} is a file; give a folder path.`);
    entries = readdirSync(out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (entries.length > 0 && !force) {
    throw usageError(`--out ${out} is not empty (${entries.length} entries); choose an empty or new folder, or pass --force ` +
      'to write config.json and model.safetensors over what is there.');
  }
}

/** `roadster preset write`. */
export function presetWrite(opts: PresetWriteOptions, io: CliIo): void {
  const out = resolve(opts.out);
  checkOutFolder(out, opts.force === true);
  const params = writeRandomModel(out, PRESETS[opts.preset].configJson, { seed: opts.seed, dtype: opts.dtype });
  io.stdout.write(`wrote ${opts.preset} (config of ${PRESETS[opts.preset].repoId}, ${params.toLocaleString('en-US')} parameters, ` +
    `${opts.dtype}, seed ${opts.seed}) to ${out}\n`);
}
