// LoRA dropout in training (PEFT's `lora_dropout`: the LoRA branch reads dropout(x), each kept entry scaled by
// 1 / (1 - p)), without a random op in the graph. Each site multiplies x [B, T, n] by rows of a fixed table of
// masks [S, n] (entries 0 or 1 / (1 - p), drawn once from a seed that depends only on p and n): a graph input
// [B, T] picks one table row per token, and the host draws those row numbers from the step's seed. A step's
// masks are therefore a function of its seed, which is what makes an interrupted run resume bit for bit.
// Letters: B batch, T positions, n in_features, S table rows.

import { RoadsterError } from '../../errors.ts';
import type { DType } from '../../graph/dtype.ts';
import type { GraphBuilder, Tensor } from '../../graph/tracer.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import { mixSeed, seededUniforms } from '../../seeded-random.ts';

/** Rows of each mask table: a token's mask is one of these, drawn independently per site and token. */
export const DROPOUT_TABLE_ROWS = 4096;

/** The mask table [S, n] of dropout rate `p` (0 ≤ p < 1): entries 0 with probability p, else 1 / (1 - p). */
export function dropoutTable(p: number, n: number, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  if (!(p >= 0 && p < 1)) throw new RoadsterError('E_USAGE', `dropout rate must be in [0, 1), got ${p}`);
  const uniform = seededUniforms(mixSeed(0x5eed_d20f, Math.round(p * 1e9), n));
  const table = dtype === 'float64' ? new Float64Array(DROPOUT_TABLE_ROWS * n) : new Float32Array(DROPOUT_TABLE_ROWS * n);
  const kept = 1 / (1 - p);
  for (let i = 0; i < table.length; i++) table[i] = uniform() < p ? 0 : kept;
  return table;
}

/** The graph input that picks the mask rows of adapter slot `slot` at `path`: [B, T] int64. */
export function dropoutRowsInputName(slot: number, path: string): string {
  return `dropout.${slot}.${path}`;
}

/**
 * The traced dropout of one site: x [..., n] times table rows picked by the input [...] (one row per token).
 * Tables are shared between the sites of a graph with the same p and n.
 */
export function tracedDropout(b: GraphBuilder, tables: Map<string, Tensor>, dtype: DType, slot: number, path: string) {
  return (x: Tensor, p: number): Tensor => {
    const n = x.shape.at(-1);
    if (typeof n !== 'number') throw new RoadsterError('E_SHAPE', `${path}: dropout needs a static feature dim, got "${n}"`);
    if (dtype !== 'float32' && dtype !== 'float64') throw new RoadsterError('E_DTYPE', `${path}: dropout runs in float32 or float64, not ${dtype}`);
    const key = `${p}:${n}`;
    let table = tables.get(key);
    if (!table) tables.set(key, (table = b.initializer(`lora_dropout.table.p${p}.n${n}`, dropoutTable(p, n, dtype), [DROPOUT_TABLE_ROWS, n]))); // [S, n]
    const rows = b.input(dropoutRowsInputName(slot, path), 'int64', x.shape.slice(0, -1)); // [...]
    return x.mul(table.gather(rows, 0)); // [..., n]
  };
}

/** Row numbers for one site's input of `shape` ([B, T]): draws in [0, S) from `seed`. */
export function dropoutRows(seed: number, shape: readonly number[]): HostTensor {
  const uniform = seededUniforms(seed);
  const data = new BigInt64Array(shape.reduce((a, d) => a * d, 1));
  for (let i = 0; i < data.length; i++) data[i] = BigInt(Math.floor(uniform() * DROPOUT_TABLE_ROWS));
  return { dtype: 'int64', shape: [...shape], data };
}
