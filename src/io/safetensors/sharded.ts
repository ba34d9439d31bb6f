// HF checkpoint folders: a single `model.safetensors`, or shards `model-0000i-of-0000N.safetensors` listed in
// `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: shardFile}}). Reading presents the
// same interface as one file; writing splits tensors into shards as huggingface_hub's
// `split_state_dict_into_shards_factory` does and writes the index as transformers' `save_pretrained` does.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { writeFileAtomically } from './atomic-write.ts';
import type { TensorInfo } from './header.ts';
import { pythonJsonDumps } from './json-format.ts';
import { openSafetensors, type RawTensor, type SafetensorsReader } from './read.ts';
import { layoutSafetensors, prepareTensors, type PreparedTensor, type TensorsToWrite } from './write.ts';

/** File name of an unsharded checkpoint. */
export const SINGLE_FILE_NAME = 'model.safetensors';
/** File name of the shard index. */
export const INDEX_FILE_NAME = 'model.safetensors.index.json';
/** Shard file names as transformers writes them (the stale-shard clean-up matches this). */
const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

/** A reader over a whole checkpoint folder, sharded or not. */
export interface CheckpointReader extends SafetensorsReader {
  /** Absolute paths of the safetensors files read. */
  readonly files: readonly string[];
  /** The index's `metadata` (e.g. `{total_size}`), or undefined for an unsharded checkpoint. */
  readonly indexMetadata: Readonly<Record<string, unknown>> | undefined;
  /** Path of the file that holds tensor `name`. */
  fileOf(name: string): string;
}

function badIndex(indexPath: string, problem: string): RoadsterError {
  return new RoadsterError(
    'E_SAFETENSORS',
    `${indexPath}: ${problem} Re-save the checkpoint or repair its index.`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Read and validate the index; returns its metadata and weight map. */
interface ShardIndex {
  readonly metadata: Record<string, unknown> | undefined;
  readonly weightMap: Map<string, string>;
}

function readIndex(indexPath: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (error) {
    throw badIndex(indexPath, `is not valid JSON (${(error as Error).message}).`);
  }
  if (!isPlainObject(json) || !isPlainObject(json.weight_map)) {
    throw badIndex(
      indexPath,
      'has no "weight_map" object; expected {"metadata": {...}, "weight_map": {tensor: file}}.',
    );
  }
  if (json.metadata !== undefined && json.metadata !== null && !isPlainObject(json.metadata)) {
    throw badIndex(indexPath, `has "metadata" = ${JSON.stringify(json.metadata)}; expected an object.`);
  }
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(json.weight_map)) {
    if (typeof file !== 'string' || file === '' || path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) {
      throw badIndex(
        indexPath,
        `maps tensor "${tensor}" to ${JSON.stringify(file)}; expected a file name inside the checkpoint folder.`,
      );
    }
    weightMap.set(tensor, file);
  }
  return { metadata: isPlainObject(json.metadata) ? json.metadata : undefined, weightMap };
}

/**
 * Open a checkpoint folder. Like transformers' `from_pretrained`, `model.safetensors` is used when present and
 * the index otherwise. With an index, every shard's header is read and checked now: a missing shard throws
 * 'E_NOT_FOUND' naming the file, a tensor the index lists but its shard lacks throws 'E_SAFETENSORS'. Tensors a
 * shard holds but the index does not list are not exposed. `metadata` is the first shard's `__metadata__`.
 */
export function openCheckpoint(folder: string): CheckpointReader {
  const single = path.resolve(folder, SINGLE_FILE_NAME);
  const indexPath = path.resolve(folder, INDEX_FILE_NAME);
  if (fs.existsSync(single)) {
    const reader = openSafetensors(single);
    const fileOf = (name: string): string => {
      reader.info(name); // throws for an unknown tensor
      return single;
    };
    return { ...reader, files: [single], indexMetadata: undefined, fileOf };
  }
  if (!fs.existsSync(indexPath)) {
    throw new RoadsterError(
      'E_NOT_FOUND',
      `${path.resolve(folder)}: no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME}; expected a HF checkpoint folder.`,
    );
  }
  const { metadata: indexMetadata, weightMap } = readIndex(indexPath);
  const shardNames = [...new Set(weightMap.values())].sort();
  const shards = new Map<string, SafetensorsReader>();
  try {
    for (const shardName of shardNames) {
      const shardPath = path.resolve(folder, shardName);
      if (!fs.existsSync(shardPath)) {
        throw new RoadsterError(
          'E_NOT_FOUND',
          `${shardPath}: shard file listed in ${indexPath} does not exist; the checkpoint is incomplete, ` +
            'download it again.',
        );
      }
      shards.set(shardName, openSafetensors(shardPath));
    }
    for (const [tensor, shardName] of weightMap) {
      const shard = shards.get(shardName)!;
      if (!shard.has(tensor)) {
        throw new RoadsterError(
          'E_SAFETENSORS',
          `${shard.source}: has no tensor "${tensor}", which ${indexPath} places in it; the index and the shards ` +
            'disagree, re-save or re-download the checkpoint.',
        );
      }
    }
  } catch (error) {
    for (const shard of shards.values()) shard.close();
    throw error;
  }
  // Names grouped by shard, in each shard's offset order, so that reading in this order reads files sequentially.
  const names = shardNames.flatMap((shardName) =>
    shards.get(shardName)!.tensorNames().filter((name) => weightMap.get(name) === shardName),
  );
  let closed = false;
  const shardOf = (name: string): SafetensorsReader => {
    if (closed) {
      throw new RoadsterError('E_USAGE', `${indexPath}: checkpoint is closed; open it again to read "${name}".`);
    }
    const shardName = weightMap.get(name);
    if (shardName === undefined) {
      throw new RoadsterError(
        'E_WEIGHTS',
        `${indexPath}: has no tensor "${name}" (${weightMap.size} tensors listed); check the tensor name.`,
      );
    }
    return shards.get(shardName)!;
  };
  return {
    source: indexPath,
    metadata: shardNames.length > 0 ? shards.get(shardNames[0])!.metadata : undefined,
    files: shardNames.map((shardName) => shards.get(shardName)!.source),
    indexMetadata,
    tensorNames: () => [...names],
    has: (name) => weightMap.has(name),
    info: (name): TensorInfo => shardOf(name).info(name),
    readTensor: (name): RawTensor => shardOf(name).readTensor(name),
    readFloat32: (name) => shardOf(name).readFloat32(name),
    readFloat64: (name) => shardOf(name).readFloat64(name),
    fileOf: (name) => shardOf(name).source,
    close: () => {
      if (closed) return;
      closed = true;
      for (const shard of shards.values()) shard.close();
    },
  };
}

/** Split tensors into shards as huggingface_hub does: in order, a new shard when the next would overflow. */
function splitIntoShards(tensors: readonly PreparedTensor[], maxShardBytes: number): PreparedTensor[][] {
  const shards: PreparedTensor[][] = [];
  let current: PreparedTensor[] = [];
  let currentBytes = 0;
  for (const tensor of tensors) {
    const size = tensor.bytes.byteLength;
    if (size > maxShardBytes) {
      shards.push([tensor]); // an oversized tensor gets a shard of its own, placed before the open shard
      continue;
    }
    if (currentBytes + size > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(tensor);
    currentBytes += size;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** What `writeShardedCheckpoint` wrote. */
export interface WrittenCheckpoint {
  /** Paths of the safetensors files, in shard order. */
  readonly files: readonly string[];
  /** Path of the index, or undefined when everything fit in one `model.safetensors`. */
  readonly indexFile: string | undefined;
  /** Sum of all tensors' byte lengths (the index's `metadata.total_size`). */
  readonly totalSize: number;
}

/**
 * Write a checkpoint folder as transformers' `save_pretrained(safe_serialization=True)` does: tensors are
 * grouped, in the given order, into shards of at most `maxShardBytes` (a larger tensor gets its own shard);
 * one shard is written as `model.safetensors`, several as `model-0000i-of-0000N.safetensors` plus
 * `model.safetensors.index.json` (`json.dumps(index, indent=2, sort_keys=True) + "\n"`). Each shard has
 * `metadata` (default {"format": "pt"}). Every file is written atomically; afterwards stale shards from an
 * earlier save are removed, as transformers does, and so is the other layout's file (a stale
 * `model.safetensors` would otherwise shadow new shards).
 */
export function writeShardedCheckpoint(
  folder: string,
  tensors: TensorsToWrite,
  maxShardBytes: number,
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): WrittenCheckpoint {
  if (!(Number.isSafeInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new RoadsterError('E_USAGE', `maxShardBytes must be a positive integer, got ${maxShardBytes}.`);
  }
  const prepared = prepareTensors(tensors);
  const shards = splitIntoShards(prepared, maxShardBytes);
  const layouts = shards.map((shard) => layoutSafetensors(shard, metadata)); // validate all before writing
  const totalSize = prepared.reduce((sum, t) => sum + t.bytes.byteLength, 0);
  fs.mkdirSync(folder, { recursive: true });
  const count = shards.length;
  const fiveDigits = (i: number): string => String(i).padStart(5, '0');
  const names =
    count <= 1 ? [SINGLE_FILE_NAME] : shards.map((_, i) => `model-${fiveDigits(i + 1)}-of-${fiveDigits(count)}.safetensors`);
  const files = names.map((name) => path.resolve(folder, name));
  if (count === 0) writeFileAtomically(files[0], [layoutSafetensors([], metadata).head]);
  layouts.forEach((layout, i) => writeFileAtomically(files[i], [layout.head, ...layout.chunks]));
  let indexFile: string | undefined;
  if (count > 1) {
    // fromEntries defines own properties, so even a tensor called "__proto__" is kept as a key.
    const weightMap = Object.fromEntries(shards.flatMap((shard, i) => shard.map((t) => [t.name, names[i]])));
    const text = `${pythonJsonDumps({ metadata: { total_size: totalSize }, weight_map: weightMap })}\n`;
    indexFile = path.resolve(folder, INDEX_FILE_NAME);
    writeFileAtomically(indexFile, [new TextEncoder().encode(text)]);
  }
  const keep = new Set(names);
  for (const entry of fs.readdirSync(folder)) {
    const otherLayout = count > 1 ? SINGLE_FILE_NAME : INDEX_FILE_NAME;
    const stale = !keep.has(entry) && (SHARD_NAME.test(entry) || entry === otherLayout);
    if (stale && fs.statSync(path.join(folder, entry)).isFile()) fs.rmSync(path.join(folder, entry));
  }
  return { files, indexFile, totalSize };
}
