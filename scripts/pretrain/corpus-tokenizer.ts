// Trains roadster-base's byte-level BPE tokenizer on the training documents, encodes documents into one token
// stream (each document preceded by `<|endoftext|>`, GPT-2 style) and measures compression (characters per
// token) on any text.

import { type TrainedBpe, byteLevelCounts, countPieces, trainBpe } from '../../src/io/tokenizer/bpe-trainer.ts';
import type { Tokenizer } from '../../src/io/tokenizer/index.ts';
import type { Document } from './corpus.ts';

/** `<|endoftext|>` (bos, eos and pad) and reserved tokens for later use (e.g. fine-tuning markers). */
export const END_OF_TEXT = '<|endoftext|>';
export const SPECIAL_TOKENS: readonly string[] = [END_OF_TEXT, ...Array.from({ length: 7 }, (_, i) => `<|reserved_${i}|>`)];

export function trainCorpusTokenizer(docs: readonly Document[], vocabSize: number, log: (line: string) => void = () => {}): TrainedBpe {
  const pieces = new Map<string, number>();
  for (const d of docs) countPieces(d.text, pieces);
  const words = byteLevelCounts(pieces);
  log(`tokenizer: ${words.size} distinct pre-tokenized words`);
  return trainBpe(words, {
    vocabSize,
    specialTokens: SPECIAL_TOKENS,
    onProgress: (merges) => merges % 2000 === 0 && log(`tokenizer: ${merges} merges`),
  });
}

/** Token ids of the documents, each preceded by `<|endoftext|>`. */
export function encodeDocuments(tokenizer: Tokenizer, docs: readonly Document[]): Int32Array {
  const eos = tokenizer.tokenToId(END_OF_TEXT);
  if (eos === null) throw new Error(`tokenizer lacks ${END_OF_TEXT}`);
  const parts = docs.map((d) => tokenizer.encode(d.text, { addSpecialTokens: false }));
  const out = new Int32Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    out[at++] = eos;
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Characters (UTF-16 code units, as String.length) per token over `texts`. */
export function charsPerToken(tokenizer: Tokenizer, texts: readonly string[]): { chars: number; tokens: number; ratio: number } {
  let chars = 0;
  let tokens = 0;
  for (const t of texts) {
    chars += t.length;
    tokens += tokenizer.encode(t, { addSpecialTokens: false }).length;
  }
  return { chars, tokens, ratio: chars / Math.max(1, tokens) };
}
