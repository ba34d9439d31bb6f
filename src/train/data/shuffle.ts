// Seeded shuffles for data order: a stream per (seed, purpose, epoch), mixed with murmur3's 32-bit finalizer so
// nearby seeds and epochs give unrelated orders, feeding mulberry32 and a Fisher–Yates shuffle.

import { seededUniforms } from '../../seeded-random.ts';
import { RoadsterError } from '../../errors.ts';

/** murmur3's fmix32. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Checks that `seed` is a safe integer (the CLI and checkpoints store it as a JSON number). */
export function checkSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed)) throw new RoadsterError('E_USAGE', `${what} must be an integer, found ${seed}.`);
}

/** A 32-bit seed mixed from integers (each may use up to 53 bits). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    const low = part >>> 0;
    const high = Math.floor(part / 4294967296) >>> 0;
    h = fmix32(h ^ fmix32(low));
    h = fmix32(h ^ fmix32(high + 0x632be5ab));
  }
  return h;
}

/** Uniforms in [0, 1) for a stream named by integers. */
export function seededStream(...parts: number[]): () => number {
  return seededUniforms(mixSeed(...parts));
}

/** Shuffles `items` in place (Fisher–Yates) and returns them. */
export function shuffleInPlace<T>(items: T[], uniform: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, uniform: () => number): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), uniform);
}
