// AdamW with PyTorch's semantics (torch.optim.AdamW, non-amsgrad): decoupled weight decay applied before the
// moment update, bias-corrected first and second moments, eps added to the corrected root:
//   p ← p·(1 − lr·wd);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//   p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + eps)
// plus global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ (coefficient max/(norm + 1e-6), ≤ 1).
// Parameters are updated in place (float32 arrays); moments are kept in float64.

import { RoadsterError } from '../errors.ts';

export interface AdamWOptions {
  readonly lr: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
}

/** The optimizer's state, serialisable for checkpoints. */
export interface AdamWState {
  step: number;
  /** Per parameter name: first and second moments. */
  readonly moments: Map<string, { m: Float64Array; v: Float64Array }>;
}

export type ParamArray = Float32Array | Float64Array;

/** ‖g‖₂ over all gradients together. */
export function globalNorm(grads: Iterable<ArrayLike<number>>): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  return Math.sqrt(sq);
}

/** clip_grad_norm_'s scale factor for gradients of total norm `norm`. */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export class AdamW {
  readonly state: AdamWState = { step: 0, moments: new Map() };
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(readonly options: AdamWOptions) {
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [name, v] of [['lr', options.lr], ['eps', this.eps], ['weight decay', this.weightDecay]] as const) {
      if (!Number.isFinite(v) || v < 0) throw new RoadsterError('E_USAGE', `AdamW ${name} must be a finite number >= 0, got ${v}`);
    }
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) {
      throw new RoadsterError('E_USAGE', `AdamW betas must lie in [0, 1), got ${this.beta1}, ${this.beta2}`);
    }
  }

  /**
   * One update of every parameter in `params` with its gradient in `grads` (same names), at learning rate
   * `lr` (the schedule's value for this step; default the constructor's) and gradient scale `gradScale`
   * (clipping and accumulation averaging). Entries where `masks` holds 0 (subspace training) are frozen: neither
   * the update nor the weight decay touches them, and their moments stay 0.
   */
  step(
    params: ReadonlyMap<string, ParamArray>,
    grads: ReadonlyMap<string, ArrayLike<number>>,
    lr = this.options.lr,
    gradScale = 1,
    masks: ReadonlyMap<string, Uint8Array> = new Map(),
  ): void {
    const t = ++this.state.step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = Math.sqrt(1 - this.beta2 ** t);
    const stepSize = lr / c1;
    const decay = 1 - lr * this.weightDecay;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g || g.length !== p.length) {
        throw new RoadsterError('E_USAGE', `AdamW: no gradient of length ${p.length} for parameter "${name}"`);
      }
      let mom = this.state.moments.get(name);
      if (!mom) this.state.moments.set(name, (mom = { m: new Float64Array(p.length), v: new Float64Array(p.length) }));
      const { m, v } = mom;
      const mask = masks.get(name);
      for (let i = 0; i < p.length; i++) {
        if (mask && !mask[i]) continue;
        const gi = g[i] * gradScale;
        m[i] = this.beta1 * m[i] + (1 - this.beta1) * gi;
        v[i] = this.beta2 * v[i] + (1 - this.beta2) * gi * gi;
        p[i] = p[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / c2 + this.eps);
      }
    }
  }
}
