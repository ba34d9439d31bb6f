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
