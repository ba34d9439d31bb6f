// The one seam where adapters attach: every projection of every model goes through a `LinearFn`. A site names
// the module exactly as the checkpoint does (e.g. "model.layers.3.self_attn.q_proj"), so adapters can match
// target modules the way PEFT does.

import type { Tensor } from '../graph/tracer.ts';

/** Projection kinds of the Llama family. */
export type ProjectionKind = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

/**
 * Projections that generation graphs fuse into one matmul on the concatenated weight (q;k;v and gate;up), their
 * output sliced into the parts'.
 */
export type FusedProjectionKind = 'qkv_proj' | 'gate_up_proj';

/** Where a linear layer sits in the model. */
export interface LinearSite {
  /** Module path as in the checkpoint, without ".weight" (a fused projection's: its own, e.g. "...self_attn.qkv_proj"). */
  readonly path: string;
  readonly layer: number;
  readonly kind: ProjectionKind | FusedProjectionKind;
  readonly inFeatures: number;
  /** For a fused projection, the sum of its parts'. */
  readonly outFeatures: number;
  /**
   * A fused projection (generation graphs only): the checkpoint layers it concatenates, in output order (each
   * part's output is `outFeatures` consecutive entries of the site's). Adapters name the parts, never the fused
   * site. Absent on a checkpoint layer.
   */
  readonly parts?: readonly LinearSite[];
}

/** The parts of `site` in output order with their offsets: the site itself (offset 0) when it is not fused. */
export function siteParts(site: LinearSite): { readonly part: LinearSite; readonly offset: number }[] {
  let offset = 0;
  return (site.parts ?? [site]).map((part) => {
    const at = offset;
    offset += part.outFeatures;
    return { part, offset: at };
  });
}

/** y = x Wᵀ + b for x [..., in], W [out, in], b [out] | null → y [..., out]. Adapters wrap this function. */
export type LinearFn = (site: LinearSite, x: Tensor, weight: Tensor, bias: Tensor | null) => Tensor;

/** The plain projection. */
export const plainLinear: LinearFn = (_site, x, weight, bias) => {
  const y = x.matmul(weight, { transB: true }); // [..., out]
  return bias ? y.add(bias) : y;
};
