// RoAd on the host: the per-element columns c, s of each variant, and merging into / unmerging from a linear
// layer's weights pair by pair (no dense d×d matrix). Follows PEFT's tuners/road/layer.py (`_prepare_cols`,
// `_apply_road`, `_get_delta_weight`); the 2×2 inverse is derived in docs/road.md.
//
// Pairing: the output dimension is cut into groups of G; inside a group element k (k < G/2) pairs with k + G/2.
// y_k = c_k h_k - s_k h_{k+G/2},  y_{k+G/2} = s_{k+G/2} h_k + c_{k+G/2} h_{k+G/2}.

import { RoadsterError } from '../../errors.ts';

export type RoadVariant = 'road_1' | 'road_2' | 'road_4';
export const ROAD_VARIANTS: readonly RoadVariant[] = ['road_1', 'road_2', 'road_4'];

type Floats = Float32Array | Float64Array;

/** Entries of θ (and of α) for a layer with `outFeatures` outputs. */
export function roadParamSize(variant: RoadVariant, outFeatures: number): number {
  switch (variant) {
    case 'road_1':
      return outFeatures / 2;
    case 'road_2':
      return outFeatures;
    case 'road_4':
      return outFeatures * 2;
  }
}

/** Per-element columns c (the diagonal of R) and s (the off-diagonal sines), each of length d. */
export function roadColumns(variant: RoadVariant, groupSize: number, theta: Floats, alpha: Floats): { c: Float64Array; s: Float64Array } {
  const d = variant === 'road_1' ? theta.length * 2 : variant === 'road_2' ? theta.length : theta.length / 2;
  const c = new Float64Array(d);
  const s = new Float64Array(d);
  const half = groupSize / 2;
  for (let i = 0; i < d; i++) {
    const g = Math.floor(i / groupSize);
    const k = i % groupSize;
    switch (variant) {
      case 'road_1': {
        // one (θ, α) per pair: entry g·G/2 + (k mod G/2)
        const j = g * half + (k % half);
        c[i] = alpha[j] * Math.cos(theta[j]);
        s[i] = alpha[j] * Math.sin(theta[j]);
        break;
      }
      case 'road_2':
        c[i] = alpha[i] * Math.cos(theta[i]);
        s[i] = alpha[i] * Math.sin(theta[i]);
        break;
      case 'road_4': {
        // per group: [G entries for the cosine column | G entries for the sine column]
        const base = g * 2 * groupSize;
        c[i] = alpha[base + k] * Math.cos(theta[base + k]);
        s[i] = alpha[base + groupSize + k] * Math.sin(theta[base + groupSize + k]);
        break;
      }
    }
  }
  return { c, s };
}

/**
 * The chain rule through `roadColumns`: θ̄, ᾱ from c̄, s̄ (each of length d). With c = α cos θ and s = α sin θ
 * entry by entry, θ̄ = s̄ α cos θ − c̄ α sin θ and ᾱ = c̄ cos θ + s̄ sin θ, summed over the entries that share a
 * parameter (road_1: both elements of a pair; road_4: c reads only the cosine half, s only the sine half).
 */
export function roadColumnGrads(
  variant: RoadVariant,
  groupSize: number,
  theta: Floats,
  alpha: Floats,
  dc: Floats,
  ds: Floats,
): { dTheta: Float64Array; dAlpha: Float64Array } {
  const dTheta = new Float64Array(theta.length);
  const dAlpha = new Float64Array(alpha.length);
  const half = groupSize / 2;
  for (let i = 0; i < dc.length; i++) {
    const g = Math.floor(i / groupSize);
    const k = i % groupSize;
    // the parameter entries c[i] and s[i] read
    const [jc, js] =
      variant === 'road_1' ? [g * half + (k % half), g * half + (k % half)] : variant === 'road_2' ? [i, i] : [g * 2 * groupSize + k, g * 2 * groupSize + groupSize + k];
    const [cosC, sinC] = [Math.cos(theta[jc]), Math.sin(theta[jc])];
    dTheta[jc] -= dc[i] * alpha[jc] * sinC;
    dAlpha[jc] += dc[i] * cosC;
    const [cosS, sinS] = [Math.cos(theta[js]), Math.sin(theta[js])];
    dTheta[js] += ds[i] * alpha[js] * cosS;
    dAlpha[js] += ds[i] * sinS;
  }
  return { dTheta, dAlpha };
}

/** y = h ⊙ c + rot(h) ⊙ s for each row of h [rows, d]. */
export function applyRoadRows(h: Floats, d: number, groupSize: number, c: Floats, s: Floats): Float64Array {
  const out = new Float64Array(h.length);
  const half = groupSize / 2;
  for (let r = 0; r < h.length / d; r++) {
    const o = r * d;
    for (let i = 0; i < d; i++) {
      const k = i % groupSize;
      const rot = k < half ? -h[o + i + half] : h[o + i - half];
      out[o + i] = h[o + i] * c[i] + rot * s[i];
    }
  }
  return out;
}

/** Rows of W [d, n] (or entries of b [d] with n = 1) become R·W, in place. */
export function mergeRows(w: Floats, n: number, groupSize: number, c: Floats, s: Floats): void {
  const half = groupSize / 2;
  const d = w.length / n;
  for (let g = 0; g < d; g += groupSize) {
    for (let k = 0; k < half; k++) {
      const a = g + k;
      const b = a + half;
      for (let j = 0; j < n; j++) {
        const wa = w[a * n + j];
        const wb = w[b * n + j];
        w[a * n + j] = c[a] * wa - s[a] * wb;
        w[b * n + j] = s[b] * wa + c[b] * wb;
      }
    }
  }
}

/**
 * Rows of W become R⁻¹·W, in place. Each 2×2 block [[c_a, -s_a], [s_b, c_b]] has inverse
 * [[c_b, s_a], [-s_b, c_a]] / (c_a c_b + s_a s_b). Throws when a block is singular.
 */
export function unmergeRows(w: Floats, n: number, groupSize: number, c: Floats, s: Floats, where = 'layer'): void {
  const half = groupSize / 2;
  const d = w.length / n;
  for (let g = 0; g < d; g += groupSize) {
    for (let k = 0; k < half; k++) {
      const a = g + k;
      const b = a + half;
      const det = c[a] * c[b] + s[a] * s[b];
      if (!Number.isFinite(1 / det) || Math.abs(det) < 1e-30) {
        throw new RoadsterError('E_ADAPTER', `${where}: RoAd block at rows ${a}, ${b} is singular (determinant ${det}); cannot unmerge`);
      }
      for (let j = 0; j < n; j++) {
        const wa = w[a * n + j];
        const wb = w[b * n + j];
        w[a * n + j] = (c[b] * wa + s[a] * wb) / det;
        w[b * n + j] = (-s[b] * wa + c[a] * wb) / det;
      }
    }
  }
}

/** The dense R [d, d] (for tests and inspection only; merging never builds it). */
export function denseR(groupSize: number, c: Floats, s: Floats): Float64Array {
  const d = c.length;
  const r = new Float64Array(d * d);
  for (let i = 0; i < d; i++) r[i * d + i] = 1;
  mergeRows(r, d, groupSize, c, s);
  return r;
}
