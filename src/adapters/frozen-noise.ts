// Noise on an adapter's frozen entries while it trains. Subspace training (subspace.ts) freezes the pairs outside
// the adapter's own at the identity; another adapter composed later will move exactly those pairs, and the
// trained adapter sees inputs it never met. With frozen-entry noise, every training micro-batch runs with each
// frozen entry moved by a Gaussian draw (the draws are a function of a seed, one per micro-batch, so a resumed run
// draws the same), and the entries return to their exact values after the run: the adapter learns its task under
// whatever a neighbour might do there, and the frozen entries still never change.

import { RoadsterError } from '../errors.ts';
import { mixSeed, seededNormals } from '../seeded-random.ts';

/** Noise for the frozen entries (mask 0) of an adapter's parameters. */
export interface FrozenNoise {
  /** What the noise is, for reports and the resume fingerprint (e.g. "complement noise θ 0.2, α 0.2"). */
  readonly label: string;
  /** Standard deviation of the Gaussian added to each frozen entry of parameter `param` (PEFT name); 0 leaves them. */
  sigma(param: string): number;
}

type ParamArray = Float32Array | Float64Array;

/**
 * The values added to the frozen entries for one micro-batch: N(0, sigma(param)²) per frozen entry, 0 on trainable
 * entries, drawn from `seed` (each parameter from its own stream, so the draws do not depend on the masks' order).
 */
export function frozenNoiseDraws(masks: ReadonlyMap<string, Uint8Array>, noise: FrozenNoise, seed: number): Map<string, Float64Array> {
  const draws = new Map<string, Float64Array>();
  for (const [param, mask] of masks) {
    const sigma = noise.sigma(param);
    if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RoadsterError('E_USAGE', `frozen-entry noise of ${param}: the standard deviation must be a finite number >= 0, not ${sigma}`);
    const d = new Float64Array(mask.length);
    if (sigma > 0) {
      const normal = seededNormals(mixSeed(seed, hashName(param)));
      for (let i = 0; i < mask.length; i++) if (!mask[i]) d[i] = sigma * normal();
    }
    draws.set(param, d);
  }
  return draws;
}

/**
 * Runs `fn` with `draws` added to `params` (by PEFT name, live arrays), then puts every entry back to its exact
 * value, also when `fn` throws.
 */
export async function withFrozenNoise<T>(params: ReadonlyMap<string, ParamArray>, draws: ReadonlyMap<string, Float64Array>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, ParamArray>();
  for (const [param, d] of draws) {
    const p = params.get(param);
    if (!p) throw new RoadsterError('E_USAGE', `frozen-entry noise names parameter "${param}", which the adapter does not have`);
    saved.set(param, p.slice());
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) p[i] += d[i];
  }
  try {
    return await fn();
  } finally {
    for (const [param, values] of saved) params.get(param)!.set(values);
  }
}

/** A 32-bit hash of a parameter name (FNV-1a). */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
