// The ONNX Runtime engine on any build (backend.ts): lowers graphs, creates sessions with the settings the
// design measured (intra-op threads = cores, CPU arena on, memory pattern off, level "basic" for float64
// graphs), and caches sessions by graph signature. `Runtime` (runtime.ts) runs it on onnxruntime-node,
// `WebRuntime` (web-runtime.ts) on onnxruntime-web; this file imports neither.

import { RoadsterError } from '../errors.ts';
import type { Graph } from '../graph/ir.ts';
import { lowerToOnnx } from '../graph/onnx/lower.ts';
import { serializeModel } from '../graph/onnx/serialize.ts';
import { quantizeFrozenMatMuls } from '../graph/quantize.ts';
import type { OrtSessionOptions, RuntimeBackend } from './backend.ts';
import { CompiledGraph, type OptimizationLevel } from './compiled-graph.ts';
import { ObjectIds, graphSignature } from './signature.ts';
import { QUANTIZE_WEIGHTS, type QuantizeWeights } from './quantize-weights.ts';

/** Session settings shared by every graph a Runtime compiles. */
export interface RuntimeOptions {
  /** Intra-op threads (default: the backend's, os.availableParallelism() on Node). */
  readonly threads?: number;
  /** Graph optimization level (default "all"); float64 graphs are capped at "basic". */
  readonly optimizationLevel?: OptimizationLevel;
  /** ORT memory pattern planning (default false: it cost a third more peak memory at the same speed). */
  readonly enableMemPattern?: boolean;
  /** ORT's CPU memory arena (default true: turning it off doubled step time). */
  readonly cpuArena?: boolean;
  /** When set, ORT writes a per-node timing profile (Chrome trace JSON) with this file prefix. */
  readonly profilePrefix?: string | null;
  /**
   * "int8": every matmul against a frozen rank-2 weight uses the weight quantized to int8 per row; forward
   * products also round each activation row (token) to 8 bits and run int8 kernels (ORT's MatMulIntegerToFloat,
   * about 3× the float32 matmul speed on CPUs with VNNI), backward products multiply the dequantized weight in
   * float32. "int8-all": backward products run int8 kernels too (ORT's DynamicQuantizeMatMul; faster, output
   * gradients rounded to 8 bits per tensor), except the output head's, whose softmax gradient stays float32.
   * Numerics change: see BENCHMARKS.md. Default "none".
   */
  readonly quantizeWeights?: QuantizeWeights;
}

export { QUANTIZE_WEIGHTS, type QuantizeWeights };

/** Per-graph options of `Runtime.compile`. */
export interface CompileOptions {
  /** Overrides the runtime's optimization level for this graph (still capped at "basic" for float64). */
  readonly optimizationLevel?: OptimizationLevel;
  /** Initializer bytes above which the model goes through an external data file (default 1.8e9). */
  readonly externalDataThreshold?: number;
  /** With external data, initializers under this many bytes stay inline (default 1024). */
  readonly externalMinBytes?: number;
}

const LEVELS: readonly OptimizationLevel[] = ['disabled', 'basic', 'extended', 'all'];

interface CacheEntry {
  readonly promise: Promise<CompiledGraph>;
  graph?: CompiledGraph;
}

/**
 * Level "extended"/"all" fuses x·sigmoid(x) into QuickGelu, which has no float64 kernel, so float64 graphs run
 * at "basic" at most.
 */
export function effectiveLevel(requested: OptimizationLevel, hasFloat64: boolean): OptimizationLevel {
  return hasFloat64 && LEVELS.indexOf(requested) > LEVELS.indexOf('basic') ? 'basic' : requested;
}

/**
 * Compiles graphs to ONNX Runtime sessions of one backend and caches them. Call `release()` when done. Use
 * `Runtime` (onnxruntime-node) or `WebRuntime` (onnxruntime-web); layers above take either.
 */
export class BaseRuntime {
  readonly options: Required<RuntimeOptions>;
  private readonly ids = new ObjectIds();
  /** signature → pending or finished compile; `graph` is set once the session exists. */
  private readonly cache = new Map<string, CacheEntry>();
  private counts = { sessionsCreated: 0, cacheHits: 0, compileMs: 0 };
  /** Signatures of graphs already seen, by graph object and compile options: graphs are immutable values. */
  private readonly signatures = new WeakMap<Graph, Map<string, string>>();

  constructor(
    /** The ONNX Runtime build that runs the sessions. */
    readonly backend: RuntimeBackend,
    options: RuntimeOptions = {},
  ) {
    const threads = options.threads ?? backend.defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RoadsterError('E_USAGE', `threads must be a positive integer, got ${threads}`);
    }
    const level = options.optimizationLevel ?? 'all';
    if (!LEVELS.includes(level)) {
      throw new RoadsterError('E_USAGE', `optimizationLevel must be one of ${LEVELS.join(', ')}, got ${level}`);
    }
    this.options = {
      threads,
      optimizationLevel: level,
      enableMemPattern: options.enableMemPattern ?? false,
      cpuArena: options.cpuArena ?? true,
      profilePrefix: options.profilePrefix ?? null,
      quantizeWeights: options.quantizeWeights ?? 'none',
    };
    if (!QUANTIZE_WEIGHTS.includes(this.options.quantizeWeights)) {
      throw new RoadsterError('E_USAGE', `quantizeWeights must be one of ${QUANTIZE_WEIGHTS.join(', ')}, got ${this.options.quantizeWeights}`);
    }
  }

  /**
   * Since construction: sessions created, compiles answered from the cache, and the milliseconds spent creating
   * sessions (lowering, serialization and ONNX Runtime's session creation).
   */
  get stats(): { readonly sessionsCreated: number; readonly cacheHits: number; readonly compileMs: number } {
    return { ...this.counts };
  }

  /**
   * Lowers `graph` to ONNX and creates its session, or returns the cached CompiledGraph of an identical graph
   * (same structure and the same weight array objects; weights are treated as immutable).
   */
  compile(graph: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
    const hasFloat64 = graph.values.some((v) => v.dtype === 'float64');
    const level = effectiveLevel(opts.optimizationLevel ?? this.options.optimizationLevel, hasFloat64);
    const extra = `${level}|${opts.externalDataThreshold ?? ''}|${opts.externalMinBytes ?? ''}|${this.backend.contribOps}`;
    let seen = this.signatures.get(graph);
    if (!seen) this.signatures.set(graph, (seen = new Map()));
    let signature = seen.get(extra);
    if (signature === undefined) seen.set(extra, (signature = graphSignature(graph, this.ids, extra, this.backend.hasher())));
    const hit = this.cache.get(signature);
    if (hit) {
      this.counts.cacheHits++;
      return hit.promise;
    }
    const entry: CacheEntry = { promise: this.create(graph, opts, level, signature) };
    this.cache.set(signature, entry);
    entry.promise.then(
      (g) => (entry.graph = g),
      () => this.cache.get(signature) === entry && this.cache.delete(signature),
    );
    return entry.promise;
  }

  /** Releases every session this runtime created; later compiles start afresh. */
  async release(): Promise<void> {
    const pending = [...this.cache.values()].map((e) => e.promise);
    this.cache.clear();
    const settled = await Promise.allSettled(pending);
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.dispose() : undefined)));
  }

  private async create(graph: Graph, opts: CompileOptions, level: OptimizationLevel, signature: string): Promise<CompiledGraph> {
    const started = performance.now();
    try {
      return await this.createSession(graph, opts, level, signature);
    } finally {
      this.counts.compileMs += performance.now() - started;
    }
  }

  private async createSession(graph: Graph, opts: CompileOptions, level: OptimizationLevel, signature: string): Promise<CompiledGraph> {
    const q = this.options.quantizeWeights;
    const lowered = lowerToOnnx(q === 'none' ? graph : quantizeFrozenMatMuls(graph, { roundCotangents: q === 'int8-all' }), {
      contribOps: this.backend.contribOps,
    });
    const serialized = serializeModel(lowered.model, {
      externalDataThreshold: opts.externalDataThreshold,
      externalMinBytes: opts.externalMinBytes,
    });
    const sessionOptions: OrtSessionOptions = {
      executionProviders: this.backend.executionProviders,
      intraOpNumThreads: this.options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: level,
      enableCpuMemArena: this.options.cpuArena,
      enableMemPattern: this.options.enableMemPattern,
      ...(this.options.profilePrefix ? { enableProfiling: true, profileFilePrefix: this.options.profilePrefix } : {}),
    };
    let created: Awaited<ReturnType<RuntimeBackend['createSession']>>;
    try {
      created = await this.backend.createSession(serialized, sessionOptions);
    } catch (e) {
      const outputs = lowered.outputs.map((o) => o.name).join(', ');
      const message = `ONNX Runtime${this.backend.name === 'onnxruntime-node' ? '' : ` (${this.backend.name})`} rejected the lowered graph (outputs ${outputs}): ${(e as Error).message ?? e}`;
      throw new RoadsterError('E_ONNX', message, { cause: e });
    }
    this.counts.sessionsCreated++;
    const info = { signature, optimizationLevel: level, externalData: serialized.kind === 'external' };
    return new CompiledGraph(created.session, lowered.inputs, lowered.outputs, info, this.backend, {
      cleanup: created.cleanup,
      onDispose: (g) => {
        if (this.cache.get(signature)?.graph === g) this.cache.delete(signature);
      },
    });
  }
}
