// The KV cache of the generation engine: per layer, one preallocated keys buffer and one values buffer of
// [rows, Hkv, capacity, D] floats in host memory. The decode graph reads the first n rows as its past_keys /
// past_values inputs without a copy (ONNX Runtime tensors view the host arrays), and only the new positions'
// keys and values ([n, Hkv, 1, D] per layer) are written back after each step. Running rows are kept packed at
// the front: a finished row is replaced by the last one. The capacity (P, the cached positions every row has
// room for) grows by doubling when a row needs more and halves when every row fits in a quarter, so a step
// reads at most twice the longest row's positions; BENCHMARKS.md measures the alternatives.
//
// Each row's entries are its real tokens in order (a batched prefill's left padding is not stored), so a row's
// cache does not depend on what it was prefilled with; `positions` holds each entry's position id (-1 for
// unused entries), from which the attention bias of the next step is built.

import { RoadsterError, assert } from '../errors.ts';
import { MASK_VALUE } from '../models/attention-inputs.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';

export interface KvCacheShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Rows (concurrent sequences) the cache holds. */
  readonly rows: number;
  /** Largest capacity in positions (the model's context). */
  readonly maxPositions: number;
  /** Smallest capacity (default 64). */
  readonly minPositions?: number;
}

/** A layer's new keys or values from a graph run: [B, Hkv, T, D]. */
type LayerOutput = Float32Array;

export class KvCache {
  private capacity: number;
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  /** [rows, capacity] position id of each entry, -1 where there is none. */
  private positions: Int32Array;
  /** Entries written per row. */
  private readonly lengths: Int32Array;
  private readonly minPositions: number;

  constructor(readonly shape: KvCacheShape) {
    this.minPositions = Math.min(shape.minPositions ?? 64, shape.maxPositions);
    this.capacity = this.minPositions;
    this.lengths = new Int32Array(shape.rows);
    this.positions = new Int32Array(shape.rows * this.capacity).fill(-1);
    this.allocate();
  }

  /** Positions every row has room for (P of the decode graph). */
  get positionsPerRow(): number {
    return this.capacity;
  }

  /** Entries written in `row`. */
  length(row: number): number {
    return this.lengths[row];
  }

  /** Cached entries in use over the first `n` rows, and the bytes the buffers hold. */
  usage(n: number): { entries: number; bytes: number } {
    let entries = 0;
    for (let r = 0; r < n; r++) entries += this.lengths[r];
    return { entries, bytes: 2 * this.keys.length * this.keys[0].byteLength };
  }

  private rowStride(): number {
    return this.shape.kvHeads * this.capacity * this.shape.headDim;
  }

  private allocate(): void {
    const size = this.shape.rows * this.rowStride();
    this.keys = Array.from({ length: this.shape.layers }, () => new Float32Array(size));
    this.values = Array.from({ length: this.shape.layers }, () => new Float32Array(size));
  }

  /** Makes room for `needed` entries in every row, keeping the first `n` rows' contents. */
  reserve(needed: number, n: number): void {
    if (needed > this.shape.maxPositions) {
      throw new RoadsterError('E_USAGE', `a sequence of ${needed} positions exceeds the engine's context of ${this.shape.maxPositions}`);
    }
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    let longest = needed;
    for (let r = 0; r < n; r++) longest = Math.max(longest, this.lengths[r]);
    while (capacity > this.minPositions && longest <= capacity / 4) capacity /= 2;
    capacity = Math.min(Math.max(capacity, this.minPositions), this.shape.maxPositions);
    if (capacity !== this.capacity) this.resize(capacity, n);
  }

  private resize(capacity: number, n: number): void {
    const { kvHeads: h, headDim: d, rows } = this.shape;
    const [oldKeys, oldValues, oldPositions, oldCapacity] = [this.keys, this.values, this.positions, this.capacity];
    this.capacity = capacity;
    this.allocate();
    this.positions = new Int32Array(rows * capacity).fill(-1);
    const keep = Math.min(oldCapacity, capacity);
    for (let r = 0; r < n; r++) {
      assert(this.lengths[r] <= capacity, `row ${r} holds ${this.lengths[r]} entries, more than the new capacity ${capacity}`);
      this.positions.set(oldPositions.subarray(r * oldCapacity, r * oldCapacity + keep), r * capacity);
      for (let l = 0; l < this.shape.layers; l++) {
        for (let k = 0; k < h; k++) {
          const from = (r * h + k) * oldCapacity * d;
          const to = (r * h + k) * capacity * d;
          this.keys[l].set(oldKeys[l].subarray(from, from + keep * d), to);
          this.values[l].set(oldValues[l].subarray(from, from + keep * d), to);
        }
      }
    }
  }

  /**
   * Appends entries to `row` from a graph run's outputs (per layer [B, Hkv, T, D], this row at `batchRow`): the
   * positions `from`..T-1 (the first `from` are left padding, which is not stored), whose position ids are
   * `positions`.
   */
  append(row: number, keys: readonly LayerOutput[], values: readonly LayerOutput[], batchRow: number, t: number, from: number, positions: readonly number[]): void {
    const { kvHeads: h, headDim: d } = this.shape;
    const count = t - from;
    assert(positions.length === count, `${positions.length} position ids for ${count} entries`);
    const start = this.lengths[row];
    assert(start + count <= this.capacity, `row ${row}: ${start + count} entries exceed the capacity ${this.capacity}; reserve first`);
    for (let l = 0; l < keys.length; l++) {
      for (let k = 0; k < h; k++) {
        const source = ((batchRow * h + k) * t + from) * d;
        const to = ((row * h + k) * this.capacity + start) * d;
        this.keys[l].set(keys[l].subarray(source, source + count * d), to);
        this.values[l].set(values[l].subarray(source, source + count * d), to);
      }
    }
    positions.forEach((p, j) => (this.positions[row * this.capacity + start + j] = p));
    this.lengths[row] = start + count;
  }

  /** Moves row `from`'s entries to row `to` (to keep running rows packed) and empties `from`. */
  move(from: number, to: number): void {
    if (from !== to) {
      const stride = this.rowStride();
      for (let l = 0; l < this.shape.layers; l++) {
        this.keys[l].copyWithin(to * stride, from * stride, (from + 1) * stride);
        this.values[l].copyWithin(to * stride, from * stride, (from + 1) * stride);
      }
      this.positions.copyWithin(to * this.capacity, from * this.capacity, (from + 1) * this.capacity);
      this.lengths[to] = this.lengths[from];
    }
    this.clear(from);
  }

  /** Empties `row`. */
  clear(row: number): void {
    this.lengths[row] = 0;
    this.positions.fill(-1, row * this.capacity, (row + 1) * this.capacity);
  }

  /** The decode graph's cache inputs for the first `n` rows: views, no copy. */
  feeds(n: number, names: { keys: (layer: number) => string; values: (layer: number) => string }): Record<string, HostTensor> {
    const { kvHeads: h, headDim: d } = this.shape;
    const size = n * this.rowStride();
    const shape = [n, h, this.capacity, d];
    const feeds: Record<string, HostTensor> = {};
    for (let l = 0; l < this.shape.layers; l++) {
      feeds[names.keys(l)] = { dtype: 'float32', shape, data: this.keys[l].subarray(0, size) };
      feeds[names.values(l)] = { dtype: 'float32', shape, data: this.values[l].subarray(0, size) };
    }
    return feeds;
  }

  /**
   * The decode step's attention bias over the cached entries, [n, 1, 1, P], for one new token per row at
   * `queryPositions[r]`: 0 for the row's entries (within `window` positions when given), masked elsewhere.
   */
  pastBias(n: number, queryPositions: readonly number[], window: number | null = null): HostTensor {
    const p = this.capacity;
    const data = new Float32Array(n * p).fill(MASK_VALUE.float32);
    for (let r = 0; r < n; r++) {
      const q = queryPositions[r];
      for (let j = 0; j < this.lengths[r]; j++) {
        const k = this.positions[r * p + j];
        if (k >= 0 && k <= q && (window === null || q - k < window)) data[r * p + j] = 0;
      }
    }
    return { dtype: 'float32', shape: [n, 1, 1, p], data };
  }
}
