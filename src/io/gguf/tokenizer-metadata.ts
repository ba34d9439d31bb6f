// The `tokenizer.*` metadata of a GGUF file for a byte-level BPE tokenizer (tokenizer.json of GPT-2 style
// models: SmolLM, Llama 3, Qwen2), as llama.cpp's convert_hf_to_gguf.py writes it (`get_vocab_base`,
// `get_vocab_base_pre`, gguf-py's `SpecialVocab`): model "gpt2", the pre-tokenizer name llama.cpp knows for the
// tokenizer's splitting rules, one token string and type per id (ids the tokenizer lacks become "[PAD<id>]",
// UNUSED), the merges as "left right" strings, the special token ids, whether BOS/EOS are added, and the chat
// templates. llama.cpp picks the pre-tokenizer by name, not by regex, so the names are matched here from the
// tokenizer.json structure; a tokenizer whose splitting llama.cpp has no name for is refused rather than
// exported with another tokenizer's rules.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { GgufTokenType } from './constants.ts';
import { gguf, type GgufValue } from './values.ts';

/** Regex of the Split pre-tokenizer of Llama 3 (tiktoken's cl100k pattern), llama.cpp's "llama-bpe". */
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's: Llama 3's with single digits, llama.cpp's "qwen2". */
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The pre-tokenizer names written here, as llama.cpp's `llama_vocab::impl::load` accepts them. */
export type LlamaCppPreTokenizer = 'gpt-2' | 'smollm' | 'llama-bpe' | 'qwen2';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(pre: unknown): string {
  return JSON.stringify(pre)?.slice(0, 300) ?? 'nothing';
}

/**
 * The llama.cpp pre-tokenizer name of a tokenizer.json `pre_tokenizer`:
 * - ByteLevel with its built-in GPT-2 regex → "gpt-2";
 * - Digits (individual digits) then ByteLevel with the GPT-2 regex → "smollm" (SmolLM, SmolLM2);
 * - Split on Llama 3's regex then ByteLevel without regex → "llama-bpe"; on Qwen2's → "qwen2".
 * @throws RoadsterError E_TOKENIZER for any other pre-tokenizer
 */
export function llamaCppPreTokenizer(preTokenizer: unknown, origin = 'tokenizer.json'): LlamaCppPreTokenizer {
  const steps = isObject(preTokenizer) && preTokenizer.type === 'Sequence' && Array.isArray(preTokenizer.pretokenizers)
    ? (preTokenizer.pretokenizers as unknown[])
    : [preTokenizer];
  const byteLevel = (s: unknown, regex: boolean) => isObject(s) && s.type === 'ByteLevel' && (s.use_regex ?? true) === regex;
  const split = (s: unknown, pattern: string) =>
    isObject(s) && s.type === 'Split' && isObject(s.pattern) && s.pattern.Regex === pattern && s.behavior === 'Isolated';
  if (steps.length === 1 && byteLevel(steps[0], true)) return 'gpt-2';
  if (steps.length === 2 && isObject(steps[0]) && steps[0].type === 'Digits' && steps[0].individual_digits === true && byteLevel(steps[1], true)) {
    return 'smollm';
  }
  if (steps.length === 2 && byteLevel(steps[1], false)) {
    if (split(steps[0], LLAMA3_REGEX)) return 'llama-bpe';
    if (split(steps[0], QWEN2_REGEX)) return 'qwen2';
  }
  throw new RoadsterError(
    'E_TOKENIZER',
    `${origin}: the pre_tokenizer ${describe(preTokenizer)} matches none of the splitting rules llama.cpp names ` +
      '(GPT-2 byte-level, SmolLM, Llama 3, Qwen2); llama.cpp would split text differently from the tokenizer the ' +
      'model was trained with. Export with --placeholder-vocab to write token ids only.',
  );
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RoadsterError('E_TOKENIZER', `Cannot read ${path}: ${(error as Error).message}.`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new RoadsterError('E_TOKENIZER', `${path}: not valid JSON (${(error as Error).message}).`, { cause: error });
  }
}

/** Ids the model config gives for special tokens, used when tokenizer_config.json names none. */
export interface ConfigTokenIds {
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | readonly number[] | null;
  readonly padTokenId: number | null;
}

function firstId(id: number | readonly number[] | null): number | null {
  return Array.isArray(id) ? (id[0] ?? null) : (id as number | null);
}

/** A "left right" merge string from tokenizer.json's string or pair form. */
function mergeString(merge: unknown, origin: string, index: number): string {
  if (typeof merge === 'string') return merge;
  if (Array.isArray(merge) && merge.length === 2 && merge.every((m) => typeof m === 'string')) return `${merge[0]} ${merge[1]}`;
  throw new RoadsterError('E_TOKENIZER', `${origin}: model.merges[${index}] is ${describe(merge)}; expected "a b" or ["a", "b"].`);
}

/**
 * GGUF tokenizer metadata from the tokenizer files of a model folder (tokenizer.json, tokenizer_config.json,
 * chat templates). `vocabSize` is the model's: the token list has exactly that many entries.
 * @throws RoadsterError E_TOKENIZER for a missing tokenizer.json, a tokenizer that is not byte-level BPE, or one
 * with more ids than the model
 */
export async function tokenizerMetadata(folder: string, vocabSize: number, ids: ConfigTokenIds): Promise<Map<string, GgufValue>> {
  const path = join(folder, 'tokenizer.json');
  const json = await readJson(path);
  if (json === undefined) {
    throw new RoadsterError('E_TOKENIZER', `No tokenizer.json in ${folder}: llama.cpp needs the vocabulary. Pass --placeholder-vocab to ` +
      'export a byte-level placeholder vocabulary (token ids only, for benchmarks), or add the tokenizer files.');
  }
  if (!isObject(json) || !isObject(json.model)) throw new RoadsterError('E_TOKENIZER', `${path} has no "model" object.`);
  const model = json.model;
  if (model.type !== 'BPE' || !isObject(model.vocab) || !Array.isArray(model.merges)) {
    throw new RoadsterError('E_TOKENIZER', `${path}: model type ${JSON.stringify(model.type)} is not exported; only byte-level BPE ` +
      'tokenizers (GPT-2 style: SmolLM, Llama 3, Qwen2) are written to GGUF.');
  }
  if (model.byte_fallback === true) {
    throw new RoadsterError('E_TOKENIZER', `${path}: a BPE tokenizer with byte_fallback (SentencePiece style, llama.cpp's "llama" vocabulary) ` +
      'is not exported; only byte-level BPE tokenizers are.');
  }
  const pre = llamaCppPreTokenizer(json.pre_tokenizer, path);

  const tokens = new Array<string | undefined>(vocabSize);
  const types = new Array<number>(vocabSize).fill(GgufTokenType.NORMAL);
  const place = (token: string, id: unknown, type: GgufTokenType): void => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new RoadsterError('E_TOKENIZER', `${path}: token ${JSON.stringify(token)} has id ${String(id)}, not a non-negative integer.`);
    }
    if (id >= vocabSize) {
      throw new RoadsterError('E_TOKENIZER', `${path}: token ${JSON.stringify(token)} has id ${id}, but the model's vocab_size is ` +
        `${vocabSize}; the tokenizer does not belong to this model.`);
    }
    tokens[id] = token;
    types[id] = type;
  };
  for (const [token, id] of Object.entries(model.vocab)) place(token, id, GgufTokenType.NORMAL);
  for (const added of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
    if (!isObject(added) || typeof added.content !== 'string') continue;
    place(added.content, added.id, added.special === true ? GgufTokenType.CONTROL : GgufTokenType.USER_DEFINED);
  }
  const list = Array.from(tokens, (t, id) => {
    if (t !== undefined) return t;
    types[id] = GgufTokenType.UNUSED;
    return `[PAD${id}]`;
  });
  const merges = (model.merges as unknown[]).map((m, i) => mergeString(m, path, i));

  const tokenizer = Tokenizer.fromJson(json, (await readJson(join(folder, 'tokenizer_config.json'))) ?? {}, { origin: folder });
  const metadata = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    ['tokenizer.ggml.pre', gguf.str(pre)],
    ['tokenizer.ggml.tokens', gguf.strings(list)],
    ['tokenizer.ggml.token_type', gguf.i32s(types)],
    ['tokenizer.ggml.merges', gguf.strings(merges)],
  ]);
  const special = (key: string, id: number | null | undefined) => {
    if (id !== null && id !== undefined && id < vocabSize) metadata.set(`tokenizer.ggml.${key}`, gguf.u32(id));
  };
  special('bos_token_id', tokenizer.bosToken?.id ?? ids.bosTokenId);
  special('eos_token_id', tokenizer.eosToken?.id ?? firstId(ids.eosTokenId));
  special('unknown_token_id', tokenizer.unkToken?.id);
  special('padding_token_id', tokenizer.padToken?.id ?? ids.padTokenId);
  // What the post-processor adds, observed rather than inferred from the config's many spellings of it.
  const probe = 'a';
  const plain = tokenizer.encode(probe, { addSpecialTokens: false });
  const full = tokenizer.encode(probe);
  const bos = tokenizer.bosToken?.id ?? null;
  const eos = tokenizer.eosToken?.id ?? null;
  metadata.set('tokenizer.ggml.add_bos_token', gguf.bool(full.length > plain.length && bos !== null && full[0] === bos));
  metadata.set('tokenizer.ggml.add_eos_token', gguf.bool(full.length > plain.length && eos !== null && full[full.length - 1] === eos));
  for (const name of tokenizer.chatTemplateNames) {
    metadata.set(name === 'default' ? 'tokenizer.chat_template' : `tokenizer.chat_template.${name}`, gguf.str(tokenizer.chatTemplate(name)));
  }
  return metadata;
}

/** GPT-2's byte-to-character table (bytes_to_unicode): printable bytes map to themselves, the others to U+0100 on. */
function byteLevelAlphabet(): string[] {
  const chars: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCodePoint(printable ? b : next++));
  }
  return chars;
}

/**
 * A placeholder vocabulary for a model folder without a tokenizer (the benchmark presets): the config's special
 * ids as control tokens, the 256 byte-level characters in the first free ids, no merges, and "[PAD<id>]" (UNUSED)
 * for the rest. llama.cpp loads and runs the model on token ids; text tokenizes to single bytes, which says
 * nothing about the model, so this is for token-id work (benchmarks) only.
 */
export function placeholderTokenizerMetadata(vocabSize: number, ids: ConfigTokenIds): Map<string, GgufValue> {
  const bos = ids.bosTokenId;
  const eos = firstId(ids.eosTokenId);
  const specials = new Map<number, string>();
  if (eos !== null && eos < vocabSize) specials.set(eos, '<|endoftext|>');
  if (bos !== null && bos < vocabSize && !specials.has(bos)) specials.set(bos, '<|startoftext|>');
  const alphabet = byteLevelAlphabet(); // a vocabulary under 256 + specials ids holds the first bytes only
  const tokens: string[] = [];
  const types: number[] = [];
  let nextByte = 0;
  for (let id = 0; id < vocabSize; id++) {
    const special = specials.get(id);
    if (special !== undefined) tokens.push(special), types.push(GgufTokenType.CONTROL);
    else if (nextByte < alphabet.length) tokens.push(alphabet[nextByte++]), types.push(GgufTokenType.NORMAL);
    else tokens.push(`[PAD${id}]`), types.push(GgufTokenType.UNUSED);
  }
  const metadata = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    ['tokenizer.ggml.pre', gguf.str('gpt-2')],
    ['tokenizer.ggml.tokens', gguf.strings(tokens)],
    ['tokenizer.ggml.token_type', gguf.i32s(types)],
    ['tokenizer.ggml.merges', gguf.strings([])],
    ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ['tokenizer.ggml.add_eos_token', gguf.bool(false)],
  ]);
  if (bos !== null && bos < vocabSize) metadata.set('tokenizer.ggml.bos_token_id', gguf.u32(bos));
  if (eos !== null && eos < vocabSize) metadata.set('tokenizer.ggml.eos_token_id', gguf.u32(eos));
  if (ids.padTokenId !== null && ids.padTokenId < vocabSize) metadata.set('tokenizer.ggml.padding_token_id', gguf.u32(ids.padTokenId));
  return metadata;
}
