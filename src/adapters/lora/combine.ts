// PEFT's `LoraModel.add_weighted_adapter` for LoRA, the composition baseline, with its two exact-form
// combinations (tuners/lora/model.py):
//   cat:    r = Σ rᵢ; A = [w₁s₁A₁; w₂s₂A₂; …] (rows), B = [B₁ B₂ …] (columns), so ΔW = Σ wᵢ sᵢ Bᵢ Aᵢ;
//   linear: equal ranks; A = Σ √(wᵢ sᵢ) Aᵢ, B = Σ √(wᵢ sᵢ) Bᵢ, so ΔW = (Σ √(wᵢsᵢ) Bᵢ)(Σ √(wⱼsⱼ) Aⱼ), which
//           has cross terms Bᵢ Aⱼ: not the sum of the updates.
// The new adapter has lora_alpha = r (scaling 1), as PEFT sets it. A layer an adapter does not wrap contributes
// nothing (cat: zero rows and columns in its place).

import { RoadsterError } from '../../errors.ts';
import type { SiteParams } from '../kind.ts';
import { type LoraConfig, loraScaling } from './config.ts';
import { LORA_A, LORA_B } from './kind.ts';

/** PEFT's combination types that roadster implements. */
export type LoraCombination = 'linear' | 'cat';
export const LORA_COMBINATIONS: readonly LoraCombination[] = ['linear', 'cat'];

export interface LoraFactor {
  readonly name: string;
  readonly config: LoraConfig;
  readonly params: ReadonlyMap<string, SiteParams>;
  readonly weight: number;
}

/** Combines LoRA adapters as PEFT's add_weighted_adapter does; returns the new rank and parameters per layer. */
export function combineLora(factors: readonly LoraFactor[], combination: LoraCombination): { r: number; params: Map<string, SiteParams> } {
  const ranks = factors.map((f) => f.config.r);
  // PEFT: one adapter is always combined linearly
  const how: LoraCombination = factors.length === 1 ? 'linear' : combination;
  if (how === 'linear' && new Set(ranks).size > 1) {
    throw new RoadsterError('E_ADAPTER', `LoRA linear combination needs equal ranks (PEFT's rule), got ${ranks.join(', ')}; use cat, whose rank is their sum`);
  }
  const r = how === 'cat' ? ranks.reduce((a, b) => a + b, 0) : ranks[0];
  const scale = factors.map((f) => f.weight * loraScaling(f.config));
  if (how === 'linear') {
    const bad = scale.findIndex((v) => v < 0);
    if (bad >= 0) throw new RoadsterError('E_ADAPTER', `LoRA linear combination takes √(weight · scaling); adapter "${factors[bad].name}" has weight · scaling ${scale[bad]} < 0`);
  }
  const paths = [...new Set(factors.flatMap((f) => [...f.params.keys()]))];
  const params = new Map<string, SiteParams>();
  for (const path of paths) {
    const present = factors.map((f) => f.params.get(path));
    const first = present.find((p) => p !== undefined)!;
    const n = first[LORA_A].length / factors[present.indexOf(first)].config.r; // in_features
    const d = first[LORA_B].length / factors[present.indexOf(first)].config.r; // out_features
    const a = new Float64Array(r * n); // [r, n]
    const b = new Float64Array(d * r); // [d, r]
    let offset = 0;
    factors.forEach((f, i) => {
      const p = present[i];
      const ri = f.config.r;
      if (p) {
        const [ai, bi] = [p[LORA_A], p[LORA_B]];
        if (ai.length !== ri * n || bi.length !== d * ri) {
          throw new RoadsterError('E_ADAPTER', `${path}: adapter "${f.name}" has LoRA factors of another layer shape than "${factors[0].name}"; the adapters were made for different models`);
        }
        if (how === 'cat') {
          for (let k = 0; k < ri; k++) for (let j = 0; j < n; j++) a[(offset + k) * n + j] = scale[i] * ai[k * n + j];
          for (let o = 0; o < d; o++) for (let k = 0; k < ri; k++) b[o * r + offset + k] = bi[o * ri + k];
        } else {
          const root = Math.sqrt(scale[i]);
          for (let e = 0; e < a.length; e++) a[e] += root * ai[e];
          for (let e = 0; e < b.length; e++) b[e] += root * bi[e];
        }
      }
      if (how === 'cat') offset += ri;
    });
    params.set(path, { [LORA_A]: a, [LORA_B]: b });
  }
  return { r, params };
}
