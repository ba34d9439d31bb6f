// Model folders and Hugging Face caches written into temporary folders for loading tests: the tiny-llama fixture's
// tensors re-saved in other dtypes or layouts, and a cache laid out exactly as Python's huggingface_hub writes it
// (refs/{revision}, blobs/{sha}, snapshots/{commit}/{file} as relative symlinks).

import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCheckpoint } from '../../src/io/safetensors/index.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { TINY_LLAMA } from './fixtures.ts';

/** A tensor as read from a checkpoint, in float32. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The tiny-llama fixture's config.json (parsed) and its tensors in file order. */
export function tinyLlama(): { configJson: Record<string, unknown>; tensors: NamedTensor[] } {
  const configJson = JSON.parse(readFileSync(join(TINY_LLAMA, 'config.json'), 'utf8')) as Record<string, unknown>;
  const reader = openCheckpoint(TINY_LLAMA);
  try {
    const tensors = reader.tensorNames().map((name) => ({ name, shape: reader.info(name).shape, data: reader.readFloat32(name) }));
    return { configJson, tensors };
  } finally {
    reader.close();
  }
}

/** Writes `config.json` into `dir` (created). */
export function writeConfig(dir: string, configJson: Readonly<Record<string, unknown>>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(configJson, null, 2)}\n`);
}

/** A Python-style Hub cache for one repository at one commit, with refs/main pointing to it. */
export function writePythonCache(cacheDir: string, repoId: string, commit: string, files: Readonly<Record<string, Uint8Array | string>>): void {
  const storage = join(cacheDir, ['models', ...repoId.split('/')].join('--'));
  mkdirSync(join(storage, 'refs'), { recursive: true });
  writeFileSync(join(storage, 'refs', 'main'), commit);
  for (const [file, content] of Object.entries(files)) {
    const etag = createHash('sha256').update(content).digest('hex');
    const blob = join(storage, 'blobs', etag);
    const pointer = join(storage, 'snapshots', commit, file);
    mkdirSync(dirname(blob), { recursive: true });
    mkdirSync(dirname(pointer), { recursive: true });
    writeFileSync(blob, content);
    symlinkSync(relative(dirname(pointer), blob), pointer);
  }
}

/** The logits row [V] at (batch row b, position t) of a [B, T, V] tensor. */
export function logitsAt(logits: HostTensor, b: number, t: number): Float32Array {
  const [, tt, v] = logits.shape;
  const start = (b * tt + t) * v;
  return (logits.data as Float32Array).slice(start, start + v);
}

/** tiny-llama (vocabulary of 256) with the byte-level tokenizer, copied into `dir`: a model folder `train` can use. */
export function writeTinyTextModel(dir: string): string {
  const bytes = fileURLToPath(new URL('../fixtures/tokenizers/bytes/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(bytes, f), join(dir, f));
  return dir;
}
