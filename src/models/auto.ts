// `AutoModelForCausalLM.fromPretrained` and `AutoTokenizer.fromPretrained`, as in transformers: a local model
// folder, or a Hub repository id resolved through the Hugging Face cache (downloading what is missing unless
// offline). Weights are `model.safetensors`, or `model.safetensors.index.json` plus its shards, looked up in
// that order as `from_pretrained` does; every file of one load comes from one commit. The library never reads
// the environment: callers pass Hub options (the CLI derives them with `hubOptionsFromEnv`).

import { readFile, stat } from 'node:fs/promises';
import { RoadsterError } from '../errors.ts';
import { type DownloadProgress, type HubOptions, type ResolvedModelFiles, resolveModelFiles } from '../io/hub/index.ts';
import { INDEX_FILE_NAME, SINGLE_FILE_NAME } from '../io/safetensors/index.ts';
import { Tokenizer } from '../io/tokenizer/index.ts';
import { CausalLM } from './causal-lm.ts';
import { withClassificationHead } from './sequence-classification.ts';

/** Options of the `fromPretrained` loaders. */
export interface FromPretrainedOptions extends HubOptions {
  /** Branch, tag or commit hash of a Hub repository (default "main"); ignored for local folders. */
  readonly revision?: string;
  /** Called as bytes arrive, per downloaded file (nothing is reported for cached or local files). */
  readonly onProgress?: (progress: DownloadProgress) => void;
}

/** Tokenizer files transformers reads, besides the required tokenizer.json. */
const TOKENIZER_OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Shard file names of an index, validated as the checkpoint reader will validate them again. */
async function shardNames(indexPath: string): Promise<string[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (error) {
    throw new RoadsterError('E_SAFETENSORS', `${indexPath}: not valid JSON (${(error as Error).message}). Download it again.`, { cause: error });
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new RoadsterError('E_SAFETENSORS', `${indexPath}: has no "weight_map" object; expected {"metadata": {...}, "weight_map": {tensor: file}}.`);
  }
  const files = Object.values(map as Record<string, unknown>);
  if (!files.every((f): f is string => typeof f === 'string')) {
    throw new RoadsterError('E_SAFETENSORS', `${indexPath}: "weight_map" values must be shard file names.`);
  }
  return [...new Set(files)].sort();
}

/**
 * Resolves config.json, generation_config.json (optional) and the weights: model.safetensors, else the shard
 * index and every shard it names, pinned to the commit of the first file.
 */
async function resolveCheckpoint(idOrPath: string, options: FromPretrainedOptions): Promise<ResolvedModelFiles> {
  const first = await resolveModelFiles(idOrPath, {
    ...options,
    files: ['config.json'],
    optionalFiles: ['generation_config.json', SINGLE_FILE_NAME],
  });
  if (first.files.has(SINGLE_FILE_NAME)) return first;
  const pinned = { ...options, revision: first.commitHash ?? options.revision };
  const withIndex = await resolveModelFiles(idOrPath, { ...pinned, files: ['config.json'], optionalFiles: [INDEX_FILE_NAME] });
  const indexPath = withIndex.files.get(INDEX_FILE_NAME);
  if (indexPath === undefined) {
    const where = first.source === 'local' ? `The model folder ${first.folder}` : `Hub repo ${idOrPath} (revision ${options.revision ?? 'main'}, looked in ${first.folder})`;
    const fix = first.source === 'local' || options.offline !== true
      ? 'Pass a folder with safetensors weights (PyTorch .bin checkpoints are not read; convert them with save_pretrained(safe_serialization=True)).'
      : 'Run once without offline mode (HF_HUB_OFFLINE, --offline) to download the weights into the cache.';
    throw new RoadsterError('E_NOT_FOUND', `${where} has neither ${SINGLE_FILE_NAME} nor ${INDEX_FILE_NAME}. ${fix}`);
  }
  return resolveModelFiles(idOrPath, { ...pinned, files: ['config.json', INDEX_FILE_NAME, ...(await shardNames(indexPath))] });
}

/** Loads causal language models by id or folder, as transformers' `AutoModelForCausalLM`. */
export const AutoModelForCausalLM = {
  /**
   * A `CausalLM` from a local model folder or a Hub repository id (through the HF cache).
   * @throws RoadsterError E_NOT_FOUND for a missing folder, file or uncached file offline; E_CONFIG for an
   * unsupported config.json; E_WEIGHTS for missing tensors or wrong shapes; E_SAFETENSORS for corrupt files
   */
  async fromPretrained(idOrPath: string, options: FromPretrainedOptions = {}): Promise<CausalLM> {
    const resolved = await resolveCheckpoint(idOrPath, options);
    const source = resolved.source === 'local' ? resolved.folder : `${resolved.repoId}@${resolved.commitHash}`;
    return CausalLM.fromFolder(resolved.folder, { source });
  },
};

/** Options of `AutoModelForSequenceClassification.fromPretrained`. */
export interface SequenceClassificationOptions extends FromPretrainedOptions {
  /** Class names by index (transformers' id2label); a checkpoint's own are kept when omitted. */
  readonly id2label?: readonly string[];
  /** Without id2label: this many classes named LABEL_0, LABEL_1, ... (transformers' default: 2). */
  readonly numLabels?: number;
  /** Seed of a new head's init (default 0). */
  readonly seed?: number;
  /** pad_token_id for saved config.json files when the model's has none (e.g. the tokenizer's pad or EOS id). */
  readonly padTokenId?: number;
}

/** Loads sequence classifiers by id or folder, as transformers' `AutoModelForSequenceClassification`. */
export const AutoModelForSequenceClassification = {
  /**
   * A classifier from a *ForSequenceClassification checkpoint (its `score` head and labels), or from a causal-LM
   * checkpoint with a new head of `id2label` (or `numLabels`, default 2) classes drawn from N(0,
   * initializer_range) with `seed`, and no lm_head.
   * @throws RoadsterError as AutoModelForCausalLM.fromPretrained; E_WEIGHTS when a checkpoint's head has another
   * number of labels; E_CONFIG for fewer than 2 labels
   */
  async fromPretrained(idOrPath: string, options: SequenceClassificationOptions = {}): Promise<CausalLM> {
    const model = await AutoModelForCausalLM.fromPretrained(idOrPath, options);
    const id2label =
      options.id2label ??
      (options.numLabels !== undefined ? Array.from({ length: options.numLabels }, (_, i) => `LABEL_${i}`) : model.classification?.id2label ?? ['LABEL_0', 'LABEL_1']);
    return withClassificationHead(model, { id2label, seed: options.seed, padTokenId: options.padTokenId });
  },
};

/** Loads tokenizers by id or folder, as transformers' `AutoTokenizer`. */
export const AutoTokenizer = {
  /**
   * The tokenizer of a local model folder or a Hub repository id (tokenizer.json is required; tokenizer_config.json
   * and chat_template.jinja are read when present).
   * @throws RoadsterError E_TOKENIZER for a local folder without tokenizer.json, E_NOT_FOUND for a Hub id without it
   */
  async fromPretrained(idOrPath: string, options: FromPretrainedOptions = {}): Promise<Tokenizer> {
    if (await isDirectory(idOrPath)) return Tokenizer.fromFolder(idOrPath);
    const hub = await resolveModelFiles(idOrPath, { ...options, files: ['tokenizer.json'], optionalFiles: TOKENIZER_OPTIONAL_FILES });
    return Tokenizer.fromFolder(hub.folder);
  },
};
