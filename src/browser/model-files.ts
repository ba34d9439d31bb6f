// A model from files the user picked (or that the page fetched): config.json, model.safetensors (or shards with
// model.safetensors.index.json), generation_config.json, tokenizer.json and tokenizer_config.json, each a Blob
// (a File) or bytes. Everything is parsed from ArrayBuffers; nothing touches a file system. The model's size is
// checked against the tab's limit from config.json and the file sizes before any weight is read.

import { RoadsterError } from '../errors.ts';
import { parseGenerationConfig } from '../io/config/generation-config.ts';
import { parseModelConfig } from '../io/config/model-config.ts';
import { parseSafetensors } from '../io/safetensors/read.ts';
import { Tokenizer } from '../io/tokenizer/tokenizer.ts';
import { CausalLM } from '../models/causal-lm.ts';
import { headFromConfigJson } from '../models/heads/kinds.ts';
import { decoderTensors } from '../models/llama/checkpoint-names.ts';
import { type Weight, readWeights } from '../models/load-weights.ts';

/** A file's contents: a Blob (File) or bytes. */
export type FileData = Blob | Uint8Array | ArrayBuffer;

/** Files by name (the name inside the model folder, e.g. "config.json"). */
export type ModelFiles = ReadonlyMap<string, FileData>;

/**
 * Float32 weight bytes a tab takes by default: 1 GiB. onnxruntime-web's WebAssembly memory is at most 4 GiB,
 * and a training session holds the weights twice there (initializers and their packed copies) beside the
 * JavaScript copy and the activations.
 */
export const DEFAULT_MAX_WEIGHT_BYTES = 2 ** 30;

export interface LoadModelFilesOptions {
  /** Name of the model in messages (default "the chosen folder"). */
  readonly source?: string;
  /** Largest model, in float32 weight bytes (default DEFAULT_MAX_WEIGHT_BYTES). */
  readonly maxWeightBytes?: number;
}

/** A loaded model with its tokenizer. */
export interface LoadedModel {
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
  /** Parameters of the base model. */
  readonly parameters: number;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

async function bytesOf(data: FileData): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(await data.arrayBuffer());
}

const sizeOf = (data: FileData): number => (data instanceof Blob ? data.size : data.byteLength);

async function jsonOf(files: ModelFiles, name: string, source: string, code: 'E_CONFIG' | 'E_TOKENIZER'): Promise<unknown> {
  const data = files.get(name);
  if (data === undefined) return undefined;
  const text = new TextDecoder().decode(await bytesOf(data));
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RoadsterError(code, `${name} of ${source} is not valid JSON (${(e as Error).message}); pick a Hugging Face model folder`);
  }
}

const formatGb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

/**
 * Loads a causal LM and its tokenizer from picked files.
 * @throws RoadsterError E_NOT_FOUND when config.json, the weights or tokenizer.json are missing, E_CONFIG /
 *   E_WEIGHTS / E_TOKENIZER when a file is not what it should be, E_TOO_LARGE over the tab's limit
 */
export async function loadModelFiles(files: ModelFiles, options: LoadModelFilesOptions = {}): Promise<LoadedModel> {
  const source = options.source ?? 'the chosen folder';
  const limit = options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  const configJson = await jsonOf(files, 'config.json', source, 'E_CONFIG');
  if (configJson === undefined) {
    const names = [...files.keys()].slice(0, 6).join(', ') || 'no files';
    throw new RoadsterError('E_NOT_FOUND', `${source} has no config.json (it holds ${names}): not a Hugging Face model folder; pick the folder with config.json, model.safetensors and tokenizer.json`);
  }
  const config = parseModelConfig(configJson, `config.json of ${source}`);
  const head = headFromConfigJson(configJson, config, `config.json of ${source}`);
  const specs = [...decoderTensors(config), ...head.weightSpecs()];
  const parameters = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  if (parameters * 4 > limit) {
    throw new RoadsterError('E_TOO_LARGE', `${source} is a model of ${(parameters / 1e6).toFixed(0)} M parameters (${formatGb(parameters * 4)} as float32); ` +
      `this tab holds at most ${formatGb(limit)} of float32 weights (onnxruntime-web's WebAssembly memory is limited to 4 GiB). Pick a smaller model, or train it with roadster on Node`);
  }
  const shardNames = files.has(INDEX) ? shardsOf(await jsonOf(files, INDEX, source, 'E_CONFIG'), source) : [SINGLE];
  for (const name of shardNames) {
    const data = files.get(name);
    if (data === undefined) throw new RoadsterError('E_NOT_FOUND', `${source} has no ${name}; the model's weights must be safetensors (${SINGLE}, or shards with ${INDEX})`);
    if (sizeOf(data) > 2 * limit) {
      throw new RoadsterError('E_TOO_LARGE', `${name} of ${source} is ${formatGb(sizeOf(data))}; this tab holds at most ${formatGb(limit)} of float32 weights`);
    }
  }
  const readers = [];
  for (const name of shardNames) readers.push(parseSafetensors(await bytesOf(files.get(name)!), `${name} of ${source}`));
  const reader = readers.length === 1 ? readers[0] : mergedReader(readers, source);
  const weights: Map<string, Weight> = readWeights(reader, specs, config);
  const generationJson = await jsonOf(files, 'generation_config.json', source, 'E_CONFIG');
  const generation = generationJson === undefined ? null : parseGenerationConfig(generationJson, `generation_config.json of ${source}`);
  const model = new CausalLM(config, weights, generation, source, { config: configJson, generationConfig: generationJson }, head);

  const tokenizerJson = await jsonOf(files, 'tokenizer.json', source, 'E_TOKENIZER');
  if (tokenizerJson === undefined) throw new RoadsterError('E_NOT_FOUND', `${source} has no tokenizer.json; the studio needs the model's tokenizer to read the training data`);
  const tokenizerConfig = (await jsonOf(files, 'tokenizer_config.json', source, 'E_TOKENIZER')) ?? {};
  const chatTemplate = files.get('chat_template.jinja');
  const templates = chatTemplate === undefined ? undefined : new Map([['default', new TextDecoder().decode(await bytesOf(chatTemplate))]]);
  const tokenizer = Tokenizer.fromJson(tokenizerJson, tokenizerConfig, { origin: source, chatTemplates: templates });
  return { model, tokenizer, parameters };
}

function shardsOf(index: unknown, source: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null) throw new RoadsterError('E_CONFIG', `${INDEX} of ${source} has no weight_map`);
  return [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
}

/** One reader over several shards (tensor names are unique across shards). */
function mergedReader(readers: ReturnType<typeof parseSafetensors>[], source: string): ReturnType<typeof parseSafetensors> {
  const owner = new Map<string, (typeof readers)[number]>();
  for (const r of readers) for (const n of r.tensorNames()) owner.set(n, r);
  const of = (name: string) => owner.get(name) ?? readers[0];
  return {
    source,
    metadata: undefined,
    tensorNames: () => [...owner.keys()],
    has: (n) => owner.has(n),
    info: (n) => of(n).info(n),
    readTensor: (n) => of(n).readTensor(n),
    readFloat32: (n) => of(n).readFloat32(n),
    readFloat64: (n) => of(n).readFloat64(n),
    close: () => readers.forEach((r) => r.close()),
  };
}
