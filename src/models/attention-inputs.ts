// Host-side preparation of the per-batch inputs every causal-LM graph takes: token ids, position ids derived
// from the attention mask (as transformers' generate does, so left padding keeps each row's positions), and
// the additive attention bias [B, 1, T, S] that encodes causality, padding and sliding windows.

import { RoadsterError } from '../errors.ts';
import type { DType } from '../graph/dtype.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';

/** The most negative finite value of each float dtype: transformers' `torch.finfo(dtype).min` mask value. */
export const MASK_VALUE: { float32: number; float64: number } = { float32: -3.4028234663852886e38, float64: -Number.MAX_VALUE };

export interface TokenBatch {
  /** [B][T] token ids; rows of one batch have equal length (pad them). */
  readonly inputIds: readonly (readonly number[])[];
  /** [B][T] 1 for real tokens, 0 for padding; all ones when omitted. */
  readonly attentionMask?: readonly (readonly number[])[];
  /**
   * [B][T] packed rows: the sequence each position belongs to (1, 2, ...; 0 for padding). Positions restart
   * at each sequence and attention stays inside it. Overrides `attentionMask`.
   */
  readonly segmentIds?: readonly (readonly number[])[];
}

function checkRect(rows: readonly (readonly number[])[], what: string, t: number): void {
  rows.forEach((r, i) => {
    if (r.length !== t) throw new RoadsterError('E_USAGE', `${what}: row ${i} has ${r.length} entries, row 0 has ${t}; pad rows to one length`);
  });
}

/** Shape [B, T] of a batch, validated. */
export function batchShape(batch: TokenBatch): [number, number] {
  const b = batch.inputIds.length;
  if (b === 0) throw new RoadsterError('E_USAGE', 'empty batch: inputIds has no rows');
  const t = batch.inputIds[0].length;
  if (t === 0) throw new RoadsterError('E_USAGE', 'inputIds rows are empty');
  checkRect(batch.inputIds, 'inputIds', t);
  for (const [what, rows] of [['attentionMask', batch.attentionMask], ['segmentIds', batch.segmentIds]] as const) {
    if (!rows) continue;
    if (rows.length !== b) throw new RoadsterError('E_USAGE', `${what} has ${rows.length} rows, inputIds ${b}`);
    checkRect(rows, what, t);
  }
  return [b, t];
}

export function int64Tensor(rows: readonly (readonly number[])[]): HostTensor {
  const [b, t] = [rows.length, rows[0].length];
  const data = new BigInt64Array(b * t);
  rows.forEach((r, i) => r.forEach((v, j) => (data[i * t + j] = BigInt(v))));
  return { dtype: 'int64', shape: [b, t], data };
}

/** Position ids: cumsum(mask) - 1, with padded positions set to 1 (transformers' generate). */
export function positionIds(batch: TokenBatch): HostTensor {
  const [b, t] = batchShape(batch);
  const data = new BigInt64Array(b * t);
  for (let i = 0; i < b; i++) {
    let seen = 0;
    for (let j = 0; j < t; j++) {
      if (batch.segmentIds && j > 0 && batch.segmentIds[i][j] !== batch.segmentIds[i][j - 1]) seen = 0;
      const real = isReal(batch, i, j);
      if (real) seen++;
      data[i * t + j] = BigInt(real ? seen - 1 : 1);
    }
  }
  return { dtype: 'int64', shape: [b, t], data };
}

function isReal(batch: TokenBatch, row: number, j: number): boolean {
  if (batch.segmentIds) return batch.segmentIds[row][j] !== 0;
  return batch.attentionMask ? batch.attentionMask[row][j] !== 0 : true;
}

/**
 * Additive attention bias [B, 1, T, T]: 0 where query j may see key k (k <= j, key not padding, same packed
 * sequence, and within `window` positions when given), the dtype's most negative value elsewhere.
 */
export function attentionBias(batch: TokenBatch, dtype: DType, window: number | null = null): HostTensor {
  const [b, t] = batchShape(batch);
  const masked = dtype === 'float64' ? MASK_VALUE.float64 : MASK_VALUE.float32;
  const data = dtype === 'float64' ? new Float64Array(b * t * t) : new Float32Array(b * t * t);
  for (let i = 0; i < b; i++) {
    for (let q = 0; q < t; q++) {
      for (let k = 0; k < t; k++) {
        const sameSequence = batch.segmentIds ? batch.segmentIds[i][k] === batch.segmentIds[i][q] : true;
        const visible = k <= q && isReal(batch, i, k) && sameSequence && (window === null || q - k < window);
        data[(i * t + q) * t + k] = visible ? 0 : masked;
      }
    }
  }
  return { dtype, shape: [b, 1, t, t], data };
}
