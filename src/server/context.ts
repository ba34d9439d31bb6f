// What the routes share: the engine, the served models, the metrics and the tokenizer (null for a model
// folder without one: prompts are then token ids and texts are empty).

import type { GenerationEngine } from '../generate/engine.ts';
import type { Tokenizer } from '../io/tokenizer/index.ts';
import type { ServedModels } from './adapters.ts';
import { badRequest } from './errors.ts';
import type { ServerMetrics } from './metrics.ts';

export interface ServerContext {
  readonly engine: GenerationEngine;
  readonly models: ServedModels;
  readonly metrics: ServerMetrics;
  readonly tokenizer: Tokenizer | null;
}

/** GPT-2's byte-level alphabet, inverted: the character that stands for each byte -> the byte. */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : 256 + next++), b);
  return map;
})();

/** The bytes of a token: its text's UTF-8, or for a piece of a character, the raw bytes (byte-level or <0xNN> byte-fallback vocabularies). */
export function tokenBytes(ctx: ServerContext, id: number): number[] {
  const tokenizer = ctx.tokenizer;
  if (tokenizer === null) return [...Buffer.from(`token_id:${id}`, 'utf8')];
  const text = tokenizer.decode([id], { skipSpecialTokens: false });
  if (!text.includes('\uFFFD')) return [...Buffer.from(text, 'utf8')];
  const raw = tokenizer.idToToken(id) ?? '';
  const fallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(raw);
  if (fallback) return [parseInt(fallback[1], 16)];
  const chars = [...raw];
  if (chars.length > 0 && chars.every((c) => BYTE_OF_CHAR.has(c))) return chars.map((c) => BYTE_OF_CHAR.get(c)!);
  return [...Buffer.from(text, 'utf8')];
}

/**
 * A token as logprobs show it: its decoded text; a piece of a multi-byte character as `bytes:\\xNN...` (OpenAI's
 * spelling), so that different pieces do not all read "\uFFFD"; `token_id:N` without a tokenizer (vLLM's).
 */
export function tokenText(ctx: ServerContext, id: number): string {
  if (ctx.tokenizer === null) return `token_id:${id}`;
  const text = ctx.tokenizer.decode([id], { skipSpecialTokens: false });
  if (!text.includes('\uFFFD')) return text;
  const bytes = tokenBytes(ctx, id);
  return Buffer.from(bytes).toString('utf8').includes('\uFFFD') ? `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}` : text;
}

/** The tokenizer, or a 400 saying that text needs one. */
export function requireTokenizer(ctx: ServerContext, what: string, param: string): NonNullable<ServerContext['tokenizer']> {
  if (ctx.tokenizer === null) throw badRequest(`${what} needs a tokenizer and this model folder has none (no tokenizer.json); give token ids instead`, param);
  return ctx.tokenizer;
}

/** A response id: a prefix and 32 hex digits (OpenAI's form). */
export function responseId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().replace(/-/g, '')}`;
}
