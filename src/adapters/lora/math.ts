// LoRA on the host: PEFT's initialisations (tuners/lora/layer.py `reset_lora_parameters`, nn.Linear's default),
// the merged weight W' = W ± scaling · B A (`get_delta_weight`), and the per-row packing of a mixed batch.
// Letters: r = rank, n = in_features, d = out_features, R = the largest rank among a batch's rows.

import { seededUniforms } from '../../seeded-random.ts';
import type { LoraInit } from './config.ts';

type Floats = Float32Array | Float64Array;

/**
 * PEFT's initial A [r, n] and B [d, r], or null for an init that only a trained adapter can have.
 * kaiming_uniform(a = √5) on a [rows, fanIn] weight is U(-1/√fanIn, 1/√fanIn) (gain √(1/3), bound √3·gain/√fanIn).
 */
export function initLora(init: LoraInit, r: number, n: number, d: number, seed: number): { a: Float32Array; b: Float32Array } | null {
  const u = seededUniforms(seed);
  const kaiming = (size: number, fanIn: number) => Float32Array.from({ length: size }, () => (2 * u() - 1) / Math.sqrt(fanIn));
  switch (init) {
    case true:
      return { a: kaiming(r * n, n), b: new Float32Array(d * r) };
    case false: // nn.Linear's own init for both factors: a random adapter that is not the identity
      return { a: kaiming(r * n, n), b: kaiming(d * r, r) };
    case 'gaussian': {
      const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
      return { a: Float32Array.from({ length: r * n }, () => normal() / r), b: new Float32Array(d * r) };
    }
    case 'eva':
    case 'orthogonal':
    case 'lora_ga':
      return null;
  }
}

/**
 * W + sign · scaling · B A for W [d, n], A [r, n], B [d, r], accumulated in float64 and rounded once
 * (PEFT: `W + transpose(B @ A) * scaling` in float32; the two agree to an ulp).
 */
export function addDelta(w: Float32Array, a: Floats, b: Floats, r: number, scaling: number, sign: 1 | -1): Float32Array {
  const n = a.length / r;
  const d = b.length / r;
  const out = new Float32Array(w.length);
  const row = new Float64Array(n);
  for (let i = 0; i < d; i++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const bik = b[i * r + k];
      for (let j = 0; j < n; j++) row[j] += bik * a[k * n + j];
    }
    for (let j = 0; j < n; j++) out[i * n + j] = w[i * n + j] + sign * scaling * row[j];
  }
  return out;
}

/** One row of a mixed batch at a site: its factors and scaling, or null (base output). */
export interface LoraRow {
  readonly a: Floats; // [r, n]
  readonly b: Floats; // [d, r]
  readonly r: number;
  readonly scaling: number;
}

/**
 * Per-row factors for a batched matmul: A [rows, R, n] and Bs [rows, d, R] with scaling folded into Bs, each
 * row zero-padded from its rank to R (the padded ranks contribute 0); a null row gets zeros.
 */
export function packRows(rows: readonly (LoraRow | null)[], rank: number, n: number, d: number, dtype: 'float32' | 'float64'): { a: Floats; b: Floats } {
  const make = (size: number) => (dtype === 'float64' ? new Float64Array(size) : new Float32Array(size));
  const a = make(rows.length * rank * n);
  const b = make(rows.length * d * rank);
  rows.forEach((row, i) => {
    if (!row) return;
    a.set(row.a, i * rank * n); // the first r of R rank rows
    for (let o = 0; o < d; o++) {
      for (let k = 0; k < row.r; k++) b[(i * d + o) * rank + k] = row.scaling * row.b[o * row.r + k];
    }
  });
  return { a, b };
}
