// /metrics in Prometheus' text format (prom-client), one registry per server (never the library's global
// default registry, so that two servers in one process count apart). Names follow vLLM's where vLLM has the
// metric, so that dashboards and the Gateway API Inference Extension's endpoint picker read roadster as they read
// vLLM: vllm:num_requests_running / _waiting, vllm:kv_cache_usage_perc and vllm:lora_requests_info (its labels
// running_lora_adapters, waiting_lora_adapters, max_lora; its value the time of the scrape, as vLLM sets it).

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GenerationEngine } from '../generate/engine.ts';

/** Buckets of vLLM's time-to-first-token histogram (seconds). */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
/** Buckets of vLLM's inter-token-latency histogram (seconds). */
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960];

/** How one request ended, for vllm:request_success_total's finished_reason label. */
export type FinishedReason = 'stop' | 'length' | 'abort';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #prompt: Counter;
  readonly #generation: Counter;
  readonly #success: Counter;
  readonly #adapterRequests: Counter;
  readonly #ttft: Histogram;
  readonly #itl: Histogram;
  readonly #e2e: Histogram;
  readonly #model: string;

  constructor(engine: GenerationEngine, modelName: string) {
    this.#model = modelName;
    const registers = [this.registry];
    const labelNames = ['model_name'] as const;
    const stat = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, labelNames, registers, collect() { this.set({ model_name: modelName }, read()); } });
    stat('vllm:num_requests_running', 'Requests in the running batch (decoding or prefilling).', () => engine.stats().running);
    stat('vllm:num_requests_waiting', 'Requests waiting for a batch row.', () => engine.stats().waiting);
    stat('vllm:kv_cache_usage_perc', 'KV-cache usage, 0 to 1: cached tokens over the engine\'s cached-token budget.', () => {
      const s = engine.stats();
      return Math.min(1, s.cachedTokens / s.maxCachedTokens);
    });
    new Gauge({
      name: 'vllm:lora_requests_info',
      help: 'Adapters of running and waiting requests (comma-separated labels) and the most resident adapters; the value is the scrape time.',
      labelNames: ['running_lora_adapters', 'waiting_lora_adapters', 'max_lora'],
      registers,
      collect() {
        const s = engine.stats();
        this.reset();
        this.set(
          { running_lora_adapters: s.runningAdapters.join(','), waiting_lora_adapters: s.waitingAdapters.join(','), max_lora: String(engine.adapters.maxLoaded) },
          Date.now() / 1000,
        );
      },
    });
    new Gauge({ name: 'roadster_loaded_adapters', help: 'Adapters resident in the engine.', registers, collect() { this.set(engine.adapters.names.length); } });
    new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory of the server process in bytes.', registers, collect() { this.set(process.memoryUsage().rss); } });
    this.#prompt = new Counter({ name: 'vllm:prompt_tokens_total', help: 'Prompt tokens prefilled.', labelNames, registers });
    this.#generation = new Counter({ name: 'vllm:generation_tokens_total', help: 'Tokens generated.', labelNames, registers });
    this.#success = new Counter({ name: 'vllm:request_success_total', help: 'Finished requests (one per choice) by finish reason.', labelNames: ['model_name', 'finished_reason'], registers });
    this.#adapterRequests = new Counter({
      name: 'roadster_adapter_requests_total',
      help: 'Generation requests (one per choice) by the model they named: the base model\'s served name or an adapter.',
      labelNames: ['adapter'],
      registers,
    });
    this.#ttft = new Histogram({ name: 'vllm:time_to_first_token_seconds', help: 'Time from arrival to the first generated token.', labelNames, buckets: TTFT_BUCKETS, registers });
    this.#itl = new Histogram({ name: 'vllm:inter_token_latency_seconds', help: 'Time between consecutive generated tokens of one request.', labelNames, buckets: ITL_BUCKETS, registers });
    this.#e2e = new Histogram({ name: 'vllm:e2e_request_latency_seconds', help: 'Time from arrival to the last token.', labelNames, buckets: E2E_BUCKETS, registers });
  }

  /** A tracker for one choice of a request that arrived at `arrival` (performance.now() ms). */
  track(model: string, arrival: number): ChoiceTracker {
    this.#adapterRequests.inc({ adapter: model });
    const labels = { model_name: this.#model };
    let last: number | null = null;
    return {
      token: () => {
        const now = performance.now();
        if (last === null) this.#ttft.observe(labels, (now - arrival) / 1000);
        else this.#itl.observe(labels, (now - last) / 1000);
        last = now;
        this.#generation.inc(labels);
      },
      finish: (reason, promptTokens) => {
        this.#prompt.inc(labels, promptTokens);
        this.#success.inc({ ...labels, finished_reason: reason });
        this.#e2e.observe(labels, (performance.now() - arrival) / 1000);
      },
    };
  }

  /** The exposition text. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Records the timing and counts of one choice. */
export interface ChoiceTracker {
  token(): void;
  finish(reason: FinishedReason, promptTokens: number): void;
}
