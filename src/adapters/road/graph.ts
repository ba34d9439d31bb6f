// RoAd inside a traced graph: c and s computed from θ and α (so gradients reach them), the grouped rotation
// rot(h), and y = h ⊙ c + rot(h) ⊙ s. Layouts follow PEFT's `_prepare_cols` / `_apply_road` (see math.ts).
// Letters: d = out_features, G = group size, N = number of groups d/G.

import type { Tensor } from '../../graph/tracer.ts';
import { concat } from '../../graph/tracer.ts';
import type { RoadVariant } from './math.ts';

/** c, s [d] from θ, α of the given variant. */
export function roadColumnsTraced(variant: RoadVariant, groupSize: number, d: number, theta: Tensor, alpha: Tensor): { c: Tensor; s: Tensor } {
  const n = d / groupSize;
  switch (variant) {
    case 'road_1': {
      // θ, α [d/2] = [N, G/2]: one entry per pair, used by both elements of the pair
      const widen = (t: Tensor) => {
        const half = t.reshape([n, groupSize / 2]); // [N, G/2]
        return concat([half, half], 1).reshape([d]); // [d]
      };
      const [t, a] = [widen(theta), widen(alpha)];
      return { c: a.mul(t.cos()), s: a.mul(t.sin()) }; // [d]
    }
    case 'road_2':
      return { c: alpha.mul(theta.cos()), s: alpha.mul(theta.sin()) }; // [d]
    case 'road_4': {
      // θ, α [2d] = [N, 2, G]: per group the cosine column's entries, then the sine column's
      const [t1, t2] = theta.reshape([n, 2, groupSize]).split(1, [1, 1]); // [N, 1, G] each
      const [a1, a2] = alpha.reshape([n, 2, groupSize]).split(1, [1, 1]); // [N, 1, G] each
      return { c: a1.mul(t1.cos()).reshape([d]), s: a2.mul(t2.sin()).reshape([d]) }; // [d]
    }
  }
}

/** Inside each group of G, the halves swapped: (h1, h2) ↦ (h2, h1). One Gather, whose gradient is itself. */
export function swapGroupHalves(h: Tensor, groupSize: number): Tensor {
  const d = h.shape.at(-1) as number;
  const lead = h.shape.slice(0, -1);
  const swap = h.builder.constant([1, 0], 'int64', [2]);
  return h
    .reshape([...lead, d / groupSize, 2, groupSize / 2]) // [..., N, 2, G/2]
    .gather(swap, lead.length + 1) // [..., N, 2, G/2], halves swapped
    .reshape([...lead, d]); // [..., d]
}

/** -1 on the first half of every group, +1 on the second: rot(h) = swap(h) ⊙ signs, rot mapping (h1, h2) to (-h2, h1). */
export function halfSign(i: number, groupSize: number): number {
  return i % groupSize < groupSize / 2 ? -1 : 1;
}

/** halfSign for every entry of h's last dim: [d]. */
function halfSigns(h: Tensor, groupSize: number): Tensor {
  const d = h.shape.at(-1) as number;
  return h.builder.constant(Array.from({ length: d }, (_, i) => halfSign(i, groupSize)), h.dtype, [d]);
}

/**
 * y = h ⊙ c + swap(h) ⊙ s±, with s± = s ⊙ signs given (as RoAd's host-computed graph inputs are): one Gather,
 * two products and a sum over [..., d].
 */
export function applyRoadSignedTraced(h: Tensor, c: Tensor, signedS: Tensor, groupSize: number): Tensor {
  return h.mul(c).add(swapGroupHalves(h, groupSize).mul(signedS)); // [..., d]
}

/**
 * y = h ⊙ c + rot(h) ⊙ s = h ⊙ c + swap(h) ⊙ (s ⊙ signs); c, s broadcast against h [..., d] (e.g. [d], or
 * [B, 1, d] per row). The signs go onto s, the small operand, so the [..., d] work is one Gather, two
 * products and a sum (forward and backward alike; BENCHMARKS.md compares the formulations).
 */
export function applyRoadTraced(h: Tensor, c: Tensor, s: Tensor, groupSize: number): Tensor {
  return applyRoadSignedTraced(h, c, s.mul(halfSigns(h, groupSize)), groupSize); // [..., d]
}
