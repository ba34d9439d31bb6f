// Writes a randomly initialised model as a Hugging Face folder (config.json + model.safetensors) for a given
// config.json: the benchmark presets use it to get models with the exact shapes of real ones without any
// download. Init follows transformers' `_init_weights` for the Llama family: N(0, initializer_range) for
// embeddings and projections, ones for RMSNorm weights, zeros for biases.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelConfig } from '../io/config/index.ts';
import { type FloatDtype, encodeFloat32, writeSafetensors } from '../io/safetensors/index.ts';
import { seededNormals } from '../seeded-random.ts';
import { causalLmTensors } from './heads/lm-head.ts';

export interface RandomModelOptions {
  readonly seed?: number;
  /** Storage dtype of the weights (default BF16, as the real checkpoints). */
  readonly dtype?: FloatDtype;
}

/** Writes config.json and model.safetensors with random weights into `folder`; returns the parameter count. */
export function writeRandomModel(folder: string, configJson: Readonly<Record<string, unknown>>, options: RandomModelOptions = {}): number {
  const config = parseModelConfig(configJson, 'preset config');
  const std = typeof configJson.initializer_range === 'number' ? configJson.initializer_range : 0.02;
  const dtype = options.dtype ?? 'BF16';
  const next = seededNormals(options.seed ?? 0);
  mkdirSync(folder, { recursive: true });
  let count = 0;
  const tensors = causalLmTensors(config).map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    count += n;
    const data = new Float32Array(n);
    if (spec.name.endsWith('norm.weight')) data.fill(1);
    else if (!spec.name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = next() * std;
    // encoded now, so that only the stored bytes stay alive (BF16 halves the memory of a 0.5 B model)
    return { name: spec.name, dtype, shape: spec.shape, data: dtype === 'F32' ? data : encodeFloat32(data, dtype) };
  });
  writeSafetensors(join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  const torchDtype = dtype === 'BF16' ? 'bfloat16' : dtype === 'F16' ? 'float16' : 'float32';
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...configJson, torch_dtype: torchDtype }, null, 2) + '\n');
  return count;
}
