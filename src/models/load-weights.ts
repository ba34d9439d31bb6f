// Reads a checkpoint's tensors for a model config: every expected tensor must be present with its expected
// shape (errors name the tensor and both shapes); F16/BF16/F64 are converted to float32 on load. Tensors the
// model never uses are an error naming them: transformers only warns about unexpected keys, but a config.json
// that describes fewer layers (or another architecture) than its weights gives wrong outputs without a word.
// The ones transformers ignores silently load: rotary inv_freq buffers, and lm_head.weight next to tied
// embeddings (or next to a classification head).

import { RoadsterError } from '../errors.ts';
import type { ModelConfig } from '../io/config/index.ts';
import { openCheckpoint } from '../io/safetensors/index.ts';
import type { SafetensorsReader } from '../io/safetensors/read.ts';
import type { WeightSpec } from './llama/checkpoint-names.ts';

export interface Weight {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Tensors a checkpoint may hold that no model here reads (transformers ignores them without a warning). */
const IGNORED: readonly RegExp[] = [/\.rotary_emb\.inv_freq$/, /^lm_head\.weight$/];

/** Validates and reads every tensor in `specs` from the checkpoint in `folder`; any other tensor is an error. */
export function loadWeights(folder: string, specs: readonly WeightSpec[], config: ModelConfig): Map<string, Weight> {
  const reader = openCheckpoint(folder);
  try {
    return readWeights(reader, specs, config);
  } finally {
    reader.close();
  }
}

/**
 * `loadWeights` on an open reader (a file, a sharded checkpoint, or bytes in memory from `parseSafetensors`);
 * the caller closes it. F32 tensors of an in-memory reader may share its buffer.
 */
export function readWeights(
  reader: SafetensorsReader & { fileOf?(name: string): string },
  specs: readonly WeightSpec[],
  config: ModelConfig,
): Map<string, Weight> {
  const missing = specs.filter((s) => !reader.has(s.name)).map((s) => s.name);
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).join(', ') + (missing.length > 8 ? `, ... (${missing.length} in all)` : '');
    throw new RoadsterError(
      'E_WEIGHTS',
      `${reader.source}: missing tensors for a ${config.modelType} model with ${config.numHiddenLayers} layers: ${shown}. ` +
        'Check that config.json belongs to these weights.',
    );
  }
  for (const s of specs) {
    const found = reader.info(s.name).shape;
    if (found.length !== s.shape.length || found.some((d, i) => d !== s.shape[i])) {
      throw new RoadsterError(
        'E_WEIGHTS',
        `${reader.fileOf?.(s.name) ?? reader.source}: tensor "${s.name}" has shape [${found.join(', ')}] but config.json implies [${s.shape.join(', ')}]. ` +
          'Check that config.json belongs to these weights.',
      );
    }
  }
  const expected = new Set(specs.map((s) => s.name));
  const unused = reader.tensorNames().filter((n) => !expected.has(n) && !IGNORED.some((re) => re.test(n)));
  if (unused.length > 0) {
    const beyond = unused.filter((n) => Number(/^model\.layers\.(\d+)\./.exec(n)?.[1] ?? -1) >= config.numHiddenLayers);
    const shown = unused.slice(0, 6).join(', ') + (unused.length > 6 ? `, ... (${unused.length} in all)` : '');
    throw new RoadsterError(
      'E_WEIGHTS',
      `${reader.source}: holds tensors that a ${config.modelType} model with ${config.numHiddenLayers} layers never uses: ${shown}. ` +
        (beyond.length > 0 ? `The weights have more layers than num_hidden_layers in config.json says; ` : '') +
        'Check that config.json belongs to these weights.',
    );
  }
  const weights = new Map<string, Weight>();
  for (const s of specs) weights.set(s.name, { shape: s.shape, data: reader.readFloat32(s.name) });
  return weights;
}
