// Partial selection over a vocabulary without sorting it: the arg-max, and the k largest values through a
// size-k min-heap (O(V log k)), for top-k and the logprobs alternatives. One order everywhere: value
// descending, index ascending on ties, so every choice is deterministic and ties go to the first index (as
// torch.argmax).

/** True when index a ranks before index b: larger value, or equal value and smaller index. */
function before(values: ArrayLike<number>, a: number, b: number): boolean {
  const va = values[a];
  const vb = values[b];
  return va > vb || (va === vb && a < b);
}

/** Index of the largest value; the first one on ties (as torch.argmax). NaN values are never chosen. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * The k indices with the largest values, best first (value descending, index ascending on ties).
 * @param out buffer of at least k entries to fill (reused across calls); the result is a view on it
 */
export function topIndices(values: ArrayLike<number>, k: number, out: Int32Array = new Int32Array(k)): Int32Array {
  const n = values.length;
  k = Math.min(k, n);
  const heap = out.subarray(0, k); // min-heap: heap[0] is the worst kept index
  // Fill with the first k indices, then heapify so the root is the worst.
  for (let i = 0; i < k; i++) heap[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDownWorst(values, heap, i, k);
  for (let i = k; i < n; i++) {
    // Indices come in ascending order, so an equal value never beats the root (which has a smaller index).
    if (values[i] > values[heap[0]]) {
      heap[0] = i;
      siftDownWorst(values, heap, 0, k);
    }
  }
  // Pop the worst to the back: the array ends up best first.
  for (let end = k - 1; end > 0; end--) {
    const worst = heap[0];
    heap[0] = heap[end];
    heap[end] = worst;
    siftDownWorst(values, heap, 0, end);
  }
  return heap;
}

/** Restores the min-heap (worst at the root) below position i of heap[0, size). */
function siftDownWorst(values: ArrayLike<number>, heap: Int32Array, i: number, size: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) return;
    const r = l + 1;
    // The child that ranks last is the one to move up.
    const c = r < size && before(values, heap[l], heap[r]) ? r : l;
    if (!before(values, heap[i], heap[c])) return;
    const t = heap[i];
    heap[i] = heap[c];
    heap[c] = t;
    i = c;
  }
}
