// The one interface every adapter method implements (RoAd, LoRA). PeftModel, the PEFT file format and the
// shared invariant tests only talk to this interface; each method's folder holds its config, math and graph.

import type { DType } from '../graph/dtype.ts';
import type { GraphBuilder, Tensor } from '../graph/tracer.ts';
import type { LinearSite } from '../models/linear.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { TargetModules } from './target-modules.ts';

/** PEFT's `peft_type` values roadster implements. */
export type PeftType = 'ROAD' | 'LORA';

/** Fields every PEFT adapter config has. */
export interface CommonAdapterConfig {
  readonly targetModules: TargetModules;
  readonly modulesToSave: readonly string[] | null;
  readonly baseModelNameOrPath: string | null;
  readonly revision: string | null;
  readonly taskType: string;
  readonly inferenceMode: boolean;
}

/** An adapter's parameters at one wrapped layer, by PEFT parameter name (e.g. "road_theta"). */
export type SiteParams = Readonly<Record<string, Float32Array | Float64Array>>;

/** One loaded adapter: its config and its parameters per wrapped layer (keyed by module path). */
export interface AdapterEntry<C = unknown> {
  readonly name: string;
  readonly config: C;
  readonly params: ReadonlyMap<string, SiteParams>;
  /**
   * PEFT's modules_to_save: the adapter's own copy of whole modules, by checkpoint weight name (only the
   * sequence-classification head, "score.weight" [K, C]).
   */
  readonly modules?: ReadonlyMap<string, Float32Array | Float64Array>;
}

/** A linear layer's weights as the merge functions see them. */
export interface LayerWeights {
  readonly weight: Float32Array; // [out, in]
  readonly bias: Float32Array | null; // [out]
}

/**
 * Traced mixed-batch application at one site from a table of adapters of one method: the table's slots are graph
 * inputs with a leading dimension of `slots` entries, and row b reads slot `index[b]` (slot 0: no adapter, the
 * base output). The table changes only when adapters are loaded or unloaded; a batch changes only the index.
 */
export interface MixedSite {
  /** Part of the graph's identity: tables with equal keys share one compiled graph, whatever their slot count. */
  readonly key: string;
  /**
   * Returns y' [B, T, out]; `rows(suffix, dtype, shape)` gives each row's entry of the table input `suffix`,
   * [B, ...shape] (gathered from the table by the rows' slots, or fed per row: see mixed-batch.ts).
   */
  trace(x: Tensor, y: Tensor, rows: (suffix: string, dtype: DType, shape: readonly number[]) => Tensor): Tensor;
  /** The table's host feeds, keyed by the same suffixes. */
  feeds(dtype: 'float32' | 'float64'): Record<string, HostTensor>;
}

/**
 * Graph inputs that a method computes on the host from its parameters, so that the graph holds only the
 * per-token work (RoAd: c and s from θ and α, a few element-wise ops on [d] per site that cost more in kernel
 * launches than in arithmetic). Gradients come back through `grads`, the chain rule of `values`.
 */
export interface HostInputs<C> {
  shapes(config: C, site: LinearSite): Record<string, readonly number[]>;
  values(config: C, site: LinearSite, params: SiteParams): Record<string, Float64Array>;
  /** The parameters' gradients (by parameter name) from the inputs' (by input name). */
  grads(config: C, site: LinearSite, params: SiteParams, inputGrads: Readonly<Record<string, Float32Array | Float64Array>>): Record<string, Float64Array>;
}

/** Training-mode hooks of one site in one graph. */
export interface SiteTraining {
  /** x [..., n] with entries dropped at rate p and the kept ones scaled by 1 / (1 - p). */
  dropout(x: Tensor, p: number): Tensor;
}

/** What each adapter method provides. `C` is its config type. */
export interface AdapterKind<C extends CommonAdapterConfig> {
  readonly peftType: PeftType;
  /** The prefix of the method's parameter names (PEFT's tuner `prefix`: "road_", "lora_"). */
  readonly prefix: string;
  /** The rate at which training drops a site's input (LoRA's lora_dropout); absent: the method has no dropout. */
  dropoutRate?(config: C): number;
  /** Parses the method's fields of adapter_config.json (common fields are parsed by the caller). */
  parseConfig(json: Readonly<Record<string, unknown>>, common: CommonAdapterConfig, where: string): C;
  /** The method's fields for adapter_config.json (merged with the common ones by the caller). */
  configJson(config: C): Record<string, unknown>;
  /** Throws E_ADAPTER (naming the module and sizes) when the adapter cannot wrap `site`. */
  checkSite(config: C, site: LinearSite): void;
  /** PEFT parameter names and shapes at a site. */
  paramShapes(config: C, site: LinearSite): Record<string, readonly number[]>;
  /** The graph inputs when they are not the parameters themselves (see HostInputs). */
  readonly hostInputs?: HostInputs<C>;
  /** Initial parameters (PEFT's init for the config's init setting; `seed` for random inits). */
  initParams(config: C, site: LinearSite, seed: number): Record<string, Float32Array>;
  /**
   * Traced: the layer output with this adapter applied. x [..., in], y [..., out] → [..., out]; `params` are the
   * graph inputs (`hostInputs`' when the method has them, else the parameters). `training` is
   * given when the graph trains with the methods' random regularisers (LoRA's dropout); without it the
   * adapter runs as PEFT's eval mode.
   */
  apply(config: C, site: LinearSite, x: Tensor, y: Tensor, params: Readonly<Record<string, Tensor>>, b: GraphBuilder, training?: SiteTraining): Tensor;
  /** Merged weights (new arrays): W', b' such that the plain layer equals the adapted one. */
  merge(config: C, site: LinearSite, params: SiteParams, layer: LayerWeights): LayerWeights;
  /** The inverse of `merge`. */
  unmerge(config: C, site: LinearSite, params: SiteParams, layer: LayerWeights): LayerWeights;
  /** Mixed batches at one site: the table of `slots` (slot 0 is null: the base output). */
  mixed(site: LinearSite, slots: readonly (AdapterEntry<C> | null)[]): MixedSite;
}
