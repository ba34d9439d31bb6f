// LoRA as an AdapterKind, the baseline the RoAd paper measures its batching against: parameters lora_A.weight
// [r, in] and lora_B.weight [out, r] per wrapped layer (PEFT's saved names), the traced update, merge/unmerge
// of scaling · B A, and mixed batches as a gathered batched matmul (per-row A and B padded to the largest rank),
// where RoAd needs only an element-wise multiply per row.

import { RoadsterError } from '../../errors.ts';
import type { LinearSite } from '../../models/linear.ts';
import type { AdapterEntry, AdapterKind, LayerWeights, MixedSite, SiteParams } from '../kind.ts';
import { type LoraConfig, loraFieldsJson, loraScaling, parseLoraFields } from './config.ts';
import { applyLoraRowsTraced, applyLoraTraced } from './graph.ts';
import { type LoraRow, addDelta, initLora, packRows } from './math.ts';

/** PEFT's parameter names at a wrapped layer (saved as `base_model.model.<path>.lora_A.weight`). */
export const LORA_A = 'lora_A.weight';
export const LORA_B = 'lora_B.weight';

function shiftLayer(config: LoraConfig, params: SiteParams, layer: LayerWeights, sign: 1 | -1): LayerWeights {
  const weight = addDelta(layer.weight, params[LORA_A], params[LORA_B], config.r, loraScaling(config), sign);
  return { weight, bias: layer.bias ? Float32Array.from(layer.bias) : null };
}

// Each row gathers its A and scaled B from the table, then two batched matmuls.
function mixedSite(site: LinearSite, slots: readonly (AdapterEntry<LoraConfig> | null)[]): MixedSite {
  const [n, d] = [site.inFeatures, site.outFeatures];
  const present: (LoraRow | null)[] = slots.map((e) => {
    const p = e?.params.get(site.path);
    return e && p ? { a: p[LORA_A], b: p[LORA_B], r: e.config.r, scaling: loraScaling(e.config) } : null;
  });
  const rank = Math.max(1, ...present.map((p) => p?.r ?? 0));
  return {
    key: `lora:${rank}`,
    trace(x, y, rows) {
      const a = rows('A', y.dtype, [rank, n]); // [B, R, n]
      const bs = rows('Bs', y.dtype, [d, rank]); // [B, d, R]
      return applyLoraRowsTraced(x, y, a, bs); // [B, T, d]
    },
    feeds(dtype) {
      const { a, b } = packRows(present, rank, n, d, dtype);
      return { A: { dtype, shape: [slots.length, rank, n], data: a }, Bs: { dtype, shape: [slots.length, d, rank], data: b } };
    },
  };
}

export const LORA_KIND: AdapterKind<LoraConfig> = {
  peftType: 'LORA',
  prefix: 'lora_',
  dropoutRate: (config) => config.loraDropout,
  parseConfig: parseLoraFields,
  configJson: loraFieldsJson,
  checkSite() {
    // Any linear layer takes a rank-r update; r > in or out is allowed (PEFT allows it too).
  },
  paramShapes(config, site) {
    return { [LORA_A]: [config.r, site.inFeatures], [LORA_B]: [site.outFeatures, config.r] };
  },
  initParams(config, site, seed) {
    const init = initLora(config.initLoraWeights, config.r, site.inFeatures, site.outFeatures, seed);
    if (!init) {
      throw new RoadsterError(
        'E_ADAPTER',
        `${site.path}: init_lora_weights "${config.initLoraWeights}" needs PEFT's data-driven or special initialisation, which roadster does not implement; initialise with true, false or "gaussian", or load an adapter trained in PEFT`,
      );
    }
    return { [LORA_A]: init.a, [LORA_B]: init.b };
  },
  apply(config, _site, x, y, params, _b, training) {
    // PEFT's Linear.forward: the LoRA branch reads dropout(x) in training, x itself in eval mode
    const input = training && config.loraDropout > 0 ? training.dropout(x, config.loraDropout) : x; // [..., n]
    return applyLoraTraced(input, y, params[LORA_A], params[LORA_B], loraScaling(config)); // [..., d]
  },
  merge: (config, _site, params, layer) => shiftLayer(config, params, layer, 1),
  unmerge: (config, _site, params, layer) => shiftLayer(config, params, layer, -1),
  mixed: mixedSite,
};
