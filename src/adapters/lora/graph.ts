// LoRA inside a traced graph: y + scaling · (x Aᵀ) Bᵀ for one adapter (PEFT's `Linear.forward`, eval mode), and
// the mixed-batch form where every row brings its own factors: two batched matmuls over per-row A and Bs.
// Letters: r = rank, n = in_features, d = out_features, R = the batch's largest rank.

import type { Tensor } from '../../graph/tracer.ts';

/** y + scaling · B(A x): x [..., n], y [..., d], A [r, n], B [d, r] → [..., d]. */
export function applyLoraTraced(x: Tensor, y: Tensor, a: Tensor, b: Tensor, scaling: number): Tensor {
  const down = x.matmul(a, { transB: true }); // [..., r]
  const up = down.matmul(b, { transB: true }); // [..., d]
  return y.add(up.mul(scaling)); // [..., d]
}

/** y + (x Aᵀ) Bsᵀ per row: x [B, T, n], y [B, T, d], A [B, R, n], Bs [B, d, R] (scaling folded in) → [B, T, d]. */
export function applyLoraRowsTraced(x: Tensor, y: Tensor, a: Tensor, bs: Tensor): Tensor {
  const down = x.matmul(a, { transB: true }); // [B, T, R]
  return y.add(down.matmul(bs, { transB: true })); // [B, T, d]
}
