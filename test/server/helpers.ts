// Shared by the server tests: tiny-llama with the byte-level tokenizer (which has a chat template) as a model
// folder, the RoAd and LoRA fixture adapters, and a server on 127.0.0.1 with an ephemeral port plus an
// `openai` client pointed at it.

import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import type { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/models/auto.ts';
import type { CausalLM } from '../../src/models/causal-lm.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { createServer, type RoadsterServer, type ServerOptions } from '../../src/server/index.ts';
import { FIXTURES, TINY_LLAMA } from '../support/fixtures.ts';

export const ROAD = `${FIXTURES}llama_road1_g8_qv/adapter`;
export const ROAD_SECOND = `${FIXTURES}llama_road1_g8_qv/adapter/second`;
export const LORA = `${FIXTURES}lora_llama_r4_a8_qv/adapter`;
export const BYTES_TOKENIZER = fileURLToPath(new URL('../fixtures/tokenizers/bytes/', import.meta.url));

/** tiny-llama (vocabulary 256, context 128) with the byte-level tokenizer, written into `dir`. */
export function writeTextModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(join(TINY_LLAMA, f), join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(BYTES_TOKENIZER, f), join(dir, f));
  return dir;
}

export async function loadTextModel(dir: string): Promise<{ model: CausalLM; tokenizer: Tokenizer }> {
  return { model: await AutoModelForCausalLM.fromPretrained(dir), tokenizer: await AutoTokenizer.fromPretrained(dir) };
}

export interface Running {
  readonly server: RoadsterServer;
  readonly url: string;
  readonly client: OpenAI;
  stop(): Promise<void>;
}

/** A listening server and an `openai` client for it (no retries, so that 429s show). */
export async function startServer(options: Omit<ServerOptions, 'runtime' | 'port' | 'host'> & { runtime: Runtime }, apiKey = 'unused'): Promise<Running> {
  const server = createServer({ ...options, host: '127.0.0.1', port: 0 });
  const url = await server.listen();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
  return { server, url, client, stop: () => server.close() };
}

/** POST JSON with fetch; returns the status, headers and parsed body (text when not JSON). */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}

/** A runtime whose every graph run first sleeps `ms` (no CPU): requests last long enough to watch them run. */
export function slowRuntime(runtime: Runtime, ms: number): Runtime {
  return new Proxy(runtime, {
    get(target, prop, receiver) {
      if (prop !== 'compile') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<Runtime['compile']>) => {
        const compiled = await target.compile(...args);
        return { run: async (feeds: Parameters<typeof compiled.run>[0]) => (await new Promise((r) => setTimeout(r, ms)), compiled.run(feeds)) };
      };
    },
  });
}

/** Polls `condition` every 5 ms until it holds (or fails after `ms`). */
export async function waitFor(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts a streaming completion with fetch; resolves once the first event has arrived. */
export async function openStream(url: string, body: object, signal?: AbortSignal): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; first: string; rest(): Promise<string> }> {
  const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }), signal });
  if (res.status !== 200) throw new Error(`stream: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let first = '';
  while (!first.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    first += decoder.decode(value, { stream: true });
  }
  return {
    reader,
    first,
    async rest() {
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    },
  };
}
