// PeftModel: a base CausalLM with named adapters, PEFT's API in camelCase (get_peft_model, from_pretrained,
// load_adapter, set_adapter, disable_adapter, delete_adapter, save_pretrained, merge_adapter, unmerge_adapter,
// merge_and_unload). Holds state (adapters, which are active or merged); graphs are rebuilt from that state
// and cached; ONNX sessions are cached by the Runtime. On a sequence classifier (a base with a `score` head)
// it is PEFT's PeftModelForSequenceClassification: forward gives class logits [B, K], and an adapter whose
// modules_to_save lists the head trains, saves and merges its own copy of it (see modules-to-save.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../errors.ts';
import { grad, gradName } from '../graph/autodiff.ts';
import type { DType } from '../graph/dtype.ts';
import type { Graph } from '../graph/ir.ts';
import { GraphBuilder, type Tensor } from '../graph/tracer.ts';
import { writeSafetensors } from '../io/safetensors/index.ts';
import { type CausalLM, INPUT_NAMES } from '../models/causal-lm.ts';
import type { LinearFn, LinearSite } from '../models/linear.ts';
import { type TokenBatch, int64Tensor } from '../models/attention-inputs.ts';
import { sequenceClassificationConfigJson } from '../models/classification-config.ts';
import type { Weight } from '../models/load-weights.ts';
import { SCORE_WEIGHT, argmaxRows, classificationFeeds, requireClassifier, traceSequenceClassification } from '../models/sequence-classification.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import {
  asDType,
  dropoutFeeds,
  dropoutSites,
  paramInputName,
  sequentialFeeds,
  sequentialLinear,
  siteInputShapes,
  siteParamGrads,
  trainsWithDropout,
} from './adapter-graph.ts';
import type { AdapterEntry, PeftType, SiteParams } from './kind.ts';
import { type MixedPlan, batchTables, mixedIndexFeeds, mixedLinear, mixedPlan, mixedTableFeeds } from './mixed-batch.ts';
import { type AdapterConfig, kindOf } from './kinds.ts';
import { SEQ_CLS, checkModulesToSave, peftModuleParameterName, savesHead, withClassifierModules } from './modules-to-save.ts';
import { adapterConfigJson, readAdapterFolder, writeAdapterFolder } from './peft-files.ts';
import { selectSites } from './target-modules.ts';

/**
 * PEFT's `named_parameters()` name of an adapter parameter: the adapter name goes after the parameter's first
 * component (`road_theta.default`, `lora_A.default.weight`).
 */
export function peftParameterName(path: string, param: string, adapter: string): string {
  const [head, ...rest] = param.split('.');
  return ['base_model.model', path, head, adapter, ...rest].join('.');
}

/** PEFT's name for "no adapter" in mixed batches. */
export const BASE_ADAPTER = '__base__';

export interface PeftBatch extends TokenBatch {
  /** [B][T] labels (-100 ignored) for the causal-LM loss. */
  readonly labels?: readonly (readonly number[])[];
  /** Sequence classifiers: one class index per row, for the mean cross-entropy of the class logits. */
  readonly classLabels?: readonly number[];
  /** One adapter per row (`"__base__"` or null for none): PEFT's mixed-batch inference. */
  readonly adapterNames?: readonly (string | null)[];
}

export interface PeftForwardResult {
  /** [B, T, V] vocabulary logits, or [B, K] class logits on a sequence classifier. */
  readonly logits: HostTensor;
  readonly loss?: number;
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

export interface RunOptions {
  readonly dtype?: 'float32' | 'float64';
}

export interface GradOptions extends RunOptions {
  /** Recompute each decoder layer in the backward pass (activation checkpointing): less memory, one more forward. */
  readonly recompute?: boolean;
  /**
   * LoRA dropout (adapters with lora_dropout > 0): a number applies it as PEFT's training mode, with masks that
   * are a function of this seed (one seed per micro-batch reproduces a run); null computes eval-mode gradients
   * (no dropout). Required when an active adapter has dropout; ignored otherwise.
   */
  readonly dropoutSeed?: number | null;
}

type Entry = AdapterEntry<AdapterConfig>;

/** Graph inputs of the classification head: [K, C] for the whole batch, or [B, K, C] with one head per row. */
const HEAD_INPUT = `head:${SCORE_WEIGHT}`;
const HEAD_ROWS_INPUT = `head_rows:${SCORE_WEIGHT}`;

export class PeftModel {
  private readonly adapters = new Map<string, Entry>();
  private active: string[] = [];
  private disabled = false;
  private readonly mergedNames: string[] = [];
  /** Per adapter: which entries of each parameter train (1) and which stay frozen (0), by PEFT parameter name. */
  private readonly masks = new Map<string, { readonly label: string; readonly masks: ReadonlyMap<string, Uint8Array> }>();
  /** Weights changed by merging, by checkpoint name. */
  private readonly overlay = new Map<string, Weight>();
  private readonly graphs = new Map<string, Graph>();
  private readonly sites: ReadonlyMap<string, LinearSite>;
  /** The base model's classification head [K, C], or null for a causal LM. */
  private readonly head: { readonly shape: readonly [number, number]; readonly data: Float32Array } | null;

  /** Wraps `base`; graphs run on `runtime`. Add adapters with `addAdapter` / `loadAdapter`. */
  constructor(
    readonly base: CausalLM,
    readonly runtime: Runtime,
  ) {
    this.sites = new Map(base.linearSites().map((s) => [s.path, s]));
    const score = base.classification ? base.weights.get(SCORE_WEIGHT) : undefined;
    this.head = score ? { shape: [score.shape[0], score.shape[1]], data: score.data } : null;
  }

  /** Whether the base is a sequence classifier (forward gives class logits). */
  get isSequenceClassifier(): boolean {
    return this.head !== null;
  }

  /** PEFT's `get_peft_model`: a new adapter `adapterName` initialised from `config`, made active. */
  static getPeftModel(base: CausalLM, runtime: Runtime, config: AdapterConfig, adapterName = 'default', seed = 0): PeftModel {
    const model = new PeftModel(base, runtime);
    model.addAdapter(adapterName, config, seed);
    return model;
  }

  /** PEFT's `PeftModel.from_pretrained`: loads the adapter folder `dir` as `adapterName` and activates it. */
  static fromPretrained(base: CausalLM, runtime: Runtime, dir: string, options: { adapterName?: string } = {}): PeftModel {
    const model = new PeftModel(base, runtime);
    model.loadAdapter(dir, options.adapterName ?? 'default');
    return model;
  }

  /** Names of the loaded adapters. */
  get adapterNames(): string[] {
    return [...this.adapters.keys()];
  }
  /** Adapters applied (in order) by `forward` and trained by `lossAndGrads`. */
  get activeAdapters(): string[] {
    return [...this.active];
  }
  get mergedAdapters(): string[] {
    return [...this.mergedNames];
  }

  adapter(name: string): Entry {
    const a = this.adapters.get(name);
    if (!a) throw new RoadsterError('E_USAGE', `no adapter named "${name}"; loaded: ${this.adapterNames.join(', ') || 'none'}`);
    return a;
  }

  private register(name: string, config: AdapterConfig, params: Map<string, SiteParams>, modules: Map<string, Float32Array | Float64Array>): void {
    if (name === BASE_ADAPTER) throw new RoadsterError('E_USAGE', `"${BASE_ADAPTER}" is reserved for "no adapter" in mixed batches`);
    if (this.adapters.has(name)) throw new RoadsterError('E_USAGE', `an adapter named "${name}" is already loaded; delete it first or pick another name`);
    this.adapters.set(name, { name, config, params, modules });
    if (this.active.length === 0) this.active = [name];
    this.graphs.clear();
  }

  /**
   * Adds a freshly initialised adapter (PEFT's `add_adapter`). The first adapter becomes active. With task type
   * "SEQ_CLS" on a sequence classifier, modules_to_save gains "classifier" and "score" as in PEFT, and the
   * adapter trains its own copy of the head, starting from the base model's.
   */
  addAdapter(name: string, given: AdapterConfig, seed = 0): void {
    checkModulesToSave(given, `adapter "${name}"`);
    if (this.head === null && (given.taskType === SEQ_CLS || savesHead(given))) {
      throw new RoadsterError(
        'E_ADAPTER',
        `adapter "${name}": task_type ${JSON.stringify(given.taskType)} with modules_to_save ${JSON.stringify(given.modulesToSave)} trains a sequence-classification head, ` +
          'but the base model has none; load it with AutoModelForSequenceClassification.fromPretrained(model, { id2label }) or withClassificationHead',
      );
    }
    const config = withClassifierModules(given);
    const kind = kindOf(config);
    const chosen = selectSites(config.targetModules, [...this.sites.values()], `adapter "${name}"`);
    const params = new Map<string, SiteParams>();
    chosen.forEach((site, i) => {
      kind.checkSite(config, site);
      params.set(site.path, kind.initParams(config, site, seed * 100003 + i));
    });
    const modules = new Map<string, Float32Array | Float64Array>();
    if (this.head && savesHead(config)) modules.set(SCORE_WEIGHT, Float32Array.from(this.head.data)); // PEFT copies the original module
    this.register(name, config, params, modules);
  }

  /** Loads a PEFT adapter folder as `name` (PEFT's `load_adapter`), with its classification head if it saved one. */
  loadAdapter(dir: string, name: string): void {
    const { config, params, modules } = readAdapterFolder(dir, [...this.sites.values()], this.head);
    this.register(name, config, params, modules);
  }

  /**
   * Adds an adapter from a config and parameters in memory, by module path (a composition from composeAdapters,
   * for instance); the parameters must fit the model's layers. The arrays are used as given (float64 stays float64).
   */
  addAdapterFromParams(name: string, config: AdapterConfig, params: ReadonlyMap<string, SiteParams>): void {
    checkModulesToSave(config, `adapter "${name}"`);
    const kind = kindOf(config);
    const copy = new Map<string, SiteParams>();
    for (const [path, p] of params) {
      const site = this.sites.get(path);
      if (!site) throw new RoadsterError('E_ADAPTER', `adapter "${name}": the model has no linear layer ${path}`);
      kind.checkSite(config, site);
      for (const [param, shape] of Object.entries(kind.paramShapes(config, site))) {
        const size = shape.reduce((a, b) => a * b, 1);
        if (p[param]?.length !== size) {
          throw new RoadsterError('E_ADAPTER', `adapter "${name}": ${path}.${param} has ${p[param]?.length ?? 'no'} entries, the layer needs [${shape.join(', ')}]`);
        }
      }
      copy.set(path, p);
    }
    this.register(name, config, copy, new Map());
  }

  /** Makes `names` the active adapters, applied in this order (PEFT's `set_adapter`). */
  setAdapter(names: string | readonly string[]): void {
    const list = typeof names === 'string' ? [names] : [...names];
    for (const n of list) this.adapter(n);
    this.active = list;
    this.disabled = false;
    this.graphs.clear();
  }

  /** Runs the base model alone until `enableAdapters` (PEFT's `disable_adapter` context). */
  disableAdapter(): void {
    this.disabled = true;
  }
  enableAdapters(): void {
    this.disabled = false;
  }

  /** Removes an adapter (PEFT's `delete_adapter`); merged adapters must be unmerged first. */
  deleteAdapter(name: string): void {
    this.adapter(name);
    if (this.mergedNames.includes(name)) throw new RoadsterError('E_USAGE', `adapter "${name}" is merged; call unmergeAdapter() first`);
    this.adapters.delete(name);
    this.masks.delete(name);
    this.active = this.active.filter((n) => n !== name);
    this.graphs.clear();
  }

  /** An adapter's parameters by module path (the arrays are live: the trainer updates them in place). */
  parameters(name: string): ReadonlyMap<string, SiteParams> {
    return this.adapter(name).params;
  }

  /**
   * An adapter's modules_to_save copies by weight name (the classification head "score.weight" [K, C]; live
   * arrays, like `parameters`); empty when it has none.
   */
  modules(name: string): ReadonlyMap<string, Float32Array | Float64Array> {
    return this.adapter(name).modules ?? new Map();
  }

  /**
   * Every trainable tensor of an adapter under PEFT's `named_parameters()` names: its layer parameters and its
   * copy of the head (`base_model.model.score.modules_to_save.<adapter>.weight`). The arrays are live.
   */
  namedParameters(name: string): Map<string, Float32Array | Float64Array> {
    const out = new Map<string, Float32Array | Float64Array>();
    for (const [path, site] of this.parameters(name)) for (const [p, data] of Object.entries(site)) out.set(peftParameterName(path, p, name), data);
    for (const [weight, data] of this.modules(name)) out.set(peftModuleParameterName(weight, name), data);
    return out;
  }

  /**
   * Stores an adapter's parameters as float64 (master weights for float64 training and gradient checks) or
   * back as float32. Saved files are always F32, as PEFT writes them.
   */
  castParameters(name: string, dtype: 'float32' | 'float64'): void {
    const a = this.adapter(name);
    const params = new Map<string, SiteParams>();
    for (const [path, site] of a.params) {
      params.set(path, Object.fromEntries(Object.entries(site).map(([k, v]) => [k, dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v)])));
    }
    const modules = new Map([...(a.modules ?? [])].map(([k, v]) => [k, dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v)]));
    this.adapters.set(name, { ...a, params, modules });
  }

  /**
   * Restricts training of an adapter to some entries of its parameters (by PEFT parameter name, as
   * `namedParameters`; 1 = trains): `lossAndGrads` returns zero gradients elsewhere and the trainer's optimizer
   * leaves those entries and their moments alone (no weight decay either). `label` names the restriction in
   * reports and in the resume fingerprint (e.g. "road pairs 0/2"). Subspace training uses it (subspace.ts).
   */
  setTrainableMask(name: string, label: string, masks: ReadonlyMap<string, Uint8Array>): void {
    const params = this.namedParameters(name);
    for (const [param, mask] of masks) {
      const data = params.get(param);
      if (!data) throw new RoadsterError('E_USAGE', `adapter "${name}" has no parameter "${param}" to mask`);
      if (data.length !== mask.length) throw new RoadsterError('E_USAGE', `mask of "${param}" has ${mask.length} entries, the parameter ${data.length}`);
    }
    this.masks.set(name, { label, masks });
  }

  /** The adapter's trainable-entry masks (see setTrainableMask), or null when every entry trains. */
  trainableMask(name: string): { readonly label: string; readonly masks: ReadonlyMap<string, Uint8Array> } | null {
    this.adapter(name);
    return this.masks.get(name) ?? null;
  }

  /**
   * Trainable parameters of the active adapters (entries outside a trainable mask do not count) and all
   * parameters (base + adapters), as PEFT counts them.
   */
  trainableParameters(): { trainable: number; total: number; percent: number } {
    let trainable = 0;
    let adapters = 0;
    for (const n of this.active) {
      const mask = this.masks.get(n)?.masks;
      for (const [param, a] of this.namedParameters(n)) {
        const m = mask?.get(param);
        trainable += m ? m.reduce((acc, v) => acc + v, 0) : a.length;
        adapters += a.length;
      }
    }
    let base = 0;
    for (const w of this.base.weights.values()) base += w.data.length;
    const total = base + adapters;
    return { trainable, total, percent: (100 * trainable) / total };
  }

  /** PEFT's `print_trainable_parameters` line (returned, not printed). */
  printTrainableParameters(): string {
    const { trainable, total, percent } = this.trainableParameters();
    return `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${total.toLocaleString('en-US')} || trainable%: ${percent.toFixed(4)}`;
  }

  /** Saves one adapter (default: the first active one) as a PEFT folder in `dir`. */
  saveAdapter(dir: string, name = this.active[0]): void {
    const a = this.adapter(name);
    const modules = new Map([...this.modules(name)].map(([weight, data]) => [weight, { shape: this.head!.shape, data }]));
    writeAdapterFolder(dir, a.config, a.params, this.siteOf, modules);
  }

  /** PEFT's `save_pretrained`: "default" (or the first adapter) in `dir`, every other adapter in `dir/<name>`. */
  savePretrained(dir: string): void {
    for (const name of this.adapters.keys()) this.saveAdapter(name === 'default' ? dir : join(dir, name), name);
  }

  // ---- forward, loss and gradients -------------------------------------------------------------------------

  private unmergedActive(): Entry[] {
    if (this.disabled) return [];
    return this.active.filter((n) => !this.mergedNames.includes(n)).map((n) => this.adapter(n));
  }

  private param = (b: GraphBuilder, name: string, dtype: DType): Tensor => {
    const w = this.overlay.get(name);
    if (!w) return this.base.weightTensor(b, name, dtype);
    return b.initializer(name, dtype === 'float64' ? Float64Array.from(w.data) : w.data, w.shape);
  };

  private graph(key: string, build: () => Graph): Graph {
    let g = this.graphs.get(key);
    if (!g) this.graphs.set(key, (g = build()));
    return g;
  }

  /** Traces the model with `linear` at every projection: vocabulary logits, or class logits on a classifier. */
  private traced(
    dtype: 'float32' | 'float64',
    withLoss: boolean,
    linear: (b: GraphBuilder) => LinearFn,
    options: { recompute?: boolean; headRows?: boolean } = {},
  ): { b: GraphBuilder; outputs: Record<string, Tensor> } {
    const b = new GraphBuilder();
    const common = { dtype, withLoss, linear: linear(b), param: this.param, recompute: options.recompute ?? false };
    const head = this.head;
    const { logits, loss } = head
      ? traceSequenceClassification(this.base, b, {
          ...common,
          score: (bb, dt) => (options.headRows ? bb.input(HEAD_ROWS_INPUT, dt, ['B', ...head.shape]) : bb.input(HEAD_INPUT, dt, head.shape)),
        })
      : this.base.trace(b, common);
    return { b, outputs: loss ? { logits, loss } : { logits } };
  }

  private structureKey(entries: readonly Entry[]): string {
    return JSON.stringify(entries.map((e) => [adapterConfigJson(e.config), [...e.params.keys()]]));
  }

  private siteOf = (path: string): LinearSite => this.sites.get(path)!;

  /**
   * The active adapter whose head classifies (PEFT's ModulesToSaveWrapper forwards through the active adapter's
   * copy, and allows one); null: the base model's head.
   */
  private headOwner(): Entry | null {
    if (this.disabled || this.head === null) return null;
    const owners = this.active.map((n) => this.adapter(n)).filter((e) => e.modules?.has(SCORE_WEIGHT));
    if (owners.length > 1) {
      throw new RoadsterError(
        'E_USAGE',
        `adapters ${owners.map((e) => `"${e.name}"`).join(', ')} each carry a classification head (modules_to_save); as in PEFT, only one of them may be active`,
      );
    }
    return owners[0] ?? null;
  }

  private headData(entry: Entry | null): Float32Array | Float64Array {
    return entry?.modules?.get(SCORE_WEIGHT) ?? this.head!.data;
  }

  /** Feeds of the head: the active one [K, C], or each row's adapter's [B, K, C] in mixed batches. */
  private headFeeds(dtype: 'float32' | 'float64', rows?: readonly (string | null)[]): Record<string, HostTensor> {
    if (this.head === null) return {};
    const [k, c] = this.head.shape;
    if (!rows) return { [HEAD_INPUT]: { dtype, shape: [k, c], data: asDType(this.headData(this.headOwner()), dtype) } };
    const data = dtype === 'float64' ? new Float64Array(rows.length * k * c) : new Float32Array(rows.length * k * c);
    rows.forEach((n, i) => data.set(this.headData(n === null || n === BASE_ADAPTER ? null : this.adapter(n)), i * k * c));
    return { [HEAD_ROWS_INPUT]: { dtype, shape: [rows.length, k, c], data } };
  }

  /**
   * Runs the model: logits [B, T, V] and, with labels, the loss; on a sequence classifier, class logits [B, K]
   * and, with classLabels, their mean cross-entropy. Rows may name different adapters.
   */
  async forward(batch: PeftBatch, options: RunOptions = {}): Promise<PeftForwardResult> {
    const dtype = options.dtype ?? 'float32';
    const withLoss = this.head ? batch.classLabels !== undefined : batch.labels !== undefined;
    let graph: Graph;
    let extra: Record<string, HostTensor>;
    if (batch.adapterNames) {
      const { plan, slots } = this.mixedBatch(batch);
      graph = this.graph(`mixed:${dtype}:${withLoss}:${plan.key}`, () => {
        const { b, outputs } = this.traced(dtype, withLoss, (bb) => mixedLinear(bb, plan), { headRows: true });
        return b.build(outputs);
      });
      extra = { ...mixedTableFeeds(plan, dtype), ...mixedIndexFeeds(plan, slots), ...this.headFeeds(dtype, batch.adapterNames) };
    } else {
      const entries = this.unmergedActive();
      graph = this.graph(`seq:${dtype}:${withLoss}:${this.structureKey(entries)}`, () => {
        const { b, outputs } = this.traced(dtype, withLoss, (bb) => sequentialLinear(bb, dtype, entries));
        return b.build(outputs);
      });
      extra = { ...sequentialFeeds(entries, this.siteOf, dtype), ...this.headFeeds(dtype) };
    }
    const out = await (await this.runtime.compile(graph)).run(this.feeds(batch, dtype, extra));
    return withLoss ? { logits: out.logits, loss: Number(out.loss.data[0]) } : { logits: out.logits };
  }

  /**
   * Runs the active adapters with `wrap` around the linear function: the outputs are `logits` and what the wrapper
   * records, `feeds` the wrapper's graph inputs. Causal LMs only; no mixed-adapter batches.
   */
  async runWrapped(batch: PeftBatch, wrap: LinearWrap, feeds: Record<string, HostTensor>, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
    if (this.head) throw new RoadsterError('E_USAGE', 'interventions run on causal LMs (vocabulary logits); this model is a sequence classifier');
    if (batch.adapterNames) throw new RoadsterError('E_USAGE', 'interventions run one active adapter set, not mixed-adapter batches');
    const dtype = options.dtype ?? 'float32';
    const entries = this.unmergedActive();
    const graph = this.graph(`wrap:${dtype}:${wrap.key}:${this.structureKey(entries)}`, () => {
      const recorded = new Map<string, Tensor>();
      const { b, outputs } = this.traced(dtype, false, (bb) => wrap.wrap(bb, sequentialLinear(bb, dtype, entries), recorded));
      return b.build({ ...outputs, ...Object.fromEntries(recorded) });
    });
    const extra = { ...sequentialFeeds(entries, this.siteOf, dtype), ...feeds };
    return (await this.runtime.compile(graph)).run(this.feeds(batch, dtype, extra));
  }

  /**
   * Classifies each row on a sequence classifier: class logits [B, K], the arg-max class of each row and its
   * name (id2label).
   */
  async classify(batch: PeftBatch, options: RunOptions = {}): Promise<{ logits: HostTensor; predictions: number[]; labels: string[] }> {
    const { id2label } = requireClassifier(this.base);
    const { logits } = await this.forward({ ...batch, classLabels: undefined }, options);
    const predictions = argmaxRows(logits);
    return { logits, predictions, labels: predictions.map((p) => id2label[p]) };
  }

  /**
   * The loss and the gradient of every parameter of the active adapters, keyed as PEFT names parameters
   * (`base_model.model.<module>.<param>.<adapter>`), in one run. On a sequence classifier the loss is the
   * class cross-entropy (the batch needs classLabels) and the active adapter's head gets its gradient too
   * (`base_model.model.score.modules_to_save.<adapter>.weight`).
   */
  async lossAndGrads(batch: PeftBatch, options: GradOptions = {}): Promise<{ loss: number; grads: Map<string, Float32Array | Float64Array> }> {
    if (this.head && !batch.classLabels) {
      throw new RoadsterError('E_USAGE', 'lossAndGrads on a sequence classifier needs classLabels (one class index per row)');
    }
    if (!this.head && !batch.labels) throw new RoadsterError('E_USAGE', 'lossAndGrads needs labels');
    if (batch.adapterNames) throw new RoadsterError('E_USAGE', 'mixed-adapter batches are for inference; train one adapter (or one active set) at a time');
    const entries = this.unmergedActive();
    if (entries.length === 0) throw new RoadsterError('E_USAGE', 'no active, unmerged adapter to train');
    const dtype = options.dtype ?? 'float32';
    const wrt: string[] = []; // graph inputs: every site's (siteInputShapes), then the head's
    entries.forEach((e, slot) => {
      for (const path of e.params.keys()) for (const input of Object.keys(siteInputShapes(e.config, this.siteOf(path)))) wrt.push(paramInputName(slot, path, input));
    });
    const dropout = dropoutSites(entries).length > 0 && options.dropoutSeed !== null;
    if (dropout && (typeof options.dropoutSeed !== 'number' || !Number.isInteger(options.dropoutSeed))) {
      const names = entries.filter((e) => trainsWithDropout(e.config)).map((e) => `"${e.name}"`);
      throw new RoadsterError(
        'E_USAGE',
        `adapter ${names.join(', ')} trains with dropout (LoRA's lora_dropout > 0): pass dropoutSeed (an integer, one per micro-batch) to train with dropout as PEFT does, or dropoutSeed: null for eval-mode gradients`,
      );
    }
    const owner = this.headOwner();
    const trainsHead = owner !== null && entries.includes(owner);
    if (trainsHead) wrt.push(HEAD_INPUT);
    const recompute = options.recompute ?? false;
    const graph = this.graph(`grad:${dtype}:${recompute}:${dropout}:${wrt.length}:${this.structureKey(entries)}`, () => {
      const { b, outputs } = this.traced(dtype, true, (bb) => sequentialLinear(bb, dtype, entries, { training: dropout }), { recompute });
      return grad(b.build({ loss: outputs.loss }), 'loss', wrt);
    });
    const [rows, columns] = [batch.inputIds.length, batch.inputIds[0]?.length ?? 0];
    const masks = dropout ? dropoutFeeds(entries, options.dropoutSeed as number, rows, columns) : {};
    const extra = { ...sequentialFeeds(entries, this.siteOf, dtype), ...this.headFeeds(dtype), ...masks };
    const out = await (await this.runtime.compile(graph)).run(this.feeds(batch, dtype, extra));
    const gradOf = (input: string) => out[gradName(input)].data as Float32Array | Float64Array;
    const grads = new Map<string, Float32Array | Float64Array>();
    entries.forEach((e, slot) => {
      for (const [path, params] of e.params) {
        const site = this.siteOf(path);
        const inputGrads = Object.fromEntries(Object.keys(siteInputShapes(e.config, site)).map((input) => [input, gradOf(paramInputName(slot, path, input))]));
        const paramGrads = siteParamGrads(e.config, site, params, inputGrads, dtype);
        for (const p of Object.keys(params)) grads.set(peftParameterName(path, p, e.name), paramGrads[p]);
      }
      const mask = this.masks.get(e.name)?.masks;
      for (const [param, m] of mask ?? []) {
        const g = grads.get(param)!;
        for (let i = 0; i < m.length; i++) if (!m[i]) g[i] = 0;
      }
    });
    if (trainsHead) grads.set(peftModuleParameterName(SCORE_WEIGHT, owner!.name), gradOf(HEAD_INPUT));
    return { loss: Number(out.loss.data[0]), grads };
  }

  private feeds(batch: PeftBatch, dtype: 'float32' | 'float64', extra: Record<string, HostTensor>): Record<string, HostTensor> {
    if (this.head) return { ...classificationFeeds(this.base, batch, dtype), ...extra };
    const feeds = { ...this.base.feeds(batch, dtype), ...extra };
    if (batch.labels) feeds[INPUT_NAMES.labels] = int64Tensor(batch.labels);
    return feeds;
  }

  private mixedBatch(batch: PeftBatch): { plan: MixedPlan; slots: ({ type: PeftType; slot: number } | null)[] } {
    const names = batch.adapterNames!;
    if (names.length !== batch.inputIds.length) {
      throw new RoadsterError('E_USAGE', `adapterNames has ${names.length} entries but the batch has ${batch.inputIds.length} rows`);
    }
    if (this.mergedNames.length > 0) throw new RoadsterError('E_USAGE', 'mixed-adapter batches need unmerged adapters; call unmergeAdapter() first');
    const { tables, slots } = batchTables(names.map((n) => (n === null || n === BASE_ADAPTER ? null : this.adapter(n))));
    return { plan: mixedPlan(this.sites.values(), tables), slots };
  }

  // ---- merging ---------------------------------------------------------------------------------------------

  private layerWeights(path: string): { weight: Weight; bias: Weight | null } {
    const get = (name: string) => this.overlay.get(name) ?? this.base.weights.get(name) ?? null;
    return { weight: get(`${path}.weight`)!, bias: get(`${path}.bias`) };
  }

  /** Folds the active adapters (or `names`) into the base weights (PEFT's `merge_adapter`). */
  mergeAdapter(names: readonly string[] = this.active, options: { safeMerge?: boolean } = {}): void {
    for (const name of names) {
      if (this.mergedNames.includes(name)) continue;
      const a = this.adapter(name);
      const kind = kindOf(a.config);
      const updates = new Map<string, Weight>();
      for (const [path, params] of a.params) {
        const { weight, bias } = this.layerWeights(path);
        const merged = kind.merge(a.config, this.siteOf(path), params, { weight: weight.data, bias: bias?.data ?? null });
        if (options.safeMerge && (!merged.weight.every(Number.isFinite) || (merged.bias && !merged.bias.every(Number.isFinite)))) {
          throw new RoadsterError('E_ADAPTER', `merging adapter "${name}" into ${path} gives non-finite weights; the adapter seems to be broken`);
        }
        updates.set(`${path}.weight`, { shape: weight.shape, data: merged.weight });
        if (bias && merged.bias) updates.set(`${path}.bias`, { shape: bias.shape, data: merged.bias });
      }
      for (const [k, v] of updates) this.overlay.set(k, v);
      this.mergedNames.push(name);
    }
    this.graphs.clear();
  }

  /**
   * Undoes every merge, last merged first, through each method's inverse (PEFT's `unmerge_adapter`; for RoAd
   * the closed-form 2×2 inverse). Like PEFT, the restored weights equal the originals up to round-off.
   */
  unmergeAdapter(): void {
    while (this.mergedNames.length > 0) {
      const a = this.adapter(this.mergedNames.pop()!);
      const kind = kindOf(a.config);
      for (const [path, params] of a.params) {
        const { weight, bias } = this.layerWeights(path);
        const restored = kind.unmerge(a.config, this.siteOf(path), params, { weight: weight.data, bias: bias?.data ?? null });
        this.overlay.set(`${path}.weight`, { shape: weight.shape, data: restored.weight });
        if (bias && restored.bias) this.overlay.set(`${path}.bias`, { shape: bias.shape, data: restored.bias });
      }
    }
    this.graphs.clear();
  }

  /**
   * The base model with the active adapters merged in, as a plain CausalLM (PEFT's `merge_and_unload`). On a
   * classifier, the active adapter's head replaces the base model's, as PEFT unwraps modules_to_save.
   */
  mergeAndUnload(options: { safeMerge?: boolean } = {}): CausalLM {
    const owner = this.headOwner();
    this.mergeAdapter(this.active, options);
    const weights = new Map(this.overlay);
    if (owner && this.head) weights.set(SCORE_WEIGHT, { shape: this.head.shape, data: Float32Array.from(this.headData(owner)) });
    return this.base.withWeights(weights);
  }

  /**
   * Writes the merged model as a Hugging Face folder (config.json, model.safetensors, and generation_config.json
   * for a causal LM). A classifier is written as transformers' *ForSequenceClassification: `score.weight`, no
   * lm_head, and config.json with its architecture, num_labels, id2label and label2id.
   */
  saveMergedModel(dir: string, options: { safeMerge?: boolean } = {}): void {
    const merged = this.mergeAndUnload(options);
    const raw = merged.rawFiles.config;
    if (raw === undefined) throw new RoadsterError('E_USAGE', 'the base model was not loaded from a folder; its config.json is unknown');
    mkdirSync(dir, { recursive: true });
    const tensors = [...merged.weights].map(([name, w]) => ({ name, dtype: 'F32' as const, shape: w.shape, data: w.data }));
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    const config = merged.classification ? sequenceClassificationConfigJson(raw as Record<string, unknown>, merged.classification) : raw;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    // transformers saves generation_config.json only for models that generate
    if (merged.rawFiles.generationConfig !== undefined && !merged.classification) {
      writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(merged.rawFiles.generationConfig, null, 2) + '\n');
    }
  }
}
