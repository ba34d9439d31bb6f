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

/** A token as logprobs show it: its decoded text, or `token_id:N` without a tokenizer (vLLM's spelling). */
export function tokenText(ctx: ServerContext, id: number): string {
  return ctx.tokenizer === null ? `token_id:${id}` : ctx.tokenizer.decode([id], { skipSpecialTokens: false });
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
