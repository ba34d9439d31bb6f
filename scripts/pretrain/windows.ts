// Token windows for pretraining: seeded random contiguous windows of the training stream (each starts at a
// uniformly drawn offset, so windows may cross document boundaries, which `<|endoftext|>` marks), and fixed,
// non-overlapping windows for evaluation.

import { seededUniforms } from '../../src/seeded-random.ts';

/** Draws batches of `length`-token windows from `ids`, reproducibly for a seed. */
export class WindowSampler {
  private readonly next: () => number;

  constructor(
    private readonly ids: Int32Array,
    readonly length: number,
    seed: number,
  ) {
    if (ids.length < length) throw new Error(`the token stream (${ids.length} tokens) is shorter than one window (${length})`);
    this.next = seededUniforms(seed ^ 0x5eed);
  }

  /** `rows` windows, each a view into the stream. */
  batch(rows: number): Int32Array[] {
    return Array.from({ length: rows }, () => {
      const start = Math.floor(this.next() * (this.ids.length - this.length + 1));
      return this.ids.subarray(start, start + this.length);
    });
  }
}

/**
 * Up to `maxWindows` non-overlapping windows spread evenly over `ids`, grouped into batches of `batch` rows
 * (the last batch may be smaller).
 */
export function evalWindows(ids: Int32Array, length: number, batch: number, maxWindows: number): Int32Array[][] {
  const available = Math.floor(ids.length / length);
  const count = Math.min(available, maxWindows);
  if (count === 0) throw new Error(`the token stream (${ids.length} tokens) is shorter than one window (${length})`);
  const stride = Math.floor(available / count) * length;
  const windows = Array.from({ length: count }, (_, i) => ids.subarray(i * stride, i * stride + length));
  const out: Int32Array[][] = [];
  for (let i = 0; i < windows.length; i += batch) out.push(windows.slice(i, i + batch));
  return out;
}
