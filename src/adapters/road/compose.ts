// Exact composition of RoAd adapters at one layer: the product of the per-pair 2×2 transforms (docs/compose.md).
// Each factor's block on the pair (a, b) = (k, k + G/2) is M = [[c_a, -s_a], [s_b, c_b]]; applying factor 1
// then factor 2 is M₂·M₁, pair by pair. road_2 and road_4 can hold any 2×2 block (road_2: (c, s) of each
// element in polar form θ = atan2(s, c), α = hypot(c, s); road_4: the same in both columns), road_1 only
// rotation-scalings α·[[cos θ, -sin θ], [sin θ, cos θ]], whose products are again rotation-scalings
// (θ₁ + θ₂, α₁·α₂). Blocks only one factor touches are copied in that factor's own parametrisation, so disjoint
// compositions are bit-exact. Factors with another group size pair other coordinates: they fit the target
// group size only where their blocks couple nothing across its pairs (diagonal there).

import { RoadsterError } from '../../errors.ts';
import { type RoadVariant, roadColumns, roadParamSize } from './math.ts';

type Floats = Float32Array | Float64Array;

/** One adapter's parameters at a layer, with its blend weight (θ·w, α^w). */
export interface RoadFactor {
  readonly name: string;
  readonly variant: RoadVariant;
  readonly groupSize: number;
  readonly theta: Floats;
  readonly alpha: Floats;
  readonly weight: number;
}

/** Output elements d of a factor (from its parameter count). */
export function factorWidth(f: Pick<RoadFactor, 'variant' | 'theta'>): number {
  switch (f.variant) {
    case 'road_1':
      return f.theta.length * 2;
    case 'road_2':
      return f.theta.length;
    case 'road_4':
      return f.theta.length / 2;
  }
}

/** θ·w and α^w; α must be positive unless w = 1 (α^w of a negative scale is not a real blend). */
export function weightedParams(f: RoadFactor, where: string): { theta: Float64Array; alpha: Float64Array } {
  if (f.weight === 1) return { theta: Float64Array.from(f.theta), alpha: Float64Array.from(f.alpha) };
  const bad = f.alpha.findIndex((a) => !(a > 0));
  if (bad >= 0) {
    throw new RoadsterError(
      'E_ADAPTER',
      `${where}: weight ${f.weight} on adapter "${f.name}" blends its scales as α^w, but α[${bad}] = ${f.alpha[bad]} is not positive; use weight 1 for this adapter`,
    );
  }
  return { theta: Float64Array.from(f.theta, (t) => t * f.weight), alpha: Float64Array.from(f.alpha, (a) => a ** f.weight) };
}

/** The partner of element i under group size G: i ± G/2. */
function partner(i: number, groupSize: number): number {
  const half = groupSize / 2;
  return i % groupSize < half ? i + half : i - half;
}

/**
 * Where factor columns (c, s of group size `from`) couple two elements that group size `to` does not pair:
 * the first such element pair, or null when the factor is a block matrix of `to`'s pairs.
 */
export function crossCoupling(c: Floats, s: Floats, from: number, to: number): [number, number] | null {
  if (from === to) return null;
  for (let i = 0; i < c.length; i++) {
    const j = partner(i, from);
    if (s[i] !== 0 && partner(i, to) !== j) return i < j ? [i, j] : [j, i];
  }
  return null;
}

/** Per pair (a < b under group size G) of d elements: whether its block is not the identity. */
function touched(c: Floats, s: Floats, groupSize: number): Uint8Array {
  const t = new Uint8Array(c.length);
  for (let a = 0; a < c.length; a++) {
    if (a % groupSize >= groupSize / 2) continue;
    const b = a + groupSize / 2;
    t[a] = c[a] !== 1 || c[b] !== 1 || s[a] !== 0 || s[b] !== 0 ? 1 : 0;
  }
  return t;
}

/** The result at one layer: parameters of the output variant, and which factors touched each pair. */
export interface ComposedSite {
  readonly theta: Float64Array;
  readonly alpha: Float64Array;
  /** Pairs (by first element a) that more than one factor changes. */
  readonly overlapping: number;
  /** Pairs that exactly one factor changes, and that some factor changes. */
  readonly single: number;
  readonly used: number;
}

/**
 * Composes `factors` (applied first to last: the product M_last ⋯ M_first) at a layer of d outputs into
 * `variant` with group size `groupSize`. The caller has checked that every factor fits the group size
 * (crossCoupling is null) and, for road_1, that every factor is road_1 of that group size.
 */
export function composeSite(factors: readonly RoadFactor[], variant: RoadVariant, groupSize: number, d: number, where: string): ComposedSite {
  const half = groupSize / 2;
  const weighted = factors.map((f) => ({ f, ...weightedParams(f, where) }));
  const cols = weighted.map((w) => roadColumns(w.f.variant, w.f.groupSize, w.theta, w.alpha));
  const marks = cols.map(({ c, s }) => touched(c, s, groupSize));
  const n = roadParamSize(variant, d);
  const theta = new Float64Array(n);
  const alpha = new Float64Array(n).fill(1);
  let overlapping = 0;
  let single = 0;
  for (let a = 0; a < d; a++) {
    if (a % groupSize >= half) continue;
    const b = a + half;
    const who = marks.flatMap((m, i) => (m[a] ? [i] : []));
    if (who.length === 0) continue;
    if (who.length > 1) overlapping++;
    else single++;
    if (variant === 'road_1') {
      // rotation-scalings: angles add, scales multiply (exact, order-free)
      const j = (a - (a % groupSize)) / 2 + (a % groupSize);
      for (const i of who) {
        const k = (a - (a % factors[i].groupSize)) / 2 + (a % factors[i].groupSize);
        theta[j] += weighted[i].theta[k];
        alpha[j] *= weighted[i].alpha[k];
      }
      continue;
    }
    if (who.length === 1 && factors[who[0]].groupSize === groupSize && copyBlock(weighted[who[0]], variant, groupSize, a, b, theta, alpha)) continue;
    // the product of the blocks, first factor first
    let [ca, sa, sb, cb] = [1, 0, 0, 1];
    for (const i of who) {
      const { c, s } = cols[i];
      [ca, sa, sb, cb] = [c[a] * ca - s[a] * sb, c[a] * sa + s[a] * cb, s[b] * ca + c[b] * sb, c[b] * cb - s[b] * sa];
    }
    writePolar(variant, groupSize, a, ca, sa, theta, alpha);
    writePolar(variant, groupSize, b, cb, sb, theta, alpha);
  }
  return { theta, alpha, overlapping, single, used: overlapping + single };
}

/** Element i's (c, s) as θ = atan2(s, c), α = hypot(c, s) in a road_2 or road_4 layout. */
function writePolar(variant: RoadVariant, groupSize: number, i: number, c: number, s: number, theta: Float64Array, alpha: Float64Array): void {
  const [t, r] = [Math.atan2(s, c), Math.hypot(c, s)];
  for (const e of elementEntries(variant, groupSize, i)) {
    theta[e] = t;
    alpha[e] = r;
  }
}

/** The θ/α entries that element i reads: road_2 one, road_4 its cosine and its sine entry. */
function elementEntries(variant: RoadVariant, groupSize: number, i: number): number[] {
  switch (variant) {
    case 'road_1':
      return [(i - (i % groupSize)) / 2 + ((i % groupSize) % (groupSize / 2))];
    case 'road_2':
      return [i];
    case 'road_4': {
      const base = (i - (i % groupSize)) * 2;
      return [base + (i % groupSize), base + groupSize + (i % groupSize)];
    }
  }
}

/**
 * Copies one factor's own parameters of the pair (a, b) into the output layout when they express it exactly:
 * road_1 → road_2 / road_4 and road_2 → road_4 duplicate (θ, α); equal variants copy. Returns false when the
 * factor's parametrisation does not carry over (road_4 → road_2), and the caller goes through (c, s).
 */
function copyBlock(w: { f: RoadFactor; theta: Float64Array; alpha: Float64Array }, variant: RoadVariant, groupSize: number, a: number, b: number, theta: Float64Array, alpha: Float64Array): boolean {
  if (w.f.variant === 'road_4' && variant !== 'road_4') return false;
  for (const i of [a, b]) {
    const from = elementEntries(w.f.variant, groupSize, i);
    const to = elementEntries(variant, groupSize, i);
    to.forEach((e, k) => {
      const src = from[Math.min(k, from.length - 1)];
      theta[e] = w.theta[src];
      alpha[e] = w.alpha[src];
    });
  }
  return true;
}
