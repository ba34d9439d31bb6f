// The generation engine: continuous batching over a KV cache, where every row may use its own adapter (RoAd,
// LoRA or none, mixed in one batch). Requests join and leave between decode steps: each iteration admits waiting
// requests (bounded by rows and by the cache tokens they may need), prefills them as one left-padded batch, then
// runs one decode step for every running row. Each request samples with its own seeded generator, stops on its
// own conditions and streams its tokens; cancelling frees its row and cache at once (after the step in flight).
// Follows vLLM's engine loop in spirit (scheduler, per-request sampling params) on ONNX Runtime graphs traced
// from the training forward code (models/generation-graph.ts).

import { RoadsterError } from '../errors.ts';
import type { Graph } from '../graph/ir.ts';
import { GraphBuilder } from '../graph/tracer.ts';
import type { Tokenizer } from '../io/tokenizer/index.ts';
import { adapterBaseWarnings } from '../adapters/base-match.ts';
import { RowInputs, mixedIndexFeeds, mixedLinear, mixedTableFeeds } from '../adapters/mixed-batch.ts';
import { INPUT_NAMES, type CausalLM } from '../models/causal-lm.ts';
import { attentionBias, int64Tensor, positionIds } from '../models/attention-inputs.ts';
import { KV_NAMES, PAST_BIAS_NAMES, traceGenerationStep } from '../models/generation-graph.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { type AdapterSlot, AdapterStore, type LoadResult } from './adapter-store.ts';
import { IncrementalDetokenizer } from './detokenize.ts';
import { KvCache } from './kv-cache.ts';
import { nextTask } from './next-task.ts';
import {
  type CheckedRequest,
  type FinishReason,
  type GenerationHandle,
  type GenerationRequest,
  type GenerationResult,
  checkRequest,
} from './request.ts';
import { Sampler, type TokenLogprob } from './sampling/sampler.ts';
import { StopStringMatcher } from './stop.ts';

/** Extra event-loop turns between steps while requests keep arriving (see betweenSteps). */
const ARRIVAL_TURNS = 32;

export interface EngineOptions {
  /** Rows decoded together (default 32). */
  readonly maxBatch?: number;
  /** Requests that may wait for a row (default 256); past it `submit` throws E_OVERLOADED. */
  readonly maxQueue?: number;
  /** Context length: prompt plus new tokens per request (default: the model's max_position_embeddings). */
  readonly maxModelLen?: number;
  /** Cached tokens the running requests may hold at most, counted as prompt + max tokens (default: maxBatch × maxModelLen). */
  readonly maxCachedTokens?: number;
  /** Adapters resident at once (default 8). */
  readonly maxLoadedAdapters?: number;
  /**
   * Padded prompt tokens (rows × longest prompt) one prefill run may hold (default 8,192); more waiting requests
   * join in the next iterations. A single longer prompt is still prefilled alone.
   */
  readonly maxPrefillTokens?: number;
  /**
   * While rows are decoding, requests wait up to this many decode steps (default 4) for more to arrive, unless
   * they can fill every free row already: a prefill costs about as much as a decode step, so prefilling each
   * request as it comes would slow every running row. 0 prefills new requests at the next step.
   */
  readonly prefillDelaySteps?: number;
  /** For text, streaming and stop strings (optional). */
  readonly tokenizer?: Tokenizer | null;
  /** End-of-sequence ids (default: generation_config.json's, else config.json's). */
  readonly eosTokenIds?: readonly number[];
  /** Called after each graph run (for benchmarks and metrics). */
  readonly onStep?: (step: StepInfo) => void;
}

/** One graph run of the engine. */
export interface StepInfo {
  readonly kind: 'prefill' | 'decode';
  /** Rows in the batch. */
  readonly rows: number;
  /** Positions per row (the padded prompt length of a prefill; 1 for a decode step). */
  readonly positions: number;
  /** Cached positions every row could attend to (P of the decode graph; 0 for a prefill). */
  readonly cachedPositions: number;
  /** Wall time of the step, host work included. */
  readonly ms: number;
}

/** Counters for monitoring (the server's /metrics). */
export interface EngineStats {
  readonly running: number;
  readonly waiting: number;
  /** Cache entries in use, and the entries the cache could hold at its current size. */
  readonly cachedTokens: number;
  readonly cacheCapacityTokens: number;
  readonly maxCachedTokens: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly steps: number;
  /** Adapters used by running requests. */
  readonly runningAdapters: readonly string[];
  /** Adapters named by waiting requests. */
  readonly waitingAdapters: readonly string[];
}

interface Active {
  readonly id: number;
  readonly req: CheckedRequest;
  readonly adapter: AdapterSlot | null;
  readonly sampler: Sampler;
  readonly detok: IncrementalDetokenizer | null;
  readonly stops: StopStringMatcher | null;
  readonly onToken: GenerationRequest['onToken'];
  readonly tokens: number[];
  readonly logprobs: number[];
  readonly top: (readonly TokenLogprob[])[];
  text: string;
  /** Position of the next token to run (= real tokens so far). */
  position: number;
  /** The engine's decode step count when the request was queued. */
  readonly queuedAtStep: number;
  cancelled: boolean;
  done: boolean;
  readonly resolve: (r: GenerationResult) => void;
  readonly reject: (e: unknown) => void;
  readonly cleanup: () => void;
}

/** The distinct adapters of some requests (the base model left out). */
function adapterNames(requests: readonly Active[]): string[] {
  return [...new Set(requests.map((a) => a.req.adapter).filter((n): n is string => n !== null))];
}

/** End-of-sequence ids of a model: generation_config.json's, else config.json's (transformers' order). */
export function modelEosIds(model: CausalLM): number[] {
  if (model.generationConfig && model.generationConfig.eosTokenIds.length > 0) return [...model.generationConfig.eosTokenIds];
  const eos = model.config.eosTokenId;
  return eos === null ? [] : typeof eos === 'number' ? [eos] : [...eos];
}

export class GenerationEngine {
  readonly adapters: AdapterStore;
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly maxModelLen: number;
  readonly maxCachedTokens: number;
  readonly maxPrefillTokens: number;
  readonly prefillDelaySteps: number;
  private readonly tokenizer: Tokenizer | null;
  private readonly onStep: EngineOptions['onStep'];
  private readonly eos: readonly number[];
  private readonly cache: KvCache;
  private readonly waiting: Active[] = [];
  /** Running requests; index = cache row. */
  private readonly running: Active[] = [];
  private readonly graphs = new Map<string, Graph>();
  private tableFeeds: { version: number; feeds: Record<string, HostTensor> } | null = null;
  private rowInputs: { version: number; inputs: RowInputs } | null = null;
  private loop: Promise<void> | null = null;
  private nextId = 1;
  private closed = false;
  private counters = { promptTokens: 0, generatedTokens: 0, steps: 0 };

  constructor(
    readonly model: CausalLM,
    readonly runtime: Runtime,
    options: EngineOptions = {},
  ) {
    model.requireLmHead();
    const int = (name: string, v: number) => {
      if (!Number.isInteger(v) || v < 1) throw new RoadsterError('E_USAGE', `${name} must be a positive integer, got ${v}`);
      return v;
    };
    this.maxBatch = int('maxBatch', options.maxBatch ?? 32);
    this.maxQueue = int('maxQueue', options.maxQueue ?? 256);
    this.maxModelLen = int('maxModelLen', options.maxModelLen ?? model.config.maxPositionEmbeddings);
    if (this.maxModelLen > model.config.maxPositionEmbeddings) {
      throw new RoadsterError('E_USAGE', `maxModelLen ${this.maxModelLen} exceeds the model's max_position_embeddings (${model.config.maxPositionEmbeddings})`);
    }
    this.maxCachedTokens = int('maxCachedTokens', options.maxCachedTokens ?? this.maxBatch * this.maxModelLen);
    this.maxPrefillTokens = int('maxPrefillTokens', options.maxPrefillTokens ?? 8192);
    this.prefillDelaySteps = options.prefillDelaySteps ?? 4;
    if (!Number.isInteger(this.prefillDelaySteps) || this.prefillDelaySteps < 0) {
      throw new RoadsterError('E_USAGE', `prefillDelaySteps must be a non-negative integer, got ${this.prefillDelaySteps}`);
    }
    this.tokenizer = options.tokenizer ?? null;
    this.onStep = options.onStep;
    this.eos = options.eosTokenIds ?? modelEosIds(model);
    this.adapters = new AdapterStore(model.linearSites(), options.maxLoadedAdapters ?? 8, (name) => this.adapterInUse(name));
    const { numHiddenLayers, numKeyValueHeads, headDim } = model.config;
    this.cache = new KvCache({ layers: numHiddenLayers, kvHeads: numKeyValueHeads, headDim, rows: this.maxBatch, maxPositions: this.maxModelLen });
  }

  /**
   * Loads a PEFT adapter folder (RoAd or LoRA) as `name` (see AdapterStore.loadFolder); `warnings` says what fits
   * but looks wrong (an adapter recorded for another base model, an assumed group size).
   */
  loadAdapter(name: string, dir: string): LoadResult & { readonly warnings: readonly string[] } {
    const loaded = this.adapters.loadFolder(name, dir);
    return { ...loaded, warnings: adapterBaseWarnings(dir, this.model, this.model.source) };
  }

  /** Unloads a resident adapter that no request uses. */
  unloadAdapter(name: string): void {
    this.adapters.unload(name);
  }

  private adapterInUse(name: string): boolean {
    return [...this.running, ...this.waiting].some((a) => !a.done && a.req.adapter === name);
  }

  stats(): EngineStats {
    const usage = this.cache.usage(this.running.length);
    const running = this.running.filter((a) => !a.done); // finished rows leave at the end of the step
    return {
      running: running.length,
      waiting: this.waiting.length,
      cachedTokens: usage.entries,
      cacheCapacityTokens: this.cache.positionsPerRow * this.maxBatch,
      maxCachedTokens: this.maxCachedTokens,
      ...this.counters,
      runningAdapters: adapterNames(running),
      waitingAdapters: adapterNames(this.waiting),
    };
  }

  /**
   * Queues a request. Everything that can be checked is checked here (E_USAGE: prompt, context, sampling values,
   * unknown adapter; E_OVERLOADED: the queue is full), before any work is done.
   */
  submit(request: GenerationRequest): GenerationHandle {
    if (this.closed) throw new RoadsterError('E_USAGE', 'the engine is closed');
    const req = this.check(request);
    const adapter = req.adapter === null ? null : this.adapters.use(req.adapter);
    if (this.waiting.length >= this.maxQueue) {
      throw new RoadsterError('E_OVERLOADED', `the engine's queue is full (${this.maxQueue} waiting requests); retry later`);
    }
    const id = this.nextId++;
    let resolve!: (r: GenerationResult) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<GenerationResult>((res, rej) => ((resolve = res), (reject = rej)));
    const tokenizer = this.tokenizer;
    const signal = request.signal;
    const onAbort = () => this.cancel(active);
    const active: Active = {
      id,
      req,
      adapter,
      sampler: new Sampler(req.sampling, req.promptIds),
      detok: tokenizer ? new IncrementalDetokenizer((ids) => tokenizer.decode(ids, { skipSpecialTokens: true }), req.promptIds) : null,
      stops: req.stop.length > 0 ? new StopStringMatcher(req.stop) : null,
      onToken: request.onToken,
      tokens: [],
      logprobs: [],
      top: [],
      text: '',
      position: req.promptIds.length,
      queuedAtStep: this.counters.steps,
      cancelled: false,
      done: false,
      resolve,
      reject,
      cleanup: () => signal?.removeEventListener('abort', onAbort),
    };
    if (signal?.aborted) {
      this.finish(active, 'cancelled', null);
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(active);
      this.submitted++;
      this.loop ??= this.runLoop().finally(() => (this.loop = null));
    }
    return { id, result, cancel: () => this.cancel(active) };
  }

  /** Checks a request as `submit` does (E_USAGE naming the problem) without queueing it. */
  check(request: GenerationRequest): CheckedRequest {
    const req = checkRequest(request, {
      vocabSize: this.model.config.vocabSize,
      contextLength: this.maxModelLen,
      eosTokenIds: this.eos,
      hasTokenizer: this.tokenizer !== null,
    });
    if (req.promptIds.length + req.maxTokens > this.maxCachedTokens) {
      throw new RoadsterError('E_USAGE', `the request needs ${req.promptIds.length + req.maxTokens} cached tokens, more than the engine's ${this.maxCachedTokens}`);
    }
    if (req.adapter !== null) this.adapters.use(req.adapter); // throws for an unknown name; composes "a+b"
    return req;
  }

  /** Runs requests to the end; results in input order. */
  /**
   * Runs the largest work the engine admits once, a prefill of maxBatch rows that fills maxPrefillTokens and a
   * decode step of maxBatch rows (base rows, greedy), so that the graphs are compiled and ONNX Runtime's memory
   * arena has its working size before the first request: memory is known at start and stays level under load,
   * as with vLLM's profiling run. The counters start from zero afterwards.
   */
  async warmUp(): Promise<void> {
    const positions = Math.max(1, Math.min(Math.floor(this.maxPrefillTokens / this.maxBatch), this.maxModelLen - 2));
    const promptIds = new Array<number>(positions).fill(0);
    await this.generate(Array.from({ length: this.maxBatch }, () => ({ promptIds, adapter: null, maxTokens: 2, ignoreEos: true, sampling: { temperature: 0 } })));
    this.counters = { promptTokens: 0, generatedTokens: 0, steps: 0 };
  }

  async generate(requests: readonly GenerationRequest[]): Promise<GenerationResult[]> {
    const handles = requests.map((r) => this.submit(r));
    return Promise.all(handles.map((h) => h.result));
  }

  /** Cancels every request and refuses new ones; resolves when the loop has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    for (const a of [...this.waiting, ...this.running]) this.cancel(a);
    await this.loop;
  }

  /** Resolves when no request is waiting or running. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private cancel(a: Active): void {
    if (a.done) return;
    a.cancelled = true;
    const w = this.waiting.indexOf(a);
    if (w >= 0) {
      this.waiting.splice(w, 1);
      this.finish(a, 'cancelled', null);
    } else if (!this.stepping) {
      this.release(a);
      this.finish(a, 'cancelled', null);
    }
    // else: the step in flight finishes, then `sweep` frees the row
  }

  private stepping = false;

  private async runLoop(): Promise<void> {
    await nextTask(); // requests submitted in the same tick share the first prefill
    while (this.waiting.length > 0 || this.running.length > 0) {
      this.stepping = true;
      try {
        const admitted = this.admit();
        if (admitted.length > 0) await this.guard(admitted, () => this.prefill(admitted));
        this.sweep();
        const decoding = this.running.slice();
        if (decoding.length > 0) await this.guard(decoding, () => this.decode());
        this.sweep();
      } finally {
        this.stepping = false;
      }
      await this.betweenSteps();
    }
  }

  private submitted = 0;

  /**
   * Lets new requests and cancellations in between steps. A step blocks the event loop (ORT's run is synchronous
   * on this thread), and each yield gives it one poll phase, in which a client's request gets one stage further
   * (accepted, then read and submitted): while requests keep arriving, more turns (each a millisecond at most)
   * let a burst of clients join one prefill instead of trickling in a few per step.
   */
  private async betweenSteps(): Promise<void> {
    let before = this.submitted;
    await nextTask();
    for (let turn = 0; turn < ARRIVAL_TURNS && this.submitted > before; turn++) {
      before = this.submitted;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Runs a step; if it throws, the requests in it fail with the error and the engine goes on. */
  private async guard(requests: readonly Active[], step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (e) {
      for (const a of requests) {
        if (a.done) continue;
        this.release(a);
        a.done = true;
        a.cleanup();
        a.reject(e);
      }
    }
  }

  /**
   * Moves waiting requests into free rows while their prompt + max tokens fit the cache budget and the prefill
   * batch stays within maxPrefillTokens padded tokens (first come, first served); while rows decode, only once the
   * waiting requests fill the free rows or the oldest has waited prefillDelaySteps decode steps.
   */
  private admit(): Active[] {
    const admitted: Active[] = [];
    const decoding = this.running.length > 0;
    const fillsRows = this.waiting.length >= this.maxBatch - this.running.length;
    const waited = this.waiting.length > 0 ? this.counters.steps - this.waiting[0].queuedAtStep : 0;
    if (decoding && !fillsRows && waited < this.prefillDelaySteps) return admitted; // let more requests gather
    let reserved = this.running.reduce((n, a) => n + a.req.promptIds.length + a.req.maxTokens, 0);
    let longest = 0;
    while (this.waiting.length > 0 && this.running.length < this.maxBatch) {
      const next = this.waiting[0];
      const need = next.req.promptIds.length + next.req.maxTokens;
      if (reserved + need > this.maxCachedTokens && this.running.length > 0) break;
      const padded = (admitted.length + 1) * Math.max(longest, next.req.promptIds.length);
      if (admitted.length > 0 && padded > this.maxPrefillTokens) break;
      longest = Math.max(longest, next.req.promptIds.length);
      this.waiting.shift();
      reserved += need;
      this.running.push(next);
      admitted.push(next);
    }
    return admitted;
  }

  /**
   * The graph of a prefill (adapter tables gathered by the rows' slots) or a decode step (each row's adapter
   * entries fed per row from `RowInputs`, copied only when a row's adapter changes, so a step gathers nothing).
   */
  private graph(withCache: boolean): { graph: Graph; plan: ReturnType<AdapterStore['plan']>['plan']; version: number } {
    const { plan, version } = this.adapters.plan();
    const key = `${withCache}:${plan.key}`;
    let graph = this.graphs.get(key);
    if (!graph) {
      const b = new GraphBuilder();
      graph = b.build(traceGenerationStep(this.model, b, { withCache, linear: mixedLinear(b, plan, { rows: withCache ? 'fed' : 'gather' }) }));
      this.graphs.set(key, graph);
    }
    return { graph, plan, version };
  }

  private async run(withCache: boolean, rows: readonly Active[], feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const { graph, plan, version } = this.graph(withCache);
    const compiled = await this.runtime.compile(graph);
    if (!withCache) {
      if (this.tableFeeds?.version !== version) this.tableFeeds = { version, feeds: mixedTableFeeds(plan, 'float32') };
      return compiled.run({ ...feeds, ...this.tableFeeds.feeds, ...mixedIndexFeeds(plan, rows.map((a) => a.adapter)) });
    }
    if (this.rowInputs?.version !== version) this.rowInputs = { version, inputs: new RowInputs(plan, 'float32', this.maxBatch) };
    const inputs = this.rowInputs.inputs;
    rows.forEach((a, i) => inputs.set(i, a.adapter));
    return compiled.run({ ...feeds, ...inputs.feeds(rows.length) });
  }

  private layerOutputs(out: Record<string, HostTensor>): { keys: Float32Array[]; values: Float32Array[] } {
    const n = this.model.config.numHiddenLayers;
    return {
      keys: Array.from({ length: n }, (_, l) => out[KV_NAMES.keys(l)].data as Float32Array),
      values: Array.from({ length: n }, (_, l) => out[KV_NAMES.values(l)].data as Float32Array),
    };
  }

  /** Runs the admitted prompts as one left-padded batch, stores their keys and values, and samples each first token. */
  private async prefill(rows: readonly Active[]): Promise<void> {
    const started = performance.now();
    const t = Math.max(...rows.map((a) => a.req.promptIds.length));
    const inputIds = rows.map((a) => [...new Array<number>(t - a.req.promptIds.length).fill(0), ...a.req.promptIds]);
    const attentionMask = rows.map((a) => [...new Array<number>(t - a.req.promptIds.length).fill(0), ...new Array<number>(a.req.promptIds.length).fill(1)]);
    const batch = { inputIds, attentionMask };
    const feeds: Record<string, HostTensor> = {
      [INPUT_NAMES.inputIds]: int64Tensor(inputIds),
      [INPUT_NAMES.positionIds]: positionIds(batch),
      [INPUT_NAMES.attentionBias]: attentionBias(batch, 'float32'),
    };
    if (this.model.hasSlidingLayers) feeds[INPUT_NAMES.slidingBias] = attentionBias(batch, 'float32', this.model.config.slidingWindow);
    const out = await this.run(false, rows, feeds);
    const { keys, values } = this.layerOutputs(out);
    const longest = Math.max(...this.running.map((a) => a.req.promptIds.length + 1));
    this.cache.reserve(longest, this.running.length - rows.length);
    const v = this.model.config.vocabSize;
    const logits = out.logits.data as Float32Array;
    const lse = out.logsumexp.data as Float32Array;
    rows.forEach((a, i) => {
      const row = this.running.indexOf(a);
      const pad = t - a.req.promptIds.length;
      this.cache.clear(row);
      this.cache.append(row, keys, values, i, t, pad, a.req.promptIds.map((_, j) => j));
      this.counters.promptTokens += a.req.promptIds.length;
      if (!a.cancelled) this.accept(a, logits.subarray(i * v, (i + 1) * v), lse[i]);
    });
    this.onStep?.({ kind: 'prefill', rows: rows.length, positions: t, cachedPositions: 0, ms: performance.now() - started });
  }

  /** One new token for every running row. */
  private async decode(): Promise<void> {
    const started = performance.now();
    const rows = this.running.slice();
    const n = rows.length;
    this.cache.reserve(Math.max(...rows.map((a) => a.position + 1)), n);
    const positions = rows.map((a) => a.position);
    const ownBias: HostTensor = { dtype: 'float32', shape: [n, 1, 1, 1], data: new Float32Array(n) }; // each new token sees itself
    const feeds: Record<string, HostTensor> = {
      [INPUT_NAMES.inputIds]: int64Tensor(rows.map((a) => [a.tokens[a.tokens.length - 1]])),
      [INPUT_NAMES.positionIds]: int64Tensor(positions.map((p) => [p])),
      [INPUT_NAMES.attentionBias]: ownBias,
      [PAST_BIAS_NAMES.attention]: this.cache.pastBias(n, positions),
      ...this.cache.feeds(n, { keys: KV_NAMES.pastKeys, values: KV_NAMES.pastValues }),
    };
    if (this.model.hasSlidingLayers) {
      feeds[INPUT_NAMES.slidingBias] = ownBias;
      feeds[PAST_BIAS_NAMES.sliding] = this.cache.pastBias(n, positions, this.model.config.slidingWindow);
    }
    const out = await this.run(true, rows, feeds);
    this.counters.steps++;
    const { keys, values } = this.layerOutputs(out);
    const v = this.model.config.vocabSize;
    const logits = out.logits.data as Float32Array;
    const lse = out.logsumexp.data as Float32Array;
    rows.forEach((a, i) => {
      this.cache.append(i, keys, values, i, 1, 0, [a.position]);
      a.position++;
      if (!a.cancelled && !a.done) this.accept(a, logits.subarray(i * v, (i + 1) * v), lse[i]);
    });
    this.onStep?.({ kind: 'decode', rows: n, positions: 1, cachedPositions: this.cache.positionsPerRow, ms: performance.now() - started });
  }

  /** Samples a request's next token from its logits [V], streams it and applies the stop conditions. */
  private accept(a: Active, logits: Float32Array, logSumExp: number): void {
    const choice = a.sampler.choose(logits, logSumExp);
    a.tokens.push(choice.token);
    a.logprobs.push(choice.logprob);
    a.top.push(choice.top);
    this.counters.generatedTokens++;
    const stopToken = a.req.stopTokenIds.has(choice.token);
    let text = '';
    let stopString: string | null = null;
    if (a.detok && !stopToken) {
      const piece = a.detok.push(choice.token);
      if (a.stops) {
        const m = a.stops.push(piece);
        text = m.emit;
        if (m.stopped) stopString = m.stop ?? null;
      } else {
        text = piece;
      }
    }
    const length = a.tokens.length >= a.req.maxTokens;
    if (stopString === null && (stopToken || length)) text += this.flushText(a); // the held-back rest
    a.text += text;
    a.onToken?.({ token: choice.token, logprob: choice.logprob, top: choice.top, text });
    if (stopToken) this.finish(a, 'stop', choice.token, true);
    else if (stopString !== null) this.finish(a, 'stop', stopString, true);
    else if (length) this.finish(a, 'length', null, true);
  }

  private flushText(a: Active): string {
    if (!a.detok) return '';
    const rest = a.detok.flush();
    return a.stops ? a.stops.push(rest).emit + a.stops.flush() : rest;
  }

  /** Frees finished and cancelled rows, keeping the running rows packed. */
  private sweep(): void {
    for (let i = this.running.length - 1; i >= 0; i--) {
      const a = this.running[i];
      if (!a.done && !a.cancelled) continue;
      this.release(a);
      if (!a.done) this.finish(a, 'cancelled', null);
    }
  }

  /** Removes a running request's row (the last row moves into it). */
  private release(a: Active): void {
    const row = this.running.indexOf(a);
    if (row < 0) return;
    const last = this.running.length - 1;
    this.cache.move(last, row);
    this.running[row] = this.running[last];
    this.running.pop();
  }

  private finish(a: Active, reason: FinishReason, stoppedBy: number | string | null, keepRow = false): void {
    if (a.done) return;
    a.done = true;
    a.cleanup();
    if (!keepRow) this.release(a);
    a.resolve({
      tokens: a.tokens,
      logprobs: a.logprobs,
      topLogprobs: a.top,
      text: a.detok ? a.text : null,
      finishReason: reason,
      stoppedBy,
      promptTokens: a.req.promptIds.length,
      seed: a.sampler.seed,
    });
  }
}
