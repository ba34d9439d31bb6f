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
// - The draw takes one uniform u in [0, 1) and walks the kept tokens in the order the filters leave them (a
//   function of the logits alone, see Kept; not sorting them again saves a sort of up to V ids): the first
//   whose cumulative weight exceeds u * (total kept weight). vLLM's GPU sampler draws one exponential per
//   vocabulary entry instead; one uniform per token keeps a request's random stream independent of V.
//
// Tokens are ranked by z = logits / T (descending, id ascending on ties); weights are exp(z - z_max) in float64,
// so the most likely token has weight 1. Nothing sorts the whole vocabulary: min-p is a threshold on z
// (z >= z_max + log minP), top-k selects with a size-k heap, and top-p sums the mass of buckets 1/32 nat wide
// below z_max and sorts only the bucket where the cumulative mass crosses p. Only the tokens that survive
// min-p and top-k get an exp.

import { assert } from '../../errors.ts';
import { argmax, topIndices } from './select.ts';
import { isGreedy, type SamplingParams } from './params.ts';

/** Buffers reused across the steps of one request, sized to the vocabulary. */
export class FilterWorkspace {
  /** Penalised logits, then scaled by 1 / T: z. */
  z = new Float64Array(0);
  /** exp(z - z_max) of the tokens that survive min-p and top-k. */
  weight = new Float64Array(0);
  /** Kept token ids in kept[0, count). */
  kept = new Int32Array(0);
  /** Scratch: heap of top-k, then the tokens of top-p's boundary bucket. */
  scratch = new Int32Array(0);
  /** top-p's bucket of each candidate. */
  bucket = new Uint16Array(0);
  /** Mass of each of top-p's buckets. */
  readonly bucketMass = new Float64Array(TOP_P_BUCKETS);

  /** Sizes the buffers to a vocabulary of v. */
  ensure(v: number): void {
    if (this.z.length === v) return;
    this.z = new Float64Array(v);
    this.weight = new Float64Array(v);
    this.kept = new Int32Array(v);
    this.scratch = new Int32Array(v);
    this.bucket = new Uint16Array(v);
  }
}

/**
 * The tokens that survive the filters: ids ws.kept[0, count), with weights ws.weight[id]. Their order is a
 * function of the logits alone: by id, or best first when top-k or top-p ranked them (top-p: the tokens of
 * its whole buckets by id, then those of the boundary bucket best first).
 */
export interface Kept {
  readonly count: number;
  /** Sum of the kept weights (float64). */
  readonly mass: number;
  /** max z. */
  readonly zMax: number;
  /** Sum of exp(z - zMax) over the whole vocabulary when it was computed on the way (nothing removed before
   * top-p); else NaN. */
  readonly vocabMass: number;
}

// top-p ranks tokens by z through buckets of width 1 / TOP_P_RESOLUTION nats below z_max: whole buckets are
// kept until the one where the mass crosses p, and only that bucket is sorted.
const TOP_P_RESOLUTION = 32;
const TOP_P_BUCKETS = 2048;
/** Below this many candidates top-p sorts them outright. */
const TOP_P_SORT = 256;

/**
 * Applies temperature, min-p, top-k and top-p to the logits already in ws.z[0, V) (penalised, not yet scaled).
 * Leaves ws.z scaled by 1 / T; writes the kept ids to ws.kept and their weights to ws.weight.
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
  assert(zMax > -Infinity, 'sampling from logits that are all -inf or NaN');
  // min-p: p_i >= minP * p_max  <=>  z_i - z_max >= log(minP): a threshold on z, no exp needed.
  const zFloor = params.minP > 0 ? zMax + Math.log(params.minP) : -Infinity;
  let count = 0;
  let bestFirst = false; // kept[0, count) is ranked best first rather than by id
  if (params.topK > 0 && params.topK < v) {
    for (const id of topIndices(z, params.topK, ws.scratch)) if (z[id] >= zFloor) kept[count++] = id;
    bestFirst = true;
  } else if (params.minP > 0) {
    for (let i = 0; i < v; i++) if (z[i] >= zFloor) kept[count++] = i;
  } else {
    for (let i = 0; i < v; i++) kept[i] = i;
    count = v;
  }
  let mass = 0;
  for (let j = 0; j < count; j++) {
    const id = kept[j];
    const w = Math.exp(z[id] - zMax); // weight = exp(z - z_max): p up to the normalisation
    weight[id] = w;
    mass += w;
  }
  const vocabMass = count === v && !bestFirst ? mass : Number.NaN;
  if (params.topP < 1) {
    if (!bestFirst) count = count <= TOP_P_SORT ? rankAll(ws, count) : rankNucleus(ws, count, zMax, params.topP * mass);
    // top-p: keep tokens best first while the mass before them is < p * mass (so always at least one).
    const target = params.topP * mass;
    let taken = 0;
    let before = 0;
    while (taken < count && before < target) before += weight[kept[taken++]];
    count = taken;
    mass = before;
  }
  return { count, mass, zMax, vocabMass };
}

/** Sorts kept[0, count) best first (z descending, id ascending); returns count. */
function rankAll(ws: FilterWorkspace, count: number): number {
  const z = ws.z;
  ws.kept.subarray(0, count).sort((a, b) => z[b] - z[a] || a - b);
  return count;
}

/**
 * Moves to the front of kept a prefix of the ranking that holds the whole nucleus: the tokens of the buckets
 * that end before the target (all kept, in any order), then the boundary bucket sorted best first; returns its
 * length.
 */
function rankNucleus(ws: FilterWorkspace, count: number, zMax: number, target: number): number {
  const { z, weight, kept, scratch, bucket, bucketMass } = ws;
  bucketMass.fill(0);
  for (let j = 0; j < count; j++) {
    const id = kept[j];
    const b = Math.min(TOP_P_BUCKETS - 1, Math.floor((zMax - z[id]) * TOP_P_RESOLUTION));
    bucket[j] = b;
    bucketMass[b] += weight[id];
  }
  // The boundary bucket: the first whose end reaches the target; later buckets lie wholly outside the nucleus.
  let boundary = 0;
  let before = 0;
  while (boundary < TOP_P_BUCKETS - 1 && before + bucketMass[boundary] < target) before += bucketMass[boundary++];
  // Earlier buckets are kept whole, so their order does not matter; the boundary bucket goes after them, sorted.
  let n = 0;
  let m = 0;
  for (let j = 0; j < count; j++) {
    const b = bucket[j];
    if (b < boundary) kept[n++] = kept[j];
    else if (b === boundary) scratch[m++] = kept[j];
  }
  kept.set(scratch.subarray(0, m).sort((a, b) => z[b] - z[a] || a - b), n);
  return n + m;
}

/** The kept token whose cumulative weight (in kept order) first exceeds u * mass; u in [0, 1). */
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
