// Temperature, min-p, top-k and top-p over one row of (penalised) logits, and the draw, in vLLM v1's order
// (vllm/v1/sample/sampler.py): divide by the temperature, min-p (keep p >= minP * p_max), top-k, then top-p
// over the distribution renormalised to what is left (vllm/v1/sample/ops/topk_topp_sampler.py), then a draw.
//
// - min-p and top-k commute here: min-p's threshold is relative to the most likely token, which top-k keeps.
// - top-k keeps exactly k tokens, ties broken by the smaller id (vLLM and transformers keep every token tied
//   with the k-th; ties of float logits are rare, and an exact k is what tests and users can count on).
// - top-p keeps the smallest set of most likely tokens whose mass reaches p (vLLM drops a token when the mass
//   of the tokens less likely than it, itself included, is <= 1 - p; that is, it keeps a token while the mass
//   of the tokens before it is < p), and always at least one.
// - The draw takes one uniform u in [0, 1) and walks the kept tokens by ascending id: the first whose
//   cumulative weight exceeds u * (total kept weight). vLLM's GPU sampler draws one exponential per vocabulary
//   entry instead; one uniform per token keeps a request's stream of random numbers independent of V.
//
// Weights are exp(z - z_max) in float64 (z = logits / T), so the most likely token has weight 1 and min-p is
// a comparison of weights. Nothing sorts the whole vocabulary: top-k selects with a size-k heap, top-p pops a
// heap until it has the mass it needs.

import { BestFirst, argmax, topIndices } from './select.ts';
import { isGreedy, type SamplingParams } from './params.ts';

/** Buffers reused across the rows and steps of one request (or one worker), sized to the vocabulary. */
export class FilterWorkspace {
  /** Scaled logits z, then read by the filters. */
  z = new Float64Array(0);
  /** exp(z - z_max) of the tokens that were looked at. */
  weight = new Float64Array(0);
  /** Kept token ids in kept[0, count). */
  kept = new Int32Array(0);
  /** Scratch for the heaps. */
  heap = new Int32Array(0);

  /** Grows the buffers to a vocabulary of v. */
  ensure(v: number): void {
    if (this.z.length === v) return;
    this.z = new Float64Array(v);
    this.weight = new Float64Array(v);
    this.kept = new Int32Array(v);
    this.heap = new Int32Array(v);
  }
}

/** The tokens that survive the filters: ids kept[0, count) ascending, with weights weight[id]. */
export interface Kept {
  readonly count: number;
  /** Sum of the kept weights (float64). */
  readonly mass: number;
}

/**
 * Applies temperature, min-p, top-k and top-p to the logits already in ws.z[0, V) (penalised, not yet scaled).
 * Leaves ws.z scaled by 1 / T; writes the kept ids to ws.kept (ascending) and their weights to ws.weight.
 */
export function filterLogits(ws: FilterWorkspace, params: SamplingParams): Kept {
  const z = ws.z;
  const v = z.length;
  const weight = ws.weight;
  const kept = ws.kept;
  if (params.temperature !== 1) {
    const t = params.temperature;
    for (let i = 0; i < v; i++) z[i] /= t; // z = logits / T
  }
  const zMax = z[argmax(z)];
  let count: number;
  let sortedBest = false; // kept[0, count) is best first rather than by id
  if (params.topK > 0 && params.topK < v) {
    // top-k: only the k best need a weight.
    count = params.topK;
    kept.set(topIndices(z, count, ws.heap));
    for (let j = 0; j < count; j++) weight[kept[j]] = Math.exp(z[kept[j]] - zMax);
    sortedBest = true;
  } else {
    count = v;
    for (let i = 0; i < v; i++) {
      weight[i] = Math.exp(z[i] - zMax);
      kept[i] = i;
    }
  }
  if (params.minP > 0) {
    // min-p: p_i >= minP * p_max  <=>  weight_i >= minP (the best token has weight 1)
    let n = 0;
    for (let j = 0; j < count; j++) if (weight[kept[j]] >= params.minP) kept[n++] = kept[j];
    count = n;
  }
  let mass = 0;
  for (let j = 0; j < count; j++) mass += weight[kept[j]];
  if (params.topP < 1) {
    // top-p: take tokens best first while the mass before them is < p * (mass left by the filters above).
    const target = params.topP * mass;
    let taken = 0;
    let before = 0;
    if (sortedBest) {
      while (taken < count && before < target) before += weight[kept[taken++]];
    } else {
      const heap = ws.heap;
      heap.set(kept.subarray(0, count));
      const best = new BestFirst(weight, heap, count);
      while (taken < count && before < target) {
        const id = best.pop();
        kept[taken++] = id;
        before += weight[id];
      }
      sortedBest = true;
    }
    count = Math.max(taken, 1);
    mass = before;
  }
  if (sortedBest) kept.subarray(0, count).sort();
  return { count, mass };
}

/** The kept token whose cumulative weight (by ascending id) first exceeds u * mass; u in [0, 1). */
export function drawKept(ws: FilterWorkspace, kept: Kept, u: number): number {
  const target = u * kept.mass;
  let cumulative = 0;
  for (let j = 0; j < kept.count; j++) {
    const id = ws.kept[j];
    cumulative += ws.weight[id];
    if (cumulative > target) return id;
  }
  // Round-off can leave the sum a hair below the target: the last token with a weight takes it.
  for (let j = kept.count - 1; j > 0; j--) if (ws.weight[ws.kept[j]] > 0) return ws.kept[j];
  return ws.kept[0];
}

/**
 * The distribution a request samples from, given its (penalised) logits: temperature and the filters applied
 * and renormalised, zero elsewhere; one-hot at the arg-max when the params are greedy. For tests and tools.
 */
export function filteredDistribution(logits: ArrayLike<number>, params: SamplingParams): Float64Array {
  const v = logits.length;
  const probs = new Float64Array(v);
  if (isGreedy(params)) {
    probs[argmax(logits)] = 1;
    return probs;
  }
  const ws = new FilterWorkspace();
  ws.ensure(v);
  ws.z.set(logits);
  const kept = filterLogits(ws, params);
  for (let j = 0; j < kept.count; j++) probs[ws.kept[j]] = ws.weight[ws.kept[j]] / kept.mass;
  return probs;
}
