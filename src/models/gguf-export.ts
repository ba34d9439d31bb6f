// Exports a causal LM of the Llama family to a GGUF file that llama.cpp runs (and so Ollama and LM Studio), as
// llama.cpp's convert_hf_to_gguf.py does for LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM: the
// architecture's hyper-parameters as `<arch>.*` metadata, the tokenizer as `tokenizer.*` metadata, and every
// tensor under llama.cpp's name, with q_proj / k_proj rows permuted for the `llama` architecture (see
// llama/gguf-names.ts). F16 files keep 1-D tensors (norms, biases, RoPE factors) in F32, as the converter does.
// Tied embeddings give no `output.weight`: llama.cpp then reads the output head from `token_embd.weight`.

import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { RoadsterError } from '../errors.ts';
import { type ModelConfig, ropeInvFreq } from '../io/config/index.ts';
import {
  GgmlType,
  LlamaFileType,
  gguf,
  looksLikeGguf,
  placeholderTokenizerMetadata,
  tokenizerMetadata,
  writeGguf,
  type GgufTensorToWrite,
  type GgufValue,
} from '../io/gguf/index.ts';
import type { CausalLM } from './causal-lm.ts';
import { causalLmTensors } from './heads/lm-head.ts';
import { type LlamaCppArch, ggufOnlyNames, ggufTensorNames, llamaCppArch, permutesQk, qkProjection } from './llama/gguf-names.ts';

/** The tensor types `exportGguf` writes. */
export const GGUF_DTYPES = ['f32', 'f16'] as const;
/** `f32`: every tensor F32; `f16`: matrices F16, 1-D tensors F32. */
export type GgufDtype = (typeof GGUF_DTYPES)[number];

/** Where the vocabulary comes from: the tokenizer files of a folder, or a byte-level placeholder (token ids only). */
export type GgufVocabulary = { readonly folder: string } | 'placeholder';

export interface GgufExportOptions {
  readonly vocabulary: GgufVocabulary;
  /** Default 'f32'. */
  readonly dtype?: string;
  /** `general.name` (default: the model's source, last path component). */
  readonly name?: string;
}

/** What an export wrote. */
export interface GgufExportSummary {
  readonly out: string;
  readonly architecture: LlamaCppArch;
  readonly dtype: GgufDtype;
  readonly tensors: number;
  readonly bytes: number;
  readonly vocabulary: 'tokenizer' | 'placeholder';
  /** llama.cpp's pre-tokenizer name, when the vocabulary is the model's tokenizer. */
  readonly preTokenizer: string | null;
  /** What llama.cpp will not reproduce exactly (e.g. a sliding window), for the user to know. */
  readonly warnings: readonly string[];
}

/** Largest finite float16. */
const F16_MAX = 65504;

function isGgufDtype(dtype: string): dtype is GgufDtype {
  return (GGUF_DTYPES as readonly string[]).includes(dtype);
}

/**
 * Reorders the rows of a q_proj / k_proj weight [heads·D, C] (or bias, rowLength 1) from HF's rotate-half layout
 * to GGML's adjacent pairs, per head: new row h·D + 2j + p = old row h·D + p·D/2 + j (convert_hf_to_gguf.py's
 * `LlamaModel.permute`: reshape(heads, 2, D/2, C).swapaxes(1, 2)).
 */
export function permuteQkRows(data: Float32Array, heads: number, rowLength: number): Float32Array {
  return reorderRows(data, heads, rowLength, false);
}

/** The inverse of `permuteQkRows`. */
export function unpermuteQkRows(data: Float32Array, heads: number, rowLength: number): Float32Array {
  return reorderRows(data, heads, rowLength, true);
}

function reorderRows(data: Float32Array, heads: number, rowLength: number, inverse: boolean): Float32Array {
  const rows = data.length / rowLength;
  const d = rows / heads; // D
  const half = d / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let p = 0; p < 2; p++) {
        const hf = h * d + p * half + j; // (h, p, j) in HF's layout
        const gg = h * d + 2 * j + p; // (h, j, p) in GGML's
        const [from, to] = inverse ? [gg, hf] : [hf, gg];
        out.set(data.subarray(from * rowLength, (from + 1) * rowLength), to * rowLength);
      }
    }
  }
  return out;
}

/** The `<arch>.*` hyper-parameters, as LlamaModel / Qwen2Model.set_gguf_parameters write them. */
function architectureMetadata(arch: LlamaCppArch, config: ModelConfig, warnings: string[]): [string, GgufValue][] {
  const k = (key: string) => `${arch}.${key}`;
  const entries: [string, GgufValue][] = [
    [k('context_length'), gguf.u32(config.maxPositionEmbeddings)],
    [k('embedding_length'), gguf.u32(config.hiddenSize)],
    [k('feed_forward_length'), gguf.u32(config.intermediateSize)],
    [k('block_count'), gguf.u32(config.numHiddenLayers)],
    [k('attention.head_count'), gguf.u32(config.numAttentionHeads)],
    [k('attention.head_count_kv'), gguf.u32(config.numKeyValueHeads)],
    [k('rope.freq_base'), gguf.f32(config.ropeTheta)],
    [k('attention.layer_norm_rms_epsilon'), gguf.f32(config.rmsNormEps)],
    [k('attention.key_length'), gguf.u32(config.headDim)],
    [k('attention.value_length'), gguf.u32(config.headDim)],
    [k('rope.dimension_count'), gguf.u32(config.headDim)],
    [k('vocab_size'), gguf.u32(config.vocabSize)],
  ];
  const scaling = config.ropeScaling;
  switch (scaling.type) {
    case 'none':
    case 'llama3': // written as the rope_freqs tensor
      break;
    case 'linear':
      entries.push([k('rope.scaling.type'), gguf.str('linear')], [k('rope.scaling.factor'), gguf.f32(scaling.factor)]);
      break;
  }
  if (config.slidingWindow !== null) {
    warnings.push(
      `the model uses a sliding window of ${config.slidingWindow} tokens in ${config.layerTypes.filter((t) => t === 'sliding').length} layers, ` +
        `which llama.cpp's ${arch} architecture does not apply: its outputs match only for contexts up to ${config.slidingWindow} tokens`,
    );
  }
  return entries;
}

/** Llama 3.1 RoPE: per-frequency divisors of theta, as llama.cpp's `rope_freqs.weight` [D/2] (1 = unscaled). */
function ropeFreqFactors(config: ModelConfig): Float32Array {
  const scaled = ropeInvFreq(config);
  const plain = ropeInvFreq({ headDim: config.headDim, ropeTheta: config.ropeTheta, ropeScaling: { type: 'none' } });
  return Float32Array.from(plain, (f, i) => f / scaled[i]);
}

function f16Overflow(data: Float32Array): number | null {
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) > F16_MAX && Number.isFinite(data[i])) return data[i];
  return null;
}

/** The tensors to write, in checkpoint order, under llama.cpp's names. */
function ggufTensors(model: CausalLM, arch: LlamaCppArch, dtype: GgufDtype): GgufTensorToWrite[] {
  const config = model.config;
  const rename = ggufTensorNames(config.numHiddenLayers);
  const tensors: GgufTensorToWrite[] = [];
  const push = (name: string, shape: readonly number[], data: Float32Array) => {
    const type = dtype === 'f16' && shape.length > 1 ? GgmlType.F16 : GgmlType.F32;
    if (type === GgmlType.F16) {
      const big = f16Overflow(data);
      if (big !== null) {
        throw new RoadsterError('E_GGUF', `tensor ${name} holds ${big}, beyond float16's range (±${F16_MAX}); export with --dtype f32.`);
      }
    }
    tensors.push({ name, type, shape, data });
  };
  for (const spec of causalLmTensors(config)) {
    const weight = model.weights.get(spec.name);
    if (weight === undefined) throw new RoadsterError('E_WEIGHTS', `${model.source}: no weight "${spec.name}" to export.`);
    let data = weight.data;
    const projection = permutesQk(arch) ? qkProjection(spec.name) : null;
    if (projection !== null) {
      const heads = projection === 'q_proj' ? config.numAttentionHeads : config.numKeyValueHeads;
      data = permuteQkRows(data, heads, spec.shape.length > 1 ? spec.shape[1] : 1);
    }
    push(rename.get(spec.name)!, spec.shape, data);
  }
  if (config.ropeScaling.type === 'llama3') push(ggufOnlyNames.ropeFreqs, [config.headDim / 2], ropeFreqFactors(config));
  return tensors;
}

/**
 * The metadata and tensors of a GGUF file for `model`.
 * @throws RoadsterError E_USAGE for an unsupported dtype, E_GGUF for a model llama.cpp cannot run or float16
 * overflow, E_TOKENIZER for a tokenizer that cannot be exported
 */
export async function ggufFromModel(
  model: CausalLM,
  options: GgufExportOptions,
): Promise<{ metadata: Map<string, GgufValue>; tensors: GgufTensorToWrite[]; summary: Omit<GgufExportSummary, 'out' | 'bytes' | 'tensors'> }> {
  const dtype = options.dtype ?? 'f32';
  if (!isGgufDtype(dtype)) {
    throw new RoadsterError('E_USAGE', `GGUF dtype "${dtype}" is not written; use one of ${GGUF_DTYPES.join(', ')} ` +
      '(for quantized files, run llama.cpp\'s llama-quantize on the f32 or f16 export).');
  }
  if (model.head.type !== 'lm') {
    throw new RoadsterError('E_GGUF', `${model.source} is ${model.head.description}, not a language model; llama.cpp runs causal language ` +
      'models only. Export the base model or merge a causal-LM adapter (withoutLabelWords gives label words back their language model).');
  }
  const config = model.config;
  const arch = llamaCppArch(config.modelType);
  const warnings: string[] = [];
  const vocabulary = options.vocabulary === 'placeholder'
    ? placeholderTokenizerMetadata(config.vocabSize, config)
    : await tokenizerMetadata(options.vocabulary.folder, config.vocabSize, config);
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gguf.str(arch)],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(options.name ?? basename(model.source))],
    ['general.file_type', gguf.u32(dtype === 'f16' ? LlamaFileType.MOSTLY_F16 : LlamaFileType.ALL_F32)],
    ...architectureMetadata(arch, config, warnings),
    ...vocabulary,
  ]);
  const pre = vocabulary.get('tokenizer.ggml.pre');
  return {
    metadata,
    tensors: ggufTensors(model, arch, dtype),
    summary: {
      architecture: arch,
      dtype,
      vocabulary: options.vocabulary === 'placeholder' ? 'placeholder' : 'tokenizer',
      preTokenizer: options.vocabulary === 'placeholder' || pre === undefined ? null : String(pre.value),
      warnings,
    },
  };
}

/** Refuses to replace anything but a GGUF file (a folder, or a file of another kind, is someone's data). */
function checkTarget(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isFile()) throw new RoadsterError('E_USAGE', `${out} exists and is not a file; choose a .gguf file path.`);
  const head = new Uint8Array(4);
  const fd = openSync(out, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (!looksLikeGguf(head)) {
    throw new RoadsterError('E_USAGE', `${out} exists and is not a GGUF file; refusing to overwrite it. Choose another path or remove it.`);
  }
}

/**
 * Writes `model` as a GGUF file at `out`, atomically (an existing GGUF file there is replaced; anything else
 * is refused).
 * @throws RoadsterError as `ggufFromModel`; E_USAGE when `out` holds something that is not a GGUF file
 */
export async function exportGguf(model: CausalLM, out: string, options: GgufExportOptions): Promise<GgufExportSummary> {
  checkTarget(out);
  const { metadata, tensors, summary } = await ggufFromModel(model, options);
  writeGguf(out, metadata, tensors);
  return { ...summary, out, tensors: tensors.length, bytes: statSync(out).size };
}
