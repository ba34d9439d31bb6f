// A graph compiled to an ONNX Runtime session: validates feeds, runs, and copies results back to host tensors.
// Sessions are created and cached by `Runtime`; a CompiledGraph is shared by every compile of the same graph.

import { RoadsterError } from '../errors.ts';
import type { TensorSpec } from '../graph/onnx/lower.ts';
import type { OrtSession, OrtTensor, RuntimeBackend } from './backend.ts';
import { fromOrtTensor, toOrtTensor, validateFeeds } from './feeds.ts';
import type { HostTensor } from './host-tensor.ts';

/** ONNX Runtime graph optimization levels. */
export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** How a CompiledGraph was built; for tests, logs and benchmarks. */
export interface CompileInfo {
  /** Cache key: structure hash plus weight identities and compile options. */
  readonly signature: string;
  /** The level the session uses ("basic" at most when the graph holds float64 values). */
  readonly optimizationLevel: OptimizationLevel;
  /** Whether the model went through an external data file. */
  readonly externalData: boolean;
}

/** A runnable graph. Create it with `Runtime.compile`; release it with `dispose` or `Runtime.release`. */
export class CompiledGraph {
  private closed = false;

  /** @internal Use `Runtime.compile`. */
  constructor(
    private readonly session: OrtSession,
    /** Graph inputs, in trace order; every one must be fed. */
    readonly inputs: readonly TensorSpec[],
    /** Graph outputs, in build order; `run` returns them all. */
    readonly outputs: readonly TensorSpec[],
    readonly info: CompileInfo,
    private readonly backend: RuntimeBackend,
    /** `cleanup` removes the session's temporary files; `onDispose` tells the runtime. */
    private readonly hooks: { cleanup?: () => Promise<void>; onDispose?: (g: CompiledGraph) => void } = {},
  ) {}

  /** Whether `dispose` has run. */
  get disposed(): boolean {
    return this.closed;
  }

  /**
   * Runs the graph. Feeds are validated first (E_FEED); ORT failures become E_RUNTIME. Returns every output,
   * copied out of ORT's buffers.
   */
  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    if (this.closed) throw new RoadsterError('E_USAGE', 'run() on a disposed compiled graph; compile the graph again');
    validateFeeds(this.inputs, feeds);
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const spec of this.inputs) ortFeeds[spec.name] = toOrtTensor(feeds[spec.name], this.backend);
    let results: Record<string, OrtTensor>;
    try {
      results = await this.session.run(ortFeeds);
    } catch (e) {
      const names = this.outputs.map((o) => o.name).join(', ');
      const message = `ONNX Runtime failed running the graph with outputs [${names}]: ${(e as Error).message ?? e}`;
      throw new RoadsterError('E_RUNTIME', message, { cause: e });
    }
    const out: Record<string, HostTensor> = {};
    for (const spec of this.outputs) out[spec.name] = fromOrtTensor(spec.name, results[spec.name]);
    return out;
  }

  /** Ends ORT profiling (when the runtime was created with `profilePrefix`); the trace file is then complete. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  /** Releases the session (and its temporary model files); the runtime forgets it. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hooks.onDispose?.(this);
    try {
      await this.session.release();
    } finally {
      await this.hooks.cleanup?.();
    }
  }
}
