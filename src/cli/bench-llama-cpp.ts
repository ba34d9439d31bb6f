// llama.cpp's side of `roadster bench generate`: batch-1 prefill and decode speed of a GGUF file (as
// `roadster export` writes it) through node-llama-cpp, on the CPU. node-llama-cpp is a devDependency and is
// imported dynamically, so nothing else loads it; its prebuilt CPU binary comes from the npm package
// @node-llama-cpp/linux-x64 and `build: "never"` forbids it from downloading or compiling llama.cpp at run time.
//
// What is timed: `LlamaContextSequence.evaluate` on seeded random prompt ids with greedy sampling. The first
// token it yields ends the prefill (the prompt's forward pass plus one sampling, as roadster's engine counts a
// prefill); each later token is one decode step (one token's forward pass with the KV cache, plus sampling).

import { RoadsterError } from '../errors.ts';
import { randomIds } from './bench-inputs.ts';

/** KV cache element type; llama.cpp's default is F16. */
export type LlamaCppKvCacheType = 'F16' | 'F32';

export interface LlamaCppOpenOptions {
  /** CPU threads of the context (default 2, this project's machine). */
  readonly threads?: number;
  /** Context length in tokens (default 512). */
  readonly contextSize?: number;
  /** Tokens per llama_decode batch (default: the context size, so a prompt is one batch). */
  readonly batchSize?: number;
  /** Default 'F16' (llama.cpp's default). */
  readonly kvCacheType?: LlamaCppKvCacheType;
}

/** A loaded GGUF model with one context sequence; call `dispose` when done. */
export interface LlamaCppSession {
  readonly model: import('node-llama-cpp').LlamaModel;
  readonly context: import('node-llama-cpp').LlamaContext;
  readonly sequence: import('node-llama-cpp').LlamaContextSequence;
  dispose(): Promise<void>;
}

/**
 * Loads a GGUF file with node-llama-cpp on the CPU (no GPU layers, never building or downloading llama.cpp).
 * @throws RoadsterError E_NOT_FOUND when node-llama-cpp is not installed (it is a devDependency), E_RUNTIME
 * when llama.cpp cannot load the file
 */
export async function openLlamaCpp(ggufPath: string, options: LlamaCppOpenOptions = {}): Promise<LlamaCppSession> {
  let lib: typeof import('node-llama-cpp');
  try {
    lib = await import('node-llama-cpp');
  } catch (error) {
    throw new RoadsterError('E_NOT_FOUND', 'node-llama-cpp is not installed: it is a devDependency of roadster, used only to compare ' +
      `with llama.cpp; install the development dependencies (npm ci) to run it (${(error as Error).message}).`, { cause: error });
  }
  const contextSize = options.contextSize ?? 512;
  const kv = options.kvCacheType ?? 'F16';
  const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error, progressLogs: false });
  try {
    const model = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize,
      batchSize: options.batchSize ?? contextSize,
      sequences: 1,
      threads: options.threads ?? 2,
      experimentalKvCacheKeyType: kv,
      experimentalKvCacheValueType: kv,
    });
    return {
      model,
      context,
      sequence: context.getSequence(),
      async dispose() {
        await context.dispose();
        await model.dispose();
        await llama.dispose();
      },
    };
  } catch (error) {
    await llama.dispose();
    if (error instanceof RoadsterError) throw error;
    throw new RoadsterError('E_RUNTIME', `llama.cpp could not load ${ggufPath}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Greedy continuation of `prompt` (token ids) by llama.cpp: `newTokens` ids, not stopping at end-of-generation
 * tokens (as roadster's `greedyGenerate` without EOS ids). llama.cpp's greedy sampler takes the first maximum, as
 * torch.argmax does.
 */
export async function llamaCppGreedy(session: LlamaCppSession, prompt: readonly number[], newTokens: number): Promise<number[]> {
  const out: number[] = [];
  if (newTokens <= 0) return out;
  for await (const token of session.sequence.evaluate([...prompt] as import('node-llama-cpp').Token[], { temperature: 0, yieldEogToken: true })) {
    out.push(token);
    if (out.length >= newTokens) break;
  }
  return out;
}

export interface LlamaCppDecodeOptions {
  /** Prompt length in tokens (default 128). */
  readonly promptTokens?: number;
  /** Decode steps to time, after the prefill's token (default 64). */
  readonly newTokens?: number;
  /** Default 2. */
  readonly threads?: number;
  /** Default 'F16', llama.cpp's default. */
  readonly kvCacheType?: LlamaCppKvCacheType;
  /** Seed of the random prompt ids (default 0). */
  readonly seed?: number;
}

export interface LlamaCppDecodeResult {
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly stepMsP50: number;
  readonly stepMsP99: number;
  readonly promptTokens: number;
  readonly newTokens: number;
  readonly threads: number;
  readonly kvCacheType: LlamaCppKvCacheType;
}

/** Number of token ids of the loaded model: the token list's length (`<arch>.vocab_size` is optional in GGUF). */
function vocabularySize(session: LlamaCppSession): number {
  const tokens = (session.model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly string[] } } }).tokenizer?.ggml?.tokens;
  if (tokens === undefined || tokens.length === 0) throw new RoadsterError('E_GGUF', 'the GGUF file has no tokenizer.ggml.tokens; export it with a vocabulary.');
  return tokens.length;
}

/** Nearest-rank percentile (p in [0, 100]) of `xs`. */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** One timed run: [prefill ms, decode step ms...]. */
async function timedRun(session: LlamaCppSession, prompt: readonly number[], steps: number): Promise<{ prefillMs: number; stepMs: number[] }> {
  await session.sequence.clearHistory();
  const stepMs: number[] = [];
  let prefillMs = -1;
  let last = performance.now();
  for await (const _token of session.sequence.evaluate([...prompt] as import('node-llama-cpp').Token[], { temperature: 0, yieldEogToken: true })) {
    const now = performance.now();
    if (prefillMs < 0) prefillMs = now - last;
    else stepMs.push(now - last);
    last = now;
    if (stepMs.length >= steps) break;
  }
  return { prefillMs, stepMs };
}

/**
 * Batch-1 speed of llama.cpp on a GGUF file: prefill tokens/s of a `promptTokens` prompt and decode tokens/s and
 * step latency (p50, p99) over `newTokens` steps, after one untimed warm-up run.
 * @throws RoadsterError E_USAGE for bad sizes; as `openLlamaCpp`
 */
export async function benchLlamaCppDecode(ggufPath: string, options: LlamaCppDecodeOptions = {}): Promise<LlamaCppDecodeResult> {
  const promptTokens = options.promptTokens ?? 128;
  const newTokens = options.newTokens ?? 64;
  const threads = options.threads ?? 2;
  const kvCacheType = options.kvCacheType ?? 'F16';
  for (const [name, v, min] of [['promptTokens', promptTokens, 1], ['newTokens', newTokens, 1], ['threads', threads, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new RoadsterError('E_USAGE', `benchLlamaCppDecode: ${name} must be an integer >= ${min}, got ${v}.`);
  }
  const contextSize = promptTokens + newTokens + 1;
  const session = await openLlamaCpp(ggufPath, { threads, contextSize, batchSize: promptTokens, kvCacheType });
  try {
    const prompt = randomIds(1, promptTokens, vocabularySize(session), options.seed ?? 0)[0];
    await timedRun(session, prompt.slice(0, Math.min(promptTokens, 16)), Math.min(newTokens, 4)); // warm-up: threads, caches
    const { prefillMs, stepMs } = await timedRun(session, prompt, newTokens);
    const decodeMs = stepMs.reduce((a, b) => a + b, 0);
    return {
      prefillTokensPerSecond: promptTokens / (prefillMs / 1000),
      decodeTokensPerSecond: stepMs.length / (decodeMs / 1000),
      stepMsP50: percentile(stepMs, 50),
      stepMsP99: percentile(stepMs, 99),
      promptTokens,
      newTokens: stepMs.length,
      threads,
      kvCacheType,
    };
  } finally {
    await session.dispose();
  }
}
