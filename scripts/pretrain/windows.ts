// Token windows for pretraining: seeded random contiguous windows of the training stream (each starts at a
// uniformly drawn offset, so windows may cross document boundaries, which `<|endoftext|>` marks), and fixed,
// non-overlapping windows for evaluation.

/** mulberry32: a small seeded 32-bit generator, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws batches of `length`-token windows from `ids`, reproducibly for a seed. */
export class WindowSampler {
  private readonly next: () => number;

  constructor(
    private readonly ids: Int32Array,
    readonly length: number,
    seed: number,
  ) {
    if (ids.length < length) throw new Error(`the token stream (${ids.length} tokens) is shorter than one window (${length})`);
    this.next = mulberry32(seed ^ 0x5eed);
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
