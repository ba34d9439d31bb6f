// The graphs of a model with adapters, built in one place with one cache: the base model (decoder + head)
// traced with adapters at the linear seam, the active adapters in sequence (PEFT's semantics) or each row's
// adapter in a mixed batch, and the gradient graph of training. The head's weights that adapters copy
// (its modules_to_save, e.g. a classifier's score.weight) are graph inputs, fed from the adapter that owns a
// copy or from the base model, [B, ...shape] with one copy per row in mixed batches. PeftModel holds the adapter
// state and calls these with the entries to apply; a cached graph depends only on the adapters' structure
// (configs and wrapped sites), never on their values, which are feeds.

import { grad, gradName } from '../graph/autodiff.ts';
import type { DType } from '../graph/dtype.ts';
import type { Graph } from '../graph/ir.ts';
import { GraphBuilder, type Tensor } from '../graph/tracer.ts';
import type { CausalLM } from '../models/causal-lm.ts';
import type { HeadBatch } from '../models/heads/head.ts';
import type { LinearFn, LinearSite } from '../models/linear.ts';
import type { WeightSpec } from '../models/llama/checkpoint-names.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { asDType, dropoutFeeds, paramInputName, sequentialFeeds, sequentialLinear, siteInputShapes, siteParamGrads } from './adapter-graph.ts';
import type { AdapterEntry, PeftType } from './kind.ts';
import type { AdapterConfig } from './kinds.ts';
import { type MixedPlan, mixedIndexFeeds, mixedLinear, mixedTableFeeds } from './mixed-batch.ts';
import { peftModuleParameterName } from './modules-to-save.ts';
import { peftParameterName } from './peft-names.ts';
import { adapterConfigJson } from './peft-files.ts';

type Entry = AdapterEntry<AdapterConfig>;
type ParamFn = (b: GraphBuilder, name: string, dtype: DType) => Tensor;

/** Graph input of a head weight that adapters copy: [...shape] for the whole batch, or [B, ...shape] per row. */
export function headInputName(weight: string, perRow: boolean): string {
  return `${perRow ? 'head_rows' : 'head'}:${weight}`;
}

export interface AdapterRunResult {
  /** The head's logits: [B, T, V] vocabulary logits, or [B, K] class logits on a sequence classifier. */
  readonly logits: HostTensor;
  readonly loss?: number;
}

/** Options of a training graph. */
export interface GradientGraphOptions {
  readonly dtype: 'float32' | 'float64';
  readonly recompute: boolean;
  /** LoRA dropout's seed (a number: training mode), or null (no dropout). */
  readonly dropoutSeed: number | null;
  /** The entry whose head copies get gradients (one of `entries`), or null. */
  readonly headOwner: Entry | null;
}

/**
 * A wrapper around the model's linear function (adapters already applied), for interventions on module outputs
 * (src/interpret/): it may replace a site's output and record tensors as extra graph outputs.
 */
export interface LinearWrap {
  /** Identifies the wrapper's graph structure (part of the graph cache key). */
  readonly key: string;
  /** The wrapped linear function; tensors put in `outputs` become graph outputs of those names. */
  wrap(b: GraphBuilder, inner: LinearFn, outputs: Map<string, Tensor>): LinearFn;
}

export class PeftGraphs {
  private readonly cache = new Map<string, Graph>();

  /**
   * `param` gives the base weights (with merged adapters folded in); `siteOf` the linear site of a module path.
   */
  constructor(
    readonly base: CausalLM,
    readonly runtime: Runtime,
    private readonly param: ParamFn,
    private readonly siteOf: (path: string) => LinearSite,
  ) {}

  /** Drops every cached graph (the base weights changed: a merge or an unmerge). */
  clear(): void {
    this.cache.clear();
  }

  /** The head's weights that adapters copy (modules_to_save). */
  private get headCopies(): WeightSpec[] {
    return this.base.head.ownWeights();
  }

  /** A copy of head weight `name`: the adapter's own, else the base model's. */
  private headData(entry: Entry | null, name: string): Float32Array | Float64Array {
    return entry?.modules?.get(name) ?? this.base.weights.get(name)!.data;
  }

  private graph(key: string, build: () => Graph): Graph {
    let g = this.cache.get(key);
    if (!g) this.cache.set(key, (g = build()));
    return g;
  }

  /** Traces the base model with `linear` at every projection and the head's copied weights as inputs. */
  private traced(dtype: 'float32' | 'float64', withLoss: boolean, linear: (b: GraphBuilder) => LinearFn, options: { recompute?: boolean; perRow?: boolean } = {}) {
    const b = new GraphBuilder();
    const copies = new Map(this.headCopies.map((w) => [w.name, w.shape]));
    const param: ParamFn = (bb, name, dt) => {
      const shape = copies.get(name);
      if (!shape) return this.param(bb, name, dt);
      return options.perRow ? bb.input(headInputName(name, true), dt, ['B', ...shape]) : bb.input(headInputName(name, false), dt, shape);
    };
    const { logits, loss } = this.base.trace(b, { dtype, withLoss, linear: linear(b), param, recompute: options.recompute ?? false });
    return { b, logits, loss };
  }

  private structureKey(entries: readonly Entry[]): string {
    return JSON.stringify(entries.map((e) => [adapterConfigJson(e.config), [...e.params.keys()]]));
  }

  /** Feeds of the head copies: `owner`'s (or the base's) for the batch, or each row's adapter's. */
  private headFeeds(dtype: 'float32' | 'float64', owner: Entry | null, rows?: readonly (Entry | null)[]): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    for (const { name, shape } of this.headCopies) {
      if (!rows) {
        feeds[headInputName(name, false)] = { dtype, shape, data: asDType(this.headData(owner, name), dtype) };
        continue;
      }
      const size = shape.reduce((a, d) => a * d, 1);
      const data = dtype === 'float64' ? new Float64Array(rows.length * size) : new Float32Array(rows.length * size);
      rows.forEach((e, i) => data.set(this.headData(e, name), i * size));
      feeds[headInputName(name, true)] = { dtype, shape: [rows.length, ...shape], data };
    }
    return feeds;
  }

  private async run(graph: Graph, batch: HeadBatch, dtype: 'float32' | 'float64', withLoss: boolean, extra: Record<string, HostTensor>) {
    const compiled = await this.runtime.compile(graph);
    return compiled.run({ ...this.base.graphFeeds(batch, dtype, withLoss), ...extra });
  }

  /**
   * Runs `entries` in sequence at every site they wrap, with `headOwner`'s copies of the head (or the base
   * model's): the head's logits and, when the batch has the head's loss inputs, its loss.
   */
  async forward(batch: HeadBatch, entries: readonly Entry[], headOwner: Entry | null, dtype: 'float32' | 'float64'): Promise<AdapterRunResult> {
    const withLoss = this.base.head.hasLossInputs(batch);
    const graph = this.graph(`seq:${dtype}:${withLoss}:${this.structureKey(entries)}`, () => {
      const { b, logits, loss } = this.traced(dtype, withLoss, (bb) => sequentialLinear(bb, dtype, entries));
      return b.build(loss ? { logits, loss } : { logits });
    });
    const extra = { ...sequentialFeeds(entries, this.siteOf, dtype), ...this.headFeeds(dtype, headOwner) };
    const out = await this.run(graph, batch, dtype, withLoss, extra);
    return withLoss ? { logits: out.logits, loss: Number(out.loss.data[0]) } : { logits: out.logits };
  }

  /**
   * Runs `entries` with `wrap` around the linear function (interventions): `logits` and what the wrapper records,
   * with `feeds` the wrapper's graph inputs.
   */
  async wrappedForward(
    batch: HeadBatch,
    entries: readonly Entry[],
    wrap: LinearWrap,
    feeds: Record<string, HostTensor>,
    dtype: 'float32' | 'float64',
  ): Promise<Record<string, HostTensor>> {
    const graph = this.graph(`wrap:${dtype}:${wrap.key}:${this.structureKey(entries)}`, () => {
      const recorded = new Map<string, Tensor>();
      const { b, logits } = this.traced(dtype, false, (bb) => wrap.wrap(bb, sequentialLinear(bb, dtype, entries), recorded));
      return b.build({ logits, ...Object.fromEntries(recorded) });
    });
    return this.run(graph, batch, dtype, false, { ...sequentialFeeds(entries, this.siteOf, dtype), ...this.headFeeds(dtype, null), ...feeds });
  }

  /**
   * A mixed batch: row b runs `rows[b]` (null: the base model) through `plan`, whose slots are `slots[b]`, with
   * its adapter's copies of the head.
   */
  async mixedForward(
    batch: HeadBatch,
    plan: MixedPlan,
    rows: readonly (Entry | null)[],
    slots: readonly ({ type: PeftType; slot: number } | null)[],
    dtype: 'float32' | 'float64',
  ): Promise<AdapterRunResult> {
    const withLoss = this.base.head.hasLossInputs(batch);
    const graph = this.graph(`mixed:${dtype}:${withLoss}:${plan.key}`, () => {
      const { b, logits, loss } = this.traced(dtype, withLoss, (bb) => mixedLinear(bb, plan), { perRow: true });
      return b.build(loss ? { logits, loss } : { logits });
    });
    const extra = { ...mixedTableFeeds(plan, dtype), ...mixedIndexFeeds(plan, slots), ...this.headFeeds(dtype, null, rows) };
    const out = await this.run(graph, batch, dtype, withLoss, extra);
    return withLoss ? { logits: out.logits, loss: Number(out.loss.data[0]) } : { logits: out.logits };
  }

  /**
   * The head's loss and the gradient of every parameter of `entries` (and of the head copies of
   * `options.headOwner`), keyed by PEFT's parameter names, in one run.
   */
  async lossAndGrads(batch: HeadBatch, entries: readonly Entry[], options: GradientGraphOptions): Promise<{ loss: number; grads: Map<string, Float32Array | Float64Array> }> {
    const { dtype, recompute, headOwner } = options;
    const dropout = options.dropoutSeed !== null;
    const wrt: string[] = []; // graph inputs: every site's (siteInputShapes), then the head copies'
    entries.forEach((e, slot) => {
      for (const path of e.params.keys()) for (const input of Object.keys(siteInputShapes(e.config, this.siteOf(path)))) wrt.push(paramInputName(slot, path, input));
    });
    const headInputs = headOwner ? this.headCopies.map((w) => headInputName(w.name, false)) : [];
    wrt.push(...headInputs);
    const graph = this.graph(`grad:${dtype}:${recompute}:${dropout}:${wrt.length}:${this.structureKey(entries)}`, () => {
      const { b, loss } = this.traced(dtype, true, (bb) => sequentialLinear(bb, dtype, entries, { training: dropout }), { recompute });
      return grad(b.build({ loss: loss! }), 'loss', wrt);
    });
    const [rows, columns] = [batch.inputIds.length, batch.inputIds[0]?.length ?? 0];
    const masks = options.dropoutSeed !== null ? dropoutFeeds(entries, options.dropoutSeed, rows, columns) : {};
    const extra = { ...sequentialFeeds(entries, this.siteOf, dtype), ...this.headFeeds(dtype, headOwner), ...masks };
    const out = await this.run(graph, batch, dtype, true, extra);
    const gradOf = (input: string) => out[gradName(input)].data as Float32Array | Float64Array;
    const grads = new Map<string, Float32Array | Float64Array>();
    entries.forEach((e, slot) => {
      for (const [path, params] of e.params) {
        const site = this.siteOf(path);
        const inputGrads = Object.fromEntries(Object.keys(siteInputShapes(e.config, site)).map((input) => [input, gradOf(paramInputName(slot, path, input))]));
        const paramGrads = siteParamGrads(e.config, site, params, inputGrads, dtype);
        for (const p of Object.keys(params)) grads.set(peftParameterName(path, p, e.name), paramGrads[p]);
      }
    });
    if (headOwner) for (const w of this.headCopies) grads.set(peftModuleParameterName(w.name, headOwner.name), gradOf(headInputName(w.name, false)));
    return { loss: Number(out.loss.data[0]), grads };
  }
}
