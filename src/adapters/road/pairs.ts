// RoAd's subspaces: the 2-D pairs (k, k + G/2) of each group of G output elements. A selection names pairs by
// their index j < G/2 inside a group (the same pairs in every group and every adapted layer): a share i/n
// (the i-th of n contiguous, near-equal shares of the G/2 pairs) or explicit ranges ("0-3,8"). Here: parsing,
// the mask of θ/α entries a selection trains in each variant's layout (see math.ts), and which pairs an
// adapter actually uses (its per-pair 2×2 block is not the identity).

import { RoadsterError } from '../../errors.ts';
import type { RoadVariant } from './math.ts';
import { roadColumns } from './math.ts';

/** Pairs chosen inside every group: a share of them, or explicit index ranges (inclusive). */
export type PairSelection =
  | { readonly kind: 'share'; readonly index: number; readonly count: number }
  | { readonly kind: 'ranges'; readonly ranges: readonly (readonly [number, number])[] };

/** Parses "i/n" (share i of n, 0-based) or "a-b,c,..." (pair indices, ranges inclusive). */
export function parsePairSelection(text: string, where = '--road-pairs'): PairSelection {
  const t = text.trim();
  const share = /^(\d+)\s*\/\s*(\d+)$/.exec(t);
  if (share) {
    const [index, count] = [Number(share[1]), Number(share[2])];
    if (count < 1 || index >= count) {
      throw new RoadsterError('E_USAGE', `${where} "${text}": a share is i/n with 0 <= i < n (e.g. 0/2 for the first half of each group's pairs, 1/2 for the second)`);
    }
    return { kind: 'share', index, count };
  }
  const ranges: [number, number][] = [];
  for (const part of t.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) {
      throw new RoadsterError('E_USAGE', `${where} "${text}": expected a share i/n (e.g. 0/2) or pair ranges such as 0-3,8 (pair indices inside a group, from 0 to G/2 - 1)`);
    }
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a) throw new RoadsterError('E_USAGE', `${where} "${text}": range ${a}-${b} runs backwards; write ${b}-${a}`);
    ranges.push([a, b]);
  }
  return { kind: 'ranges', ranges };
}

/** The selection as written: "0/2" or "0-3,8". */
export function formatPairSelection(s: PairSelection): string {
  switch (s.kind) {
    case 'share':
      return `${s.index}/${s.count}`;
    case 'ranges':
      return s.ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
  }
}

/** Which of a group's G/2 pairs the selection takes: [G/2] booleans. Throws for pairs that do not exist or an empty share. */
export function selectedPairs(s: PairSelection, groupSize: number): boolean[] {
  const half = groupSize / 2;
  const chosen = new Array<boolean>(half).fill(false);
  switch (s.kind) {
    case 'share': {
      const [start, end] = [Math.floor((s.index * half) / s.count), Math.floor(((s.index + 1) * half) / s.count)];
      if (end <= start) {
        throw new RoadsterError('E_USAGE', `--road-pairs ${formatPairSelection(s)}: group size ${groupSize} has only ${half} pairs per group, too few for ${s.count} shares; use fewer shares or a larger group size`);
      }
      chosen.fill(true, start, end);
      break;
    }
    case 'ranges':
      for (const [a, b] of s.ranges) {
        if (b >= half) {
          throw new RoadsterError('E_USAGE', `--road-pairs ${formatPairSelection(s)}: pair ${b} does not exist; group size ${groupSize} has pairs 0-${half - 1} in each group`);
        }
        chosen.fill(true, a, b + 1);
      }
      break;
  }
  return chosen;
}

/** The pair index (inside its group) that θ/α entry `e` belongs to, in the variant's layout. */
export function entryPair(variant: RoadVariant, groupSize: number, e: number): number {
  const half = groupSize / 2;
  switch (variant) {
    case 'road_1':
      return e % half; // [N, G/2]: one entry per pair
    case 'road_2':
      return (e % groupSize) % half; // [d]: one entry per element
    case 'road_4':
      return (e % groupSize) % half; // [N, 2, G]: cosine column, then sine column, per group
  }
}

/** Per θ/α entry of a site with `entries` parameters: 1 where the selection trains it, 0 where it stays identity. */
export function pairEntryMask(variant: RoadVariant, groupSize: number, entries: number, pairs: readonly boolean[]): Uint8Array {
  const mask = new Uint8Array(entries);
  for (let e = 0; e < entries; e++) mask[e] = pairs[entryPair(variant, groupSize, e)] ? 1 : 0;
  return mask;
}

/** Sets θ = 0, α = 1 (the identity) wherever `mask` is 0, in place. */
export function resetOutsideMask(theta: Float32Array | Float64Array, alpha: Float32Array | Float64Array, mask: Uint8Array): void {
  for (let e = 0; e < mask.length; e++) {
    if (mask[e]) continue;
    theta[e] = 0;
    alpha[e] = 1;
  }
}

/**
 * Which pairs of a site are used: [N groups][G/2] booleans, true where the pair's 2×2 block
 * [[c_a, -s_a], [s_b, c_b]] is not exactly the identity.
 */
export function usedPairBlocks(variant: RoadVariant, groupSize: number, theta: Float32Array | Float64Array, alpha: Float32Array | Float64Array): boolean[][] {
  const { c, s } = roadColumns(variant, groupSize, theta, alpha);
  const half = groupSize / 2;
  const groups: boolean[][] = [];
  for (let g = 0; g < c.length; g += groupSize) {
    const row: boolean[] = [];
    for (let k = 0; k < half; k++) {
      const [a, b] = [g + k, g + k + half];
      row.push(c[a] !== 1 || c[b] !== 1 || s[a] !== 0 || s[b] !== 0);
    }
    groups.push(row);
  }
  return groups;
}

/** Pair indices as ranges: [0, 1, 2, 5] → "0-2,5" ("none" when empty). */
export function formatPairList(pairs: readonly number[]): string {
  if (pairs.length === 0) return 'none';
  const parts: string[] = [];
  let start = pairs[0];
  let prev = start;
  for (const p of [...pairs.slice(1), Infinity]) {
    if (p === prev + 1) {
      prev = p;
      continue;
    }
    parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = prev = p;
  }
  return parts.join(',');
}

/** The share i/n that is exactly `pairs` (indices of G/2), for n up to 8, or null. */
export function shareOf(pairs: readonly number[], groupSize: number): string | null {
  const half = groupSize / 2;
  for (let n = 1; n <= 8; n++) {
    if (half < n) break;
    for (let i = 0; i < n; i++) {
      const chosen = selectedPairs({ kind: 'share', index: i, count: n }, groupSize);
      const list = chosen.flatMap((v, j) => (v ? [j] : []));
      if (list.length === pairs.length && list.every((v, j) => v === pairs[j])) return `${i}/${n}`;
    }
  }
  return null;
}
