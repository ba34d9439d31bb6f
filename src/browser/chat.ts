// Chat with the model in a tab: the generation engine (KV cache) with the trained adapter resident as a
// snapshot of its parameters, streaming each new piece of text to a callback. Greedy unless a temperature is
// given; sampling always gets a seed (the engine would otherwise draw one from node:crypto).

import type { AdapterConfig } from '../adapters/kinds.ts';
import type { SiteParams } from '../adapters/kind.ts';
import type { Tokenizer } from '../io/tokenizer/tokenizer.ts';
import type { CausalLM } from '../models/causal-lm.ts';
import type { BaseRuntime } from '../runtime/base-runtime.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { GenerationEngine } from '../generate/engine.ts';
import type { GenerationResult } from '../generate/request.ts';

/** What a chat turn gives, with its decode speed. */
export interface ChatReply extends GenerationResult {
  /** Decode tokens per second (the first token, from the prefill, excluded). */
  readonly decodeTokensPerSecond: number;
}

export interface ChatOptions {
  readonly maxTokens?: number;
  /** 0 (default): greedy. */
  readonly temperature?: number;
  readonly seed?: number;
  /** Each new piece of text as it is decoded. */
  readonly onText?: (text: string) => void;
  readonly signal?: AbortSignal;
}

/** A model, its tokenizer and at most one adapter, ready to answer. Call `close()` when done. */
export class Chat {
  private readonly engine: GenerationEngine;
  private decodeMs = 0;
  private hasAdapter = false;

  constructor(
    readonly model: CausalLM,
    readonly runtime: BaseRuntime,
    readonly tokenizer: Tokenizer,
  ) {
    this.engine = new GenerationEngine(model, runtime as Runtime, {
      tokenizer,
      maxBatch: 1,
      maxLoadedAdapters: 1,
      onStep: (s) => {
        if (s.kind === 'decode') this.decodeMs += s.ms;
      },
    });
  }

  /** Uses a copy of `params` as the adapter from now on (replacing the previous one). */
  setAdapter(config: AdapterConfig, params: ReadonlyMap<string, SiteParams>): void {
    if (this.hasAdapter) this.engine.unloadAdapter('studio');
    const copy = new Map([...params].map(([path, site]) => [path, Object.fromEntries(Object.entries(site).map(([k, v]) => [k, Float32Array.from(v)]))]));
    this.engine.adapters.add({ name: 'studio', config, params: copy });
    this.hasAdapter = true;
  }

  /** The prompt's ids: the chat template when the tokenizer has one, else the text itself. */
  promptIds(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** Generates a reply to `text` with the adapter (when set). */
  async reply(text: string, options: ChatOptions = {}): Promise<ChatReply> {
    this.decodeMs = 0;
    const temperature = options.temperature ?? 0;
    const handle = this.engine.submit({
      promptIds: this.promptIds(text),
      adapter: this.hasAdapter ? 'studio' : null,
      maxTokens: options.maxTokens ?? 32,
      sampling: { temperature, seed: options.seed ?? 0 },
      onToken: options.onText === undefined ? undefined : (e) => options.onText!(e.text),
      signal: options.signal,
    });
    const result = await handle.result;
    const decoded = Math.max(0, result.tokens.length - 1);
    return { ...result, decodeTokensPerSecond: decoded / Math.max(this.decodeMs / 1000, 1e-9) };
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
