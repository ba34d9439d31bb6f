// Subspace-restricted RoAd training: only the chosen pairs of every group of every adapted layer train. The
// other pairs are set to the identity (θ = 0, α = 1) and masked (PeftModel.setTrainableMask), so gradients,
// AdamW's update and its weight decay never move them, and the saved adapter is a plain PEFT RoAd folder that
// is the identity outside its pairs. With complement noise, each training micro-batch moves the frozen pairs by
// Gaussian draws (θ by N(0, σθ²), α by N(0, σα²); frozen-noise.ts) and puts them back: the adapter learns its task
// under whatever an adapter composed on those pairs might do there. `roadPairsReport` reads back which pairs an
// adapter uses.

import { RoadsterError } from '../errors.ts';
import type { SiteParams } from './kind.ts';
import type { PeftModel } from './peft-model.ts';
import { peftParameterName } from './peft-model.ts';
import type { RoadConfig } from './road/config.ts';
import { type PairSelection, formatPairList, formatPairSelection, pairEntryMask, resetOutsideMask, selectedPairs, shareOf, usedPairBlocks } from './road/pairs.ts';

/** Standard deviations of the complement noise: of θ (radians) and of α (around its identity value 1). */
export interface ComplementNoise {
  readonly theta: number;
  readonly alpha: number;
}

/** Parses `--complement-noise`: "σ" for both θ and α, or "σθ,σα"; each a finite number >= 0. */
export function parseComplementNoise(text: string, where = '--complement-noise'): ComplementNoise {
  const parts = text.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.length < 1 || parts.length > 2 || parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new RoadsterError('E_USAGE', `${where} "${text}": expected one standard deviation for θ and α (e.g. 0.2) or two, θ's then α's (0.2,0.1), each a number >= 0`);
  }
  return { theta: values[0], alpha: values[values.length - 1] };
}

/**
 * Restricts adapter `name` (RoAd) of `peft` to the pairs `selection` picks in each group, optionally training it
 * under complement noise; returns the trainable count.
 */
export function restrictRoadPairs(peft: PeftModel, name: string, selection: PairSelection, noise: ComplementNoise | null = null): number {
  const entry = peft.adapter(name);
  if (entry.config.peftType !== 'ROAD') {
    throw new RoadsterError('E_USAGE', `--road-pairs restricts RoAd adapters to some of their 2-D pairs; adapter "${name}" is ${entry.config.peftType}`);
  }
  if (noise !== null && ![noise.theta, noise.alpha].every((v) => Number.isFinite(v) && v >= 0)) {
    throw new RoadsterError('E_USAGE', `complement noise needs standard deviations >= 0 for θ and α, not ${noise.theta} and ${noise.alpha}`);
  }
  const config = entry.config;
  const pairs = selectedPairs(selection, config.groupSize);
  const masks = new Map<string, Uint8Array>();
  let trainable = 0;
  for (const [path, params] of entry.params) {
    const theta = params.road_theta;
    const mask = pairEntryMask(config.variant, config.groupSize, theta.length, pairs);
    resetOutsideMask(theta, params.road_alpha, mask);
    masks.set(peftParameterName(path, 'road_theta', name), mask);
    masks.set(peftParameterName(path, 'road_alpha', name), mask);
    trainable += 2 * mask.reduce((a, v) => a + v, 0);
  }
  const thetas = new Set([...entry.params.keys()].map((path) => peftParameterName(path, 'road_theta', name)));
  const frozenNoise =
    noise === null || (noise.theta === 0 && noise.alpha === 0)
      ? null
      : { label: `complement noise θ ${noise.theta}, α ${noise.alpha}`, sigma: (param: string) => (thetas.has(param) ? noise.theta : noise.alpha) };
  peft.setTrainableMask(name, `road pairs ${formatPairSelection(selection)}`, masks, frozenNoise);
  return trainable;
}

/** Which pairs a RoAd adapter uses (its 2×2 block is not the identity), per module and over all modules. */
export interface RoadPairsReport {
  readonly groupSize: number;
  readonly pairsPerGroup: number;
  /** Pair indices (inside a group) that any group of any module uses, as ranges ("0-3"), or "none". */
  readonly used: string;
  /** The share i/n those pairs form, when they form one (e.g. "0/2"); null otherwise. */
  readonly share: string | null;
  readonly modules: readonly { readonly module: string; readonly used: string }[];
}

/** The pairs an adapter's parameters use, read from its blocks. */
export function roadPairsReport(config: RoadConfig, params: ReadonlyMap<string, SiteParams>): RoadPairsReport {
  const half = config.groupSize / 2;
  const all = new Array<boolean>(half).fill(false);
  const modules: { module: string; used: string }[] = [];
  for (const [path, p] of params) {
    const here = new Array<boolean>(half).fill(false);
    for (const group of usedPairBlocks(config.variant, config.groupSize, p.road_theta, p.road_alpha)) group.forEach((u, j) => (here[j] ||= u));
    here.forEach((u, j) => (all[j] ||= u));
    modules.push({ module: path, used: formatPairList(here.flatMap((u, j) => (u ? [j] : []))) });
  }
  const used = all.flatMap((u, j) => (u ? [j] : []));
  return { groupSize: config.groupSize, pairsPerGroup: half, used: formatPairList(used), share: used.length > 0 ? shareOf(used, config.groupSize) : null, modules };
}

/** A RoAd adapter's parameters with the chosen pairs reset to the identity (ablating the adapter in that subspace). */
export function withoutPairs(config: RoadConfig, params: ReadonlyMap<string, SiteParams>, selection: PairSelection): Map<string, SiteParams> {
  const pairs = selectedPairs(selection, config.groupSize);
  const out = new Map<string, SiteParams>();
  for (const [path, p] of params) {
    const theta = Float64Array.from(p.road_theta);
    const alpha = Float64Array.from(p.road_alpha);
    const mask = pairEntryMask(config.variant, config.groupSize, theta.length, pairs.map((on) => !on));
    resetOutsideMask(theta, alpha, mask);
    out.set(path, { road_theta: theta, road_alpha: alpha });
  }
  return out;
}
