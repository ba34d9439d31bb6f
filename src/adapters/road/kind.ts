// RoAd as an AdapterKind: parameters per wrapped layer, the traced output rotation, merge/unmerge, and mixed
// batches where each row brings its own c and s (one element-wise multiply per row, whatever the adapters).

import { RoadsterError } from '../../errors.ts';
import type { Tensor } from '../../graph/tracer.ts';
import type { LinearSite } from '../../models/linear.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import type { AdapterEntry, AdapterKind, LayerWeights, MixedSite, SiteParams } from '../kind.ts';
import { seededNormals } from '../../seeded-random.ts';
import { type RoadConfig, parseRoadFields, roadFieldsJson } from './config.ts';
import { applyRoadSignedTraced, halfSign, swapGroupHalves } from './graph.ts';
import { mergeRows, roadColumnGrads, roadColumns, roadParamSize, unmergeRows } from './math.ts';

function columns(config: RoadConfig, params: SiteParams) {
  return roadColumns(config.variant, config.groupSize, params.road_theta, params.road_alpha);
}

function transformLayer(config: RoadConfig, site: LinearSite, params: SiteParams, layer: LayerWeights, inverse: boolean): LayerWeights {
  const { c, s } = columns(config, params);
  const w = Float64Array.from(layer.weight);
  const b = layer.bias ? Float64Array.from(layer.bias) : null;
  const step = inverse ? (a: Float64Array, n: number) => unmergeRows(a, n, config.groupSize, c, s, site.path) : (a: Float64Array, n: number) => mergeRows(a, n, config.groupSize, c, s);
  step(w, site.inFeatures);
  if (b) step(b, 1);
  return { weight: Float32Array.from(w), bias: b ? Float32Array.from(b) : null };
}

// Each row gathers its c and s± from the table (one Gather of [B, d] per input), then one element-wise
// multiply-add per group size: the paper's per-row cost, whatever the adapters.
function mixedSite(site: LinearSite, slots: readonly (AdapterEntry<RoadConfig> | null)[]): MixedSite {
  const d = site.outFeatures;
  const present = slots.map((r) => (r && r.params.has(site.path) ? r : null));
  const groups = [...new Set(present.filter((r) => r !== null).map((r) => r!.config.groupSize))].sort((a, b) => a - b);
  return {
    key: `road:${groups.join(',')}`,
    trace(_x: Tensor, y: Tensor, rows) {
      const row = (suffix: string) => rows(suffix, y.dtype, [d]).unsqueeze(1); // [B, 1, d]
      let out = y.mul(row('c')); // [B, T, d]
      // rot(y) ⊙ s = swap(y) ⊙ (s ⊙ signs): the table carries s with the half signs applied
      for (const g of groups) out = out.add(swapGroupHalves(y, g).mul(row(`s${g}`))); // [B, T, d]
      return out;
    },
    feeds(dtype) {
      const make = () => (dtype === 'float64' ? new Float64Array(slots.length * d) : new Float32Array(slots.length * d));
      const c = make().fill(1);
      const s = new Map(groups.map((g) => [g, make()]));
      present.forEach((r, i) => {
        if (!r) return;
        const cols = columns(r.config, r.params.get(site.path)!);
        c.set(cols.c, i * d);
        const g = r.config.groupSize;
        s.get(g)!.set(cols.s.map((v, j) => v * halfSign(j, g)), i * d);
      });
      const feeds: Record<string, HostTensor> = { c: { dtype, shape: [slots.length, d], data: c } };
      for (const [g, data] of s) feeds[`s${g}`] = { dtype, shape: [slots.length, d], data };
      return feeds;
    },
  };
}

export const ROAD_KIND: AdapterKind<RoadConfig> = {
  peftType: 'ROAD',
  prefix: 'road_',
  parseConfig: parseRoadFields,
  configJson: roadFieldsJson,
  checkSite(config, site) {
    if (site.outFeatures % config.groupSize !== 0) {
      throw new RoadsterError(
        'E_ADAPTER',
        `${site.path}: RoAd group_size ${config.groupSize} does not divide out_features ${site.outFeatures}; choose a group size that divides it`,
      );
    }
  },
  paramShapes(config, site) {
    const n = roadParamSize(config.variant, site.outFeatures);
    return { road_theta: [n], road_alpha: [n] };
  },
  initParams(config, site, seed) {
    const n = roadParamSize(config.variant, site.outFeatures);
    if (config.initWeights) return { road_theta: new Float32Array(n), road_alpha: new Float32Array(n).fill(1) };
    const next = seededNormals(seed);
    return {
      road_theta: Float32Array.from({ length: n }, () => 0.5 * next()),
      road_alpha: Float32Array.from({ length: n }, () => 1 + 0.5 * next()),
    };
  },
  // The graph takes c and s ⊙ signs [d], computed here from θ and α; their gradients come back through the
  // chain rule of roadColumns (BENCHMARKS.md: ~6,000 fewer small kernels per training step at 30 layers).
  hostInputs: {
    shapes: (_config, site) => ({ c: [site.outFeatures], s: [site.outFeatures] }),
    values(config, _site, params) {
      const { c, s } = columns(config, params);
      return { c, s: s.map((v, i) => v * halfSign(i, config.groupSize)) };
    },
    grads(config, _site, params, inputGrads) {
      const ds = inputGrads.s.map((v, i) => v * halfSign(i, config.groupSize));
      const { dTheta, dAlpha } = roadColumnGrads(config.variant, config.groupSize, params.road_theta, params.road_alpha, inputGrads.c, ds);
      return { road_theta: dTheta, road_alpha: dAlpha };
    },
  },
  apply(config, _site, _x, y, inputs) {
    return applyRoadSignedTraced(y, inputs.c, inputs.s, config.groupSize); // [..., d]
  },
  merge: (config, site, params, layer) => transformLayer(config, site, params, layer, false),
  unmerge: (config, site, params, layer) => transformLayer(config, site, params, layer, true),
  mixed: mixedSite,
};
