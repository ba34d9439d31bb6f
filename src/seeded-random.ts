// Seeded random numbers (mulberry32 and Box–Muller) shared by every layer: adapter inits, random model weights,
// data order and pretraining windows, so one seed reproduces a run.

/** Uniforms in [0, 1). */
export function seededUniforms(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normals. */
export function seededNormals(seed: number): () => number {
  const u = seededUniforms(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** A 32-bit seed from several integers (a murmur3-style mix of each in turn). */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x9e37_79b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85eb_ca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2_ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
