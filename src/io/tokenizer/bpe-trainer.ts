// A small byte-level BPE trainer in the style of GPT-2 and Hugging Face tokenizers' `BpeTrainer` with the
// `ByteLevel` pre-tokenizer: text is split with GPT-2's regex, each piece becomes UTF-8 bytes written with
// GPT-2's byte-to-unicode alphabet (all 256 bytes are always in the vocabulary, so any text round-trips), and
// merges are learned greedily by pair frequency over the counted pieces. Ties are broken by the pair's strings
// (left, then right, in code-unit order), so training is deterministic. The result is written as the
// `tokenizer.json` that HF tokenizers saves for such a model (BPE vocab + merges, ByteLevel pre-tokenizer,
// post-processor and decoder) and a `tokenizer_config.json`, which transformers and `Tokenizer.fromFolder`
// load unchanged.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../../errors.ts';

/** GPT-2's pre-tokenizer split, as HF tokenizers' ByteLevel pre-tokenizer uses it (`use_regex: true`). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards,
 * so every byte is one visible character (the space 0x20 becomes "Ġ", the newline "Ċ").
 */
export function byteToUnicode(): string[] {
  const table = new Array<string>(256);
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    table[byte] = String.fromCharCode(printable ? byte : 256 + extra++);
  }
  return table;
}

const BYTE_CHARS = byteToUnicode();
const ENCODER = new TextEncoder();

/** One text piece in the byte-level alphabet ("hello world" → "helloĠworld"). */
export function toByteLevel(piece: string): string {
  let out = '';
  for (const byte of ENCODER.encode(piece)) out += BYTE_CHARS[byte];
  return out;
}

/**
 * Counts the pre-tokenized pieces of `text` (GPT-2 split) into `counts` (raw pieces, not yet byte-level; see
 * `byteLevelCounts`). Call once per document so that pieces never span two documents.
 */
export function countPieces(text: string, counts: Map<string, number> = new Map()): Map<string, number> {
  for (const [piece] of text.matchAll(GPT2_SPLIT)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  return counts;
}

/** The counts of `countPieces` keyed by their byte-level form (distinct pieces can share one). */
export function byteLevelCounts(pieces: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [piece, n] of pieces) {
    const word = toByteLevel(piece);
    out.set(word, (out.get(word) ?? 0) + n);
  }
  return out;
}

export interface BpeTrainerOptions {
  /** Final vocabulary size: special tokens + 256 bytes + merges (fewer when merges run out). */
  readonly vocabSize: number;
  /** Special tokens, given the first ids in this order. */
  readonly specialTokens?: readonly string[];
  /** Pairs seen fewer times are never merged (default 2, as HF tokenizers' trainers). */
  readonly minFrequency?: number;
  /** Called every 500 merges with the merges so far and the number of distinct pairs left. */
  readonly onProgress?: (merges: number, pairCount: number) => void;
}

/** A trained byte-level BPE model. */
export interface TrainedBpe {
  /** Token string (byte-level alphabet; special tokens as written) → id, in id order. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Merges in priority order, as [left, right] byte-level strings. */
  readonly merges: readonly (readonly [string, string])[];
  readonly specialTokens: readonly string[];
}

/** Max-heap entry: a pair key and the count it had when pushed (stale when the count has changed since). */
interface HeapEntry {
  readonly count: number;
  readonly key: number;
}

/** A binary max-heap ordered by `before(a, b)` (a comes out first). */
class Heap {
  private readonly items: HeapEntry[] = [];
  constructor(private readonly before: (a: HeapEntry, b: HeapEntry) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): HeapEntry | undefined {
    return this.items[0];
  }

  push(e: HeapEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): HeapEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < a.length && this.before(a[l], a[best])) best = l;
        if (r < a.length && this.before(a[r], a[best])) best = r;
        if (best === i) break;
        [a[i], a[best]] = [a[best], a[i]];
        i = best;
      }
    }
    return top;
  }
}

const KEY_BASE = 65536;

/**
 * Learns merges over byte-level word counts (`byteLevelCounts`) until the vocabulary has `vocabSize` tokens
 * or no pair occurs `minFrequency` times. As in HF tokenizers, a merge whose result already is a token keeps
 * that token's id (the merge is still recorded).
 */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, options: BpeTrainerOptions): TrainedBpe {
  const specials = [...(options.specialTokens ?? [])];
  const minFrequency = options.minFrequency ?? 2;
  if (new Set(specials).size !== specials.length) throw new RoadsterError('E_USAGE', `special tokens must be distinct, got ${specials.join(', ')}`);
  const base = specials.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < base || options.vocabSize > KEY_BASE) {
    throw new RoadsterError('E_USAGE', `vocabSize must be an integer in [${base}, ${KEY_BASE}] (special tokens + 256 bytes), got ${options.vocabSize}`);
  }

  // Symbols: ids local to training (bytes 0..255, then merge results); the vocabulary adds special tokens first.
  const symbols: string[] = [...BYTE_CHARS];
  const symbolId = new Map<string, number>(symbols.map((s, i) => [s, i]));
  const words: Uint16Array[] = [];
  const counts: number[] = [];
  for (const [word, n] of wordCounts) {
    const ids = new Uint16Array(word.length);
    for (let i = 0; i < word.length; i++) {
      const id = symbolId.get(word[i]);
      if (id === undefined) throw new RoadsterError('E_USAGE', `word ${JSON.stringify(word)} is not in the byte-level alphabet; count words with byteLevelCounts`);
      ids[i] = id;
    }
    words.push(ids);
    counts.push(n);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1, delta: Map<number, number>) => {
    const word = words[w];
    const n = counts[w] * sign;
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i] * KEY_BASE + word[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + n);
      delta.set(key, (delta.get(key) ?? 0) + n);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  const initial = new Map<number, number>();
  for (let w = 0; w < words.length; w++) addPairs(w, 1, initial);

  const left = (key: number) => symbols[Math.floor(key / KEY_BASE)];
  const right = (key: number) => symbols[key % KEY_BASE];
  const heap = new Heap((a, b) => {
    if (a.count !== b.count) return a.count > b.count;
    const la = left(a.key);
    const lb = left(b.key);
    if (la !== lb) return la < lb;
    return right(a.key) < right(b.key);
  });
  for (const [key, count] of pairCount) heap.push({ count, key });

  const merges: [string, string][] = [];
  let vocabSize = base;
  while (vocabSize < options.vocabSize) {
    const top = heap.pop();
    if (!top) break;
    if (pairCount.get(top.key) !== top.count) continue; // stale: a newer entry holds the current count
    if (top.count < minFrequency) break;
    const a = Math.floor(top.key / KEY_BASE);
    const b = top.key % KEY_BASE;
    const merged = symbols[a] + symbols[b];
    let id = symbolId.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      symbolId.set(merged, id);
      vocabSize++;
    }
    merges.push([symbols[a], symbols[b]]);

    const delta = new Map<number, number>();
    for (const w of pairWords.get(top.key) ?? []) {
      const word = words[w];
      let found = false;
      for (let i = 0; i + 1 < word.length && !found; i++) found = word[i] === a && word[i + 1] === b;
      if (!found) continue; // the set keeps words that lost the pair in earlier merges
      addPairs(w, -1, delta);
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(word[i]);
      }
      words[w] = Uint16Array.from(next);
      addPairs(w, 1, delta);
    }
    pairWords.delete(top.key);
    for (const [key, d] of delta) {
      if (d === 0) continue;
      const count = pairCount.get(key) ?? 0;
      if (count > 0) heap.push({ count, key });
      else {
        pairCount.delete(key);
        pairWords.delete(key);
      }
    }
    if (options.onProgress && merges.length % 500 === 0) options.onProgress(merges.length, pairCount.size);
  }

  const vocab = new Map<string, number>();
  specials.forEach((s, i) => vocab.set(s, i));
  symbols.forEach((s, i) => vocab.set(s, specials.length + i));
  return { vocab, merges, specialTokens: specials };
}

/** Roles of the special tokens in tokenizer_config.json. */
export interface SpecialTokenRoles {
  readonly bos?: string;
  readonly eos?: string;
  readonly pad?: string;
  readonly unk?: string;
}

export interface TokenizerFileOptions {
  readonly roles?: SpecialTokenRoles;
  /** Special tokens listed as `additional_special_tokens` (default: the special tokens without a role). */
  readonly additionalSpecialTokens?: readonly string[];
  /** `model_max_length` of tokenizer_config.json. */
  readonly modelMaxLength?: number;
}

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * tokenizer.json text as HF tokenizers writes a byte-level BPE (pretty-printed, vocab in id order, one merge
 * per line). Written by hand because JSON.stringify would move integer-like keys ("1", "10") to the front.
 */
export function tokenizerJsonText(bpe: TrainedBpe): string {
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) => ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: true });
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: bpe.specialTokens.map((s) => addedToken(bpe.vocab.get(s)!, s)),
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
  };
  const model = {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
  };
  const indent = (text: string, by: string) => text.replace(/\n/g, `\n${by}`);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(head)) lines.push(`  ${JSON.stringify(k)}: ${indent(JSON.stringify(v, null, 2), '  ')}`);
  const modelLines = Object.entries(model).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const vocab = [...bpe.vocab].sort((x, y) => x[1] - y[1]).map(([s, id]) => `      ${JSON.stringify(s)}: ${id}`);
  const merges = bpe.merges.map(([l, r]) => `      ${JSON.stringify([l, r])}`);
  modelLines.push(`    "vocab": {\n${vocab.join(',\n')}\n    }`, `    "merges": [\n${merges.join(',\n')}\n    ]`);
  lines.push(`  "model": {\n${modelLines.join(',\n')}\n  }`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

/** tokenizer_config.json as transformers saves it for a `PreTrainedTokenizerFast`. */
export function tokenizerConfigJson(bpe: TrainedBpe, options: TokenizerFileOptions = {}): Record<string, unknown> {
  const roles = options.roles ?? {};
  for (const [role, token] of Object.entries(roles)) {
    if (token !== undefined && !bpe.specialTokens.includes(token)) {
      throw new RoadsterError('E_USAGE', `${role} token ${JSON.stringify(token)} is not one of the special tokens ${bpe.specialTokens.join(', ')}`);
    }
  }
  const withRole = new Set(Object.values(roles));
  const decoder: Record<string, unknown> = {};
  for (const s of bpe.specialTokens) {
    const { id, ...rest } = addedToken(bpe.vocab.get(s)!, s);
    decoder[String(id)] = rest;
  }
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: options.additionalSpecialTokens ?? bpe.specialTokens.filter((s) => !withRole.has(s)),
    bos_token: roles.bos ?? null,
    clean_up_tokenization_spaces: false,
    eos_token: roles.eos ?? null,
    errors: 'replace',
    model_max_length: options.modelMaxLength ?? 1024,
    pad_token: roles.pad ?? null,
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: roles.unk ?? null,
  };
}

/** Writes tokenizer.json and tokenizer_config.json into `folder` (created when missing). */
export function saveTokenizer(folder: string, bpe: TrainedBpe, options: TokenizerFileOptions = {}): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'tokenizer.json'), tokenizerJsonText(bpe));
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(bpe, options), null, 2) + '\n');
}
