// PeftModel: a base CausalLM with named adapters, PEFT's API in camelCase (get_peft_model, from_pretrained,
// load_adapter, set_adapter, disable_adapter, delete_adapter, save_pretrained, merge_adapter, unmerge_adapter,
// merge_and_unload). Holds adapter state only: the registry, which adapters are active or merged, the merged
// weights, and saving and loading. Graphs are built and cached by peft-graphs.ts from that state; ONNX
// sessions are cached by the Runtime. What the model outputs is its head's (models/heads/): vocabulary logits,
// or class logits [B, K] on a sequence classifier, which makes this PEFT's PeftModelForSequenceClassification;
// an adapter whose modules_to_save lists the head's weights trains, saves and merges its own copy of them
// (see modules-to-save.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../errors.ts';
import type { DType } from '../graph/dtype.ts';
import type { GraphBuilder, Tensor } from '../graph/tracer.ts';
import { writeSafetensors } from '../io/safetensors/index.ts';
import type { CausalLM } from '../models/causal-lm.ts';
import type { LinearSite } from '../models/linear.ts';
import type { TokenBatch } from '../models/attention-inputs.ts';
import type { Weight } from '../models/load-weights.ts';
import { argmaxRows, requireClassifier } from '../models/sequence-classification.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { mixSeed } from '../seeded-random.ts';
import { dropoutSites, trainsWithDropout } from './adapter-graph.ts';
import { type FrozenNoise, frozenNoiseDraws, withFrozenNoise } from './frozen-noise.ts';
import type { AdapterEntry, PeftType, SiteParams } from './kind.ts';
import { type MixedPlan, batchTables, mixedPlan } from './mixed-batch.ts';
import { type AdapterConfig, kindOf } from './kinds.ts';
import { checkModulesToSave, peftModuleParameterName, savesHead, withClassifierModules } from './modules-to-save.ts';
import { readAdapterFolder, writeAdapterFolder } from './peft-files.ts';
import { type LinearWrap, PeftGraphs } from './peft-graphs.ts';

export type { LinearWrap };
import { peftParameterName } from './peft-names.ts';
import { selectSites } from './target-modules.ts';

export { peftParameterName } from './peft-names.ts';

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
  /**
   * Frozen-entry noise (setTrainableMask's `noise`): a number draws this micro-batch's noise from it (one seed per
   * micro-batch reproduces a run); null computes gradients without it. Required when an active adapter has such
   * noise; ignored otherwise.
   */
  readonly noiseSeed?: number | null;
}

type Entry = AdapterEntry<AdapterConfig>;

/** Which entries of an adapter's parameters train (see PeftModel.setTrainableMask). */
export interface TrainableMask {
  /** Names the restriction (and its noise) in reports and in the resume fingerprint. */
  readonly label: string;
  /** Per PEFT parameter name: 1 trains, 0 stays frozen. */
  readonly masks: ReadonlyMap<string, Uint8Array>;
  /** Noise on the frozen entries during each training micro-batch, or null. */
  readonly noise: FrozenNoise | null;
}

export class PeftModel {
  private readonly adapters = new Map<string, Entry>();
  private active: string[] = [];
  private disabled = false;
  private readonly mergedNames: string[] = [];
  /** Per adapter: which entries of each parameter train (1) and which stay frozen (0), by PEFT parameter name. */
  private readonly masks = new Map<string, TrainableMask>();
  /** Weights changed by merging, by checkpoint name. */
  private readonly overlay = new Map<string, Weight>();
  private readonly sites: ReadonlyMap<string, LinearSite>;
  /** The graphs of this model with its adapters (one cache). */
  private readonly graphs: PeftGraphs;

  /** Wraps `base`; graphs run on `runtime`. Add adapters with `addAdapter` / `loadAdapter`. */
  constructor(
    readonly base: CausalLM,
    readonly runtime: Runtime,
  ) {
    this.sites = new Map(base.linearSites().map((s) => [s.path, s]));
    this.graphs = new PeftGraphs(base, runtime, (b, name, dtype) => this.param(b, name, dtype), (path) => this.siteOf(path));
  }

  /** Whether the base is a sequence classifier (forward gives class logits); the base's `head` says more. */
  get isSequenceClassifier(): boolean {
    return this.base.head.type === 'classification';
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
    const config = withClassifierModules(given);
    const copies = this.base.head.ownWeights();
    if (copies.length === 0 && savesHead(config)) {
      throw new RoadsterError(
        'E_ADAPTER',
        `adapter "${name}": task_type ${JSON.stringify(given.taskType)} with modules_to_save ${JSON.stringify(given.modulesToSave)} trains a sequence-classification head, ` +
          'but the base model has none; load it with AutoModelForSequenceClassification.fromPretrained(model, { id2label }) or withClassificationHead',
      );
    }
    const kind = kindOf(config);
    const chosen = selectSites(config.targetModules, [...this.sites.values()], `adapter "${name}"`);
    const params = new Map<string, SiteParams>();
    chosen.forEach((site, i) => {
      kind.checkSite(config, site);
      params.set(site.path, kind.initParams(config, site, seed * 100003 + i));
    });
    const modules = new Map<string, Float32Array | Float64Array>();
    // PEFT copies the original module
    if (savesHead(config)) for (const w of copies) modules.set(w.name, Float32Array.from(this.base.weights.get(w.name)!.data));
    this.register(name, config, params, modules);
  }

  /** Loads a PEFT adapter folder as `name` (PEFT's `load_adapter`), with its classification head if it saved one. */
  loadAdapter(dir: string, name: string): void {
    const { config, params, modules } = readAdapterFolder(dir, [...this.sites.values()], this.base.head.ownWeights());
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
   * With `noise`, every `lossAndGrads` given a `noiseSeed` runs with the frozen entries moved by its draws
   * (frozen-noise.ts) and puts them back after; the label then names the noise too.
   */
  setTrainableMask(name: string, label: string, masks: ReadonlyMap<string, Uint8Array>, noise: FrozenNoise | null = null): void {
    const params = this.namedParameters(name);
    for (const [param, mask] of masks) {
      const data = params.get(param);
      if (!data) throw new RoadsterError('E_USAGE', `adapter "${name}" has no parameter "${param}" to mask`);
      if (data.length !== mask.length) throw new RoadsterError('E_USAGE', `mask of "${param}" has ${mask.length} entries, the parameter ${data.length}`);
    }
    this.masks.set(name, { label: noise === null ? label : `${label}, ${noise.label}`, masks, noise });
  }

  /** The adapter's trainable-entry masks (see setTrainableMask), or null when every entry trains. */
  trainableMask(name: string): TrainableMask | null {
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
    const shapes = new Map(this.base.head.ownWeights().map((w) => [w.name, w.shape]));
    const modules = new Map([...this.modules(name)].map(([weight, data]) => [weight, { shape: shapes.get(weight)!, data }]));
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

  private readonly siteOf = (path: string): LinearSite => this.sites.get(path)!;

  /**
   * The active adapter whose copy of the head's weights runs (PEFT's ModulesToSaveWrapper forwards through the
   * active adapter's copy, and allows one); null: the base model's head.
   */
  private headOwner(): Entry | null {
    if (this.disabled) return null;
    const copies = this.base.head.ownWeights();
    const owners = this.active.map((n) => this.adapter(n)).filter((e) => copies.some((w) => e.modules?.has(w.name)));
    if (owners.length > 1) {
      throw new RoadsterError(
        'E_USAGE',
        `adapters ${owners.map((e) => `"${e.name}"`).join(', ')} each carry their own copy of ${copies.map((w) => w.name).join(', ')} (modules_to_save); as in PEFT, only one of them may be active`,
      );
    }
    return owners[0] ?? null;
  }

  /**
   * Runs the model: logits [B, T, V] and, with labels, the loss; on a sequence classifier, class logits [B, K]
   * and, with classLabels, their mean cross-entropy. Rows may name different adapters.
   */
  async forward(batch: PeftBatch, options: RunOptions = {}): Promise<PeftForwardResult> {
    const dtype = options.dtype ?? 'float32';
    if (batch.adapterNames) {
      const { plan, rows, slots } = this.mixedBatch(batch);
      return this.graphs.mixedForward(batch, plan, rows, slots, dtype);
    }
    return this.graphs.forward(batch, this.unmergedActive(), this.headOwner(), dtype);
  }

  /**
   * Runs the active adapters with `wrap` around the linear function: the outputs are `logits` and what the wrapper
   * records, `feeds` the wrapper's graph inputs. Causal LMs only; no mixed-adapter batches.
   */
  async runWrapped(batch: PeftBatch, wrap: LinearWrap, feeds: Record<string, HostTensor>, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
    if (this.base.head.type !== 'lm') {
      throw new RoadsterError('E_USAGE', `interventions run on causal LMs (vocabulary logits); this model is ${this.base.head.description} (withoutLabelWords gives label words back their language model)`);
    }
    if (batch.adapterNames) throw new RoadsterError('E_USAGE', 'interventions run one active adapter set, not mixed-adapter batches');
    return this.graphs.wrappedForward(batch, this.unmergedActive(), wrap, feeds, options.dtype ?? 'float32');
  }

  /**
   * Classifies each row on a sequence classifier or by label words: class logits [B, K], the arg-max class of
   * each row and its name (id2label).
   */
  async classify(batch: PeftBatch, options: RunOptions = {}): Promise<{ logits: HostTensor; predictions: number[]; labels: string[] }> {
    const { id2label } = this.base.head.type === 'label-words' ? this.base.head : requireClassifier(this.base);
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
    const head = this.base.head;
    if (!head.hasLossInputs(batch)) throw new RoadsterError('E_USAGE', `lossAndGrads on ${head.description} needs ${head.lossInputs}`);
    if (batch.adapterNames) throw new RoadsterError('E_USAGE', 'mixed-adapter batches are for inference; train one adapter (or one active set) at a time');
    const entries = this.unmergedActive();
    if (entries.length === 0) throw new RoadsterError('E_USAGE', 'no active, unmerged adapter to train');
    const dropout = dropoutSites(entries).length > 0 && options.dropoutSeed !== null;
    if (dropout && (typeof options.dropoutSeed !== 'number' || !Number.isInteger(options.dropoutSeed))) {
      const names = entries.filter((e) => trainsWithDropout(e.config)).map((e) => `"${e.name}"`);
      throw new RoadsterError(
        'E_USAGE',
        `adapter ${names.join(', ')} trains with dropout (LoRA's lora_dropout > 0): pass dropoutSeed (an integer, one per micro-batch) to train with dropout as PEFT does, or dropoutSeed: null for eval-mode gradients`,
      );
    }
    const noisy = entries.filter((e) => this.masks.get(e.name)?.noise);
    if (noisy.length > 0 && options.noiseSeed !== null && (typeof options.noiseSeed !== 'number' || !Number.isInteger(options.noiseSeed))) {
      throw new RoadsterError(
        'E_USAGE',
        `adapter ${noisy.map((e) => `"${e.name}"`).join(', ')} trains with noise on its frozen entries (${this.masks.get(noisy[0].name)!.noise!.label}): pass noiseSeed (an integer, one per micro-batch) to train with it, or noiseSeed: null for gradients without it`,
      );
    }
    const owner = this.headOwner();
    const run = () =>
      this.graphs.lossAndGrads(batch, entries, {
        dtype: options.dtype ?? 'float32',
        recompute: options.recompute ?? false,
        dropoutSeed: dropout ? (options.dropoutSeed as number) : null,
        headOwner: owner !== null && entries.includes(owner) ? owner : null,
      });
    let noisyRun = run;
    if (typeof options.noiseSeed === 'number') {
      for (const [k, e] of noisy.entries()) {
        const { masks, noise } = this.masks.get(e.name)!;
        const draws = frozenNoiseDraws(masks, noise!, mixSeed(options.noiseSeed, k));
        const inner = noisyRun;
        noisyRun = () => withFrozenNoise(this.namedParameters(e.name), draws, inner);
      }
    }
    const out = await noisyRun();
    // subspace training: entries outside an adapter's trainable mask get no gradient
    for (const e of entries) {
      for (const [param, m] of this.masks.get(e.name)?.masks ?? []) {
        const g = out.grads.get(param)!;
        for (let i = 0; i < m.length; i++) if (!m[i]) g[i] = 0;
      }
    }
    return out;
  }

  private mixedBatch(batch: PeftBatch): { plan: MixedPlan; rows: (Entry | null)[]; slots: ({ type: PeftType; slot: number } | null)[] } {
    const names = batch.adapterNames!;
    if (names.length !== batch.inputIds.length) {
      throw new RoadsterError('E_USAGE', `adapterNames has ${names.length} entries but the batch has ${batch.inputIds.length} rows`);
    }
    if (this.mergedNames.length > 0) throw new RoadsterError('E_USAGE', 'mixed-adapter batches need unmerged adapters; call unmergeAdapter() first');
    const rows = names.map((n) => (n === null || n === BASE_ADAPTER ? null : this.adapter(n)));
    const { tables, slots } = batchTables(rows);
    return { plan: mixedPlan(this.sites.values(), tables), rows, slots };
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
    for (const w of this.base.head.ownWeights()) {
      const copy = owner?.modules?.get(w.name);
      if (copy) weights.set(w.name, { shape: w.shape, data: Float32Array.from(copy) });
    }
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
    const config = merged.head.configJson(raw as Record<string, unknown>);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    // transformers saves generation_config.json only for models that generate
    if (merged.rawFiles.generationConfig !== undefined && merged.head.generates) {
      writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(merged.rawFiles.generationConfig, null, 2) + '\n');
    }
  }
}
