// The one seam where adapters attach: every projection of every model goes through a `LinearFn`. A site names
// the module exactly as the checkpoint does (e.g. "model.layers.3.self_attn.q_proj"), so adapters can match
// target modules the way PEFT does.

import type { Tensor } from '../graph/tracer.ts';

/** Projection kinds of the Llama family. */
export type ProjectionKind = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

/** Where a linear layer sits in the model. */
export interface LinearSite {
  /** Module path as in the checkpoint, without ".weight". */
  readonly path: string;
  readonly layer: number;
  readonly kind: ProjectionKind;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** y = x Wᵀ + b for x [..., in], W [out, in], b [out] | null → y [..., out]. Adapters wrap this function. */
export type LinearFn = (site: LinearSite, x: Tensor, weight: Tensor, bias: Tensor | null) => Tensor;

/** The plain projection. */
export const plainLinear: LinearFn = (_site, x, weight, bias) => {
  const y = x.matmul(weight, { transB: true }); // [..., out]
  return bias ? y.add(bias) : y;
};
