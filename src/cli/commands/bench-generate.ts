// `roadster bench generate`: the generation engine's prefill and decode speed on a preset-shaped model (random
// weights) or a model folder, for the base model, RoAd and LoRA (r 8) on all linear layers with the batch's rows
// spread over 1, 4, 16 or 64 distinct adapters, and a merged model (the base graph with changed weights). Each
// case warms up (graph compilation), then runs `batch` requests of `prompt` random tokens for `new` tokens each,
// all submitted at once: one prefill run, then decode steps. Reports prefill and decode tokens/s, decode step
// p50/p99 and the peak RSS so far. `--contexts` measures the decode step against the cached context length.
// `--llama-cpp` adds llama.cpp (node-llama-cpp, a devDependency) at batch 1 on an F32 GGUF exported from the same
// weights, with an F32 KV cache, so both sides compute in float32.

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterEntry, SiteParams } from '../../adapters/kind.ts';
import { type AdapterConfig, kindOf } from '../../adapters/kinds.ts';
import { loraConfig } from '../../adapters/lora/config.ts';
import { roadConfig } from '../../adapters/road/config.ts';
import { selectSites } from '../../adapters/target-modules.ts';
import { GenerationEngine, type StepInfo } from '../../generate/engine.ts';
import type { PresetName } from '../../io/config/index.ts';
import { CausalLM } from '../../models/causal-lm.ts';
import { exportGguf } from '../../models/gguf-export.ts';
import type { Weight } from '../../models/load-weights.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { median, randomIds } from '../bench-inputs.ts';
import { type CliIo, printJson, usageError } from '../io.ts';
import { ensurePresetFolder } from '../preset-cache.ts';

export interface GenerateBenchOptions {
  readonly preset?: PresetName;
  readonly model?: string;
  readonly batches: number[];
  readonly adapters: number[];
  readonly methods: string[];
  readonly prompt: number;
  readonly new: number;
  /** Timed rounds per case, alternating between the methods (default 1). */
  readonly rounds: number;
  readonly contexts?: number[];
  readonly llamaCpp?: boolean;
  readonly threads?: number;
  readonly seed: number;
  readonly quantize: QuantizeWeights;
  readonly json?: boolean;
}

export type BenchMethod = 'base' | 'road' | 'lora' | 'merged' | 'llama.cpp';

export interface GenerateBenchResult {
  readonly method: BenchMethod;
  readonly batch: number;
  readonly adapters: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  readonly stepMsP50: number;
  readonly stepMsP99: number;
  readonly peakRssMB: number;
}

export interface ContextBenchResult {
  readonly context: number;
  readonly cachedPositions: number;
  readonly stepMsP50: number;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Random adapters of `config` on every site it targets (PEFT's non-identity inits, so the work is real). */
function randomAdapter(model: CausalLM, config: AdapterConfig, name: string, seed: number): AdapterEntry<AdapterConfig> {
  const kind = kindOf(config);
  const params = new Map<string, SiteParams>();
  selectSites(config.targetModules, model.linearSites(), name).forEach((site, i) => {
    kind.checkSite(config, site);
    params.set(site.path, kind.initParams(config, site, seed * 1009 + i));
  });
  return { name, config, params };
}

/** RoAd road_1 on all linear layers, group 64 (or the largest power of two that divides every output width). */
function roadBenchConfig(model: CausalLM): AdapterConfig {
  let groupSize = 64;
  while (model.linearSites().some((s) => s.outFeatures % groupSize !== 0)) groupSize /= 2;
  return roadConfig({ variant: 'road_1', groupSize, targetModules: 'all-linear', initWeights: false }, model.config.modelType);
}

/** The model with one adapter merged into its weights (what `roadster merge` writes). */
function mergedModel(model: CausalLM, adapter: AdapterEntry<AdapterConfig>): CausalLM {
  const kind = kindOf(adapter.config);
  const sites = new Map(model.linearSites().map((s) => [s.path, s]));
  const replaced = new Map<string, Weight>();
  for (const [path, params] of adapter.params) {
    const w = model.weights.get(`${path}.weight`)!;
    const b = model.weights.get(`${path}.bias`);
    const merged = kind.merge(adapter.config, sites.get(path)!, params, { weight: w.data as Float32Array, bias: (b?.data as Float32Array | undefined) ?? null });
    replaced.set(`${path}.weight`, { ...w, data: merged.weight });
    if (b && merged.bias) replaced.set(`${path}.bias`, { ...b, data: merged.bias });
  }
  return model.withWeights(replaced);
}

/** One method at one batch size: its engine (graphs compiled), and the steps its timed rounds took. */
interface PreparedCase {
  readonly method: BenchMethod;
  readonly batch: number;
  readonly engine: GenerationEngine;
  readonly names: readonly string[];
  readonly steps: StepInfo[];
}

async function prepareCase(
  model: CausalLM,
  runtime: Runtime,
  method: BenchMethod,
  batch: number,
  adapterCount: number,
  opts: GenerateBenchOptions,
): Promise<PreparedCase> {
  const steps: StepInfo[] = [];
  const engine = new GenerationEngine(model, runtime, {
    maxBatch: batch,
    maxLoadedAdapters: Math.max(1, adapterCount),
    maxModelLen: Math.min(model.config.maxPositionEmbeddings, Math.max(128, opts.prompt + opts.new)),
    eosTokenIds: [],
    onStep: (s) => steps.push(s),
  });
  const names: string[] = [];
  if (method === 'road' || method === 'lora') {
    for (let a = 0; a < adapterCount; a++) {
      const config =
        method === 'road'
          ? roadBenchConfig(model)
          : loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear', initLoraWeights: 'gaussian' }, model.config.modelType);
      const entry = randomAdapter(model, config, `${method}-${a}`, opts.seed + a);
      engine.adapters.add(entry);
      names.push(entry.name);
    }
  }
  const c = { method, batch, engine, names, steps };
  await runRound(c, model, opts, opts.seed + 1, 2); // compiles the prefill and decode graphs
  steps.length = 0;
  return c;
}

/** One timed round: `batch` requests of `opts.prompt` random tokens, all submitted at once, `n` new tokens each. */
async function runRound(c: PreparedCase, model: CausalLM, opts: GenerateBenchOptions, seed: number, n = opts.new): Promise<void> {
  await c.engine.generate(
    randomIds(c.batch, opts.prompt, model.config.vocabSize, seed).map((ids, i) => ({
      promptIds: ids,
      adapter: c.names.length > 0 ? c.names[i % c.names.length] : null,
      maxTokens: n,
      sampling: { temperature: 0 },
      ignoreEos: true,
    })),
  );
}

function caseResult(c: PreparedCase): GenerateBenchResult {
  const prefill = c.steps.filter((s) => s.kind === 'prefill');
  const decode = c.steps.filter((s) => s.kind === 'decode').map((s) => s.ms);
  const prefillMs = prefill.reduce((t, s) => t + s.ms, 0);
  const decodeMs = decode.reduce((t, ms) => t + ms, 0);
  return {
    method: c.method,
    batch: c.batch,
    adapters: c.names.length,
    prefillTokensPerSecond: prefill.reduce((t, s) => t + s.rows * s.positions, 0) / (prefillMs / 1000),
    decodeTokensPerSecond: (c.batch * decode.length) / (decodeMs / 1000),
    stepMsP50: quantile(decode, 0.5),
    stepMsP99: quantile(decode, 0.99),
    peakRssMB: peakRssMB(),
  };
}

/** Decode step time at batch 1 after prompts of each context length: the cache is read, never copied. */
async function runContexts(model: CausalLM, runtime: Runtime, contexts: readonly number[], opts: GenerateBenchOptions): Promise<ContextBenchResult[]> {
  const out: ContextBenchResult[] = [];
  const longest = Math.max(...contexts) + 16;
  if (longest > model.config.maxPositionEmbeddings) throw usageError(`--contexts up to ${Math.max(...contexts)} need a model with max_position_embeddings >= ${longest}`);
  for (const context of contexts) {
    const steps: StepInfo[] = [];
    const engine = new GenerationEngine(model, runtime, { maxBatch: 1, maxModelLen: longest, eosTokenIds: [], onStep: (s) => steps.push(s) });
    const [ids] = randomIds(1, context, model.config.vocabSize, opts.seed + context);
    await engine.generate([{ promptIds: ids, maxTokens: 4, sampling: { temperature: 0 }, ignoreEos: true }]);
    steps.length = 0;
    await engine.generate([{ promptIds: ids, maxTokens: 16, sampling: { temperature: 0 }, ignoreEos: true }]);
    await engine.close();
    const decode = steps.filter((s) => s.kind === 'decode');
    out.push({ context, cachedPositions: decode[decode.length - 1].cachedPositions, stepMsP50: median(decode.map((s) => s.ms)) });
  }
  return out;
}

/** llama.cpp at batch 1 on the same weights, exported to a temporary F32 GGUF file (ids only, placeholder vocabulary). */
async function runLlamaCpp(model: CausalLM, threads: number, opts: GenerateBenchOptions): Promise<GenerateBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'roadster-bench-gguf-'));
  try {
    const file = join(dir, 'model.gguf');
    await exportGguf(model, file, { vocabulary: 'placeholder', dtype: 'f32' });
    const { benchLlamaCppDecode } = await import('../bench-llama-cpp.ts');
    const r = await benchLlamaCppDecode(file, { promptTokens: opts.prompt, newTokens: opts.new, threads, kvCacheType: 'F32', seed: opts.seed });
    return { method: 'llama.cpp', batch: 1, adapters: 0, ...pick(r), peakRssMB: peakRssMB() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pick(r: { prefillTokensPerSecond: number; decodeTokensPerSecond: number; stepMsP50: number; stepMsP99: number }) {
  return { prefillTokensPerSecond: r.prefillTokensPerSecond, decodeTokensPerSecond: r.decodeTokensPerSecond, stepMsP50: r.stepMsP50, stepMsP99: r.stepMsP99 };
}

export async function runBenchGenerate(opts: GenerateBenchOptions, io: CliIo): Promise<void> {
  if ((opts.preset === undefined) === (opts.model === undefined)) throw usageError('give exactly one of --preset NAME and --model DIR.');
  const methods = opts.methods as BenchMethod[];
  const log = (line: string) => {
    if (!opts.json) io.stdout.write(`${line}\n`);
    else io.stderr.write(`${line}\n`);
  };
  const folder = opts.model ?? ensurePresetFolder(opts.preset!, { dtype: 'F32', seed: opts.seed }).folder;
  const model = await CausalLM.fromFolder(folder);
  const threads = opts.threads ?? availableParallelism();
  const runtime = new Runtime({ threads, quantizeWeights: opts.quantize });
  const results: GenerateBenchResult[] = [];
  let contexts: ContextBenchResult[] = [];
  try {
    // Per batch size every method's engine is compiled first, then their timed rounds alternate (base, road, ...,
    // base, road, ...), so that the machine's drift over a run falls on every method alike.
    const targets = new Map(methods.map((m) => [m, m === 'merged' ? mergedModel(model, randomAdapter(model, roadBenchConfig(model), 'merged', opts.seed)) : model]));
    const byBatch: GenerateBenchResult[][] = [];
    for (const [k, batch] of opts.batches.entries()) {
      const cases: PreparedCase[] = [];
      for (const method of methods) {
        const adapters = method === 'road' || method === 'lora' ? Math.min(batch, opts.adapters[Math.min(k, opts.adapters.length - 1)]) : 0;
        cases.push(await prepareCase(targets.get(method)!, runtime, method, batch, adapters, opts));
      }
      for (let round = 0; round < opts.rounds; round++) {
        for (const c of cases) await runRound(c, model, opts, opts.seed + 2 + round);
      }
      byBatch.push(cases.map(caseResult));
      for (const c of cases) await c.engine.close();
    }
    for (const [m, method] of methods.entries()) {
      for (const row of byBatch) {
        const r = row[m];
        results.push(r);
        log(
          `${method.padEnd(6)} batch ${String(r.batch).padStart(3)} adapters ${String(r.adapters).padStart(3)}: prefill ${r.prefillTokensPerSecond.toFixed(0)} tok/s, ` +
            `decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s, step p50 ${r.stepMsP50.toFixed(1)} ms p99 ${r.stepMsP99.toFixed(1)} ms, peak RSS ${r.peakRssMB.toFixed(0)} MB`,
        );
      }
    }
    if (opts.llamaCpp) {
      const r = await runLlamaCpp(model, threads, opts);
      results.push(r);
      log(`llama.cpp batch 1 (F32 GGUF, F32 KV cache): prefill ${r.prefillTokensPerSecond.toFixed(0)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s, step p50 ${r.stepMsP50.toFixed(1)} ms p99 ${r.stepMsP99.toFixed(1)} ms`);
    }
    if (opts.contexts) {
      contexts = await runContexts(model, runtime, opts.contexts, opts);
      for (const c of contexts) log(`context ${c.context}: decode step p50 ${c.stepMsP50.toFixed(2)} ms (cache capacity ${c.cachedPositions})`);
    }
  } finally {
    await runtime.release();
  }
  if (opts.json) {
    printJson(io, {
      model: opts.preset ?? opts.model,
      threads,
      quantize: opts.quantize,
      promptTokens: opts.prompt,
      newTokens: opts.new,
      results,
      ...(opts.contexts ? { contexts } : {}),
    });
  }
}
