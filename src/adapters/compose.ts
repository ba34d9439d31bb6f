// Adapter composition, the library API behind `roadster compose` and the engine's "a+b" requests
// (docs/compose.md). RoAd adapters compose exactly: the product of their per-pair 2×2 transforms, applied in the
// order given (the first adapter acts first, as PEFT's active adapters do), written as road_1 when every factor
// is road_1 of one group size, else as road_2 or road_4 (the most general input variant; both hold any 2×2
// block). LoRA adapters combine the PEFT way (lora/combine.ts). Adapters that cannot be combined exactly (LoRA
// with RoAd, other bases, group sizes whose pairs cross, classification heads) are refused with the reason.

import { RoadsterError } from '../errors.ts';
import type { LinearSite } from '../models/linear.ts';
import type { AdapterEntry, SiteParams } from './kind.ts';
import type { AdapterConfig } from './kinds.ts';
import { type LoraCombination, combineLora } from './lora/combine.ts';
import type { LoraConfig } from './lora/config.ts';
import { LORA_A, LORA_B } from './lora/kind.ts';
import { type RoadFactor, composeSite, crossCoupling, factorWidth, weightedParams } from './road/compose.ts';
import type { RoadConfig } from './road/config.ts';
import { ROAD_VARIANTS, type RoadVariant, roadColumns } from './road/math.ts';
import type { TargetModules } from './target-modules.ts';

/** An adapter to compose: its entry (config and parameters by module path) and blend weight (default 1). */
export interface ComposeInput {
  readonly entry: AdapterEntry<AdapterConfig>;
  readonly weight?: number;
}

export interface ComposeOptions {
  /** RoAd: the output variant (default: road_1 when it fits, else the most general input variant, at least road_2). */
  readonly variant?: RoadVariant;
  /** RoAd: refuse when two adapters change the same pair of the same layer. */
  readonly requireDisjoint?: boolean;
  /** LoRA: PEFT's combination type (default cat, the exact sum of the updates). */
  readonly combination?: LoraCombination;
}

/** What a composition did. */
export interface ComposeReport {
  readonly method: 'road-product' | 'lora-linear' | 'lora-cat';
  /** Adapter names in the order they act (RoAd: first acts first). */
  readonly order: readonly string[];
  readonly weights: readonly number[];
  /** RoAd: the result's variant and group size; LoRA: the rank. */
  readonly variant?: RoadVariant;
  readonly groupSize?: number;
  readonly r?: number;
  /** RoAd: whether the adapters change disjoint pairs at every layer (then the order does not matter). */
  readonly disjoint?: boolean;
  /** RoAd: pairs (over all layers) that more than one adapter changes, where the stated order counts. */
  readonly overlappingPairs?: number;
  /** Whether the result equals the adapters applied in turn (RoAd always; LoRA cat for the summed updates). */
  readonly exact: boolean;
  readonly note: string;
}

export interface Composed<C extends AdapterConfig = AdapterConfig> {
  readonly config: C;
  readonly params: Map<string, SiteParams>;
  readonly report: ComposeReport;
}

const fail = (message: string): never => {
  throw new RoadsterError('E_ADAPTER', message);
};

/** Composes adapters of one method (see the file header); the result is a new adapter's config and parameters. */
export function composeAdapters(inputs: readonly ComposeInput[], options: ComposeOptions = {}): Composed {
  if (inputs.length === 0) throw new RoadsterError('E_USAGE', 'compose needs at least one adapter');
  const names = inputs.map((i) => i.entry.name);
  const weights = inputs.map((i) => i.weight ?? 1);
  const badWeight = weights.findIndex((w) => !Number.isFinite(w));
  if (badWeight >= 0) throw new RoadsterError('E_USAGE', `weight ${weights[badWeight]} of adapter "${names[badWeight]}" is not a finite number`);
  const types = [...new Set(inputs.map((i) => i.entry.config.peftType))];
  if (types.length > 1) {
    fail(`adapters ${names.map((n) => `"${n}"`).join(', ')} mix ${types.join(' and ')}: a RoAd rotation and a LoRA update have no exact common form; compose adapters of one method`);
  }
  const bases = [...new Set(inputs.map((i) => i.entry.config.baseModelNameOrPath).filter((b): b is string => b !== null))];
  if (bases.length > 1) fail(`the adapters were trained on different base models (${bases.join(', ')}); compose adapters of the same base`);
  for (const i of inputs) {
    if ((i.entry.modules?.size ?? 0) > 0 || (i.entry.config.modulesToSave?.length ?? 0) > 0) {
      fail(`adapter "${i.entry.name}" carries modules_to_save (a classification head), which has no product form; compose adapters without heads`);
    }
  }
  const tasks = [...new Set(inputs.map((i) => i.entry.config.taskType))];
  if (tasks.length > 1) fail(`the adapters have different task types (${tasks.join(', ')}); compose adapters of one task type`);
  const first = inputs[0].entry.config;
  const common = { ...first, targetModules: unionTargets(inputs.map((i) => i.entry)), baseModelNameOrPath: bases[0] ?? null, inferenceMode: true };
  switch (first.peftType) {
    case 'ROAD':
      return composeRoad(inputs.map((i, k) => ({ entry: i.entry as AdapterEntry<RoadConfig>, weight: weights[k] })), common as RoadConfig, options);
    case 'LORA': {
      if (options.variant !== undefined || options.requireDisjoint) throw new RoadsterError('E_USAGE', 'variant and requireDisjoint apply to RoAd adapters; LoRA takes a combination (linear, cat)');
      const combination = options.combination ?? 'cat';
      const factors = inputs.map((i, k) => ({ name: names[k], config: i.entry.config as LoraConfig, params: i.entry.params, weight: weights[k] }));
      const { r, params } = combineLora(factors, combination);
      const config: LoraConfig = { ...(common as LoraConfig), r, loraAlpha: r, useRslora: false, loraDropout: 0 };
      const how = inputs.length === 1 ? 'linear' : combination;
      const note =
        how === 'cat'
          ? 'PEFT add_weighted_adapter "cat": the update is the weighted sum of the adapters\' updates (rank = sum of ranks)'
          : 'PEFT add_weighted_adapter "linear": A and B are summed separately, so the update has cross terms and is not the sum of the adapters\' updates';
      return { config, params, report: { method: how === 'cat' ? 'lora-cat' : 'lora-linear', order: names, weights, r, exact: how === 'cat' || inputs.length === 1, note } };
    }
  }
}

/** The target modules of the union: names when every adapter lists names, all-linear when one covers all, else the paths. */
function unionTargets(entries: readonly AdapterEntry<AdapterConfig>[]): TargetModules {
  const targets = entries.map((e) => e.config.targetModules);
  if (targets.some((t) => t.kind === 'all-linear')) return { kind: 'all-linear' };
  if (targets.every((t) => t.kind === 'names')) return { kind: 'names', names: [...new Set(targets.flatMap((t) => (t.kind === 'names' ? t.names : [])))] };
  return { kind: 'names', names: [...new Set(entries.flatMap((e) => [...e.params.keys()]))] };
}

const GENERALITY: Readonly<Record<RoadVariant, number>> = { road_1: 0, road_2: 1, road_4: 2 };

function composeRoad(inputs: readonly { entry: AdapterEntry<RoadConfig>; weight: number }[], common: RoadConfig, options: ComposeOptions): Composed<RoadConfig> {
  const order = inputs.map((i) => i.entry.name);
  const weights = inputs.map((i) => i.weight);
  const paths = [...new Set(inputs.flatMap((i) => [...i.entry.params.keys()]))];
  const factorsAt = (path: string): RoadFactor[] =>
    inputs.flatMap((i) => {
      const p = i.entry.params.get(path);
      return p ? [{ name: i.entry.name, variant: i.entry.config.variant, groupSize: i.entry.config.groupSize, theta: p.road_theta, alpha: p.road_alpha, weight: i.weight }] : [];
    });
  const groupSize = chooseGroupSize(inputs.map((i) => i.entry.config.groupSize), paths, factorsAt);
  const allRoad1 = inputs.every((i) => i.entry.config.variant === 'road_1' && i.entry.config.groupSize === groupSize);
  const widest = inputs.reduce<RoadVariant>((v, i) => (GENERALITY[i.entry.config.variant] > GENERALITY[v] ? i.entry.config.variant : v), 'road_2');
  const variant = options.variant ?? (allRoad1 ? 'road_1' : widest);
  if (!(ROAD_VARIANTS as readonly string[]).includes(variant)) throw new RoadsterError('E_USAGE', `unknown RoAd variant "${variant}"; use one of ${ROAD_VARIANTS.join(', ')}`);
  if (variant === 'road_1' && !allRoad1) {
    fail(`road_1 holds only rotation-scalings with one angle per pair, and the product of ${order.join(', ')} is not of that form (not all are road_1 with group size ${groupSize}); write road_2 or road_4`);
  }
  const params = new Map<string, SiteParams>();
  let overlapping = 0;
  for (const path of paths) {
    const factors = factorsAt(path);
    const widths = new Set(factors.map(factorWidth));
    if (widths.size > 1) fail(`${path}: the adapters' parameters describe layers of different widths (${[...widths].join(', ')} outputs); the adapters were made for different models`);
    const d = factors.length > 0 ? factorWidth(factors[0]) : 0;
    if (d % groupSize !== 0) fail(`${path}: group size ${groupSize} does not divide the layer's ${d} outputs`);
    const site = composeSite(factors, variant, groupSize, d, path);
    overlapping += site.overlapping;
    params.set(path, { road_theta: site.theta, road_alpha: site.alpha });
  }
  const disjoint = overlapping === 0;
  if (options.requireDisjoint && !disjoint) {
    fail(`${overlapping} pair(s) are changed by more than one of ${order.join(', ')} (disjoint adapters were asked for); train them on disjoint --road-pairs (e.g. 0/2 and 1/2) or drop requireDisjoint`);
  }
  const note = disjoint
    ? 'the adapters change disjoint pairs: the product does not depend on the order and equals applying them in turn'
    : allRoad1
      ? `${overlapping} pair(s) are changed by more than one adapter; road_1 blocks are rotation-scalings, which commute, so the order does not matter`
      : `${overlapping} pair(s) are changed by more than one adapter: the product applies ${order.join(', then ')} in this order (it may differ in another order)`;
  return {
    config: { ...common, variant, groupSize, initWeights: true },
    params,
    report: { method: 'road-product', order, weights, variant, groupSize, disjoint, overlappingPairs: overlapping, exact: true, note },
  };
}

/** The first of the adapters' group sizes in which every factor is a block matrix; refuses with the crossing found. */
function chooseGroupSize(sizes: readonly number[], paths: readonly string[], factorsAt: (path: string) => RoadFactor[]): number {
  const reasons: string[] = [];
  for (const g of [...new Set(sizes)]) {
    const crossing = findCrossing(g, paths, factorsAt);
    if (crossing === null) return g;
    reasons.push(`in group size ${g}, ${crossing}`);
  }
  return fail(
    `the adapters' group sizes pair different output coordinates and their product is no RoAd adapter: ${reasons.join('; ')}. ` +
      'Compose adapters of one group size (or ones whose blocks across the other pairing are diagonal)',
  );
}

function findCrossing(g: number, paths: readonly string[], factorsAt: (path: string) => RoadFactor[]): string | null {
  for (const path of paths) {
    for (const f of factorsAt(path)) {
      if (f.groupSize === g) continue;
      const { theta, alpha } = weightedParams(f, path);
      const { c, s } = roadColumns(f.variant, f.groupSize, theta, alpha);
      const pair = crossCoupling(c, s, f.groupSize, g);
      if (pair) return `adapter "${f.name}" (group size ${f.groupSize}) rotates outputs ${pair[0]} and ${pair[1]} of ${path}, which group size ${g} does not pair`;
    }
  }
  return null;
}

/** Sites for writing a composed adapter without a model: each layer's width from its parameters. */
export function composedSites(config: AdapterConfig, params: ReadonlyMap<string, SiteParams>): Map<string, LinearSite> {
  const sites = new Map<string, LinearSite>();
  for (const [path, p] of params) {
    const [inFeatures, outFeatures] =
      config.peftType === 'LORA'
        ? [p[LORA_A].length / config.r, p[LORA_B].length / config.r]
        : [0, factorWidth({ variant: config.variant, theta: p.road_theta })];
    sites.set(path, { path, layer: Number(/layers\.(\d+)\./.exec(path)?.[1] ?? 0), kind: 'q_proj', inFeatures, outFeatures });
  }
  return sites;
}
