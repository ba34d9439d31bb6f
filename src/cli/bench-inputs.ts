// Shared by the `bench` commands: the median of timings and seeded random token ids.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Seeded uniform token ids in [0, vocab) (xorshift32), [batch][seq]. */
export function randomIds(batch: number, seq: number, vocab: number, seed: number): number[][] {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return Array.from({ length: batch }, () => Array.from({ length: seq }, () => Math.floor(next() * vocab)));
}
