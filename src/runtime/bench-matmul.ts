// Matmul throughput of the runtime: x[m,k] (a graph input) @ W (an initializer [k,n], or [n,k] with transB),
// median wall time per run over `iters` after `warmup` runs, as GFLOP/s (with `quantize: "int8"`, W is an int8
// weight and the FLOPs are counted as for float32). Used to check that sessions reach the
// speeds docs/design.md records (1 / 2 threads: 140–180 / 200–330 GFLOP/s on 2 AVX-512 cores).

import { GraphBuilder } from '../graph/tracer.ts';
import { float32 } from './host-tensor.ts';
import { type QuantizeWeights, Runtime } from './runtime.ts';

/** One matmul shape: x[m,k] @ W[k,n] (W stored as [n,k] when transB). */
export interface BenchCase {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transB?: boolean;
}

/** Timing of one case at one thread count. */
export interface BenchResult {
  readonly case: BenchCase;
  readonly threads: number;
  readonly medianMs: number;
  readonly gflops: number;
}

/** The shapes of the engine comparison in docs/design.md (SmolLM2-135M projections and a square one). */
export const DEFAULT_BENCH_CASES: readonly BenchCase[] = [
  { m: 512, k: 576, n: 1536 },
  { m: 512, k: 1536, n: 576 },
  { m: 1024, k: 1024, n: 1024 },
  { m: 512, k: 576, n: 1536, transB: true },
];

function randomFloat32(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Times each case at each thread count; returns plain objects (the CLI prints them as JSON). */
export async function benchMatmul(
  opts: { threads?: number | readonly number[]; cases?: readonly BenchCase[]; warmup?: number; iters?: number; quantize?: QuantizeWeights } = {},
): Promise<BenchResult[]> {
  const threadCounts = opts.threads === undefined ? [1, 2] : typeof opts.threads === 'number' ? [opts.threads] : opts.threads;
  const cases = opts.cases ?? DEFAULT_BENCH_CASES;
  const warmup = opts.warmup ?? 5;
  const iters = opts.iters ?? 20;
  const results: BenchResult[] = [];
  for (const threads of threadCounts) {
    const runtime = new Runtime({ threads, quantizeWeights: opts.quantize ?? 'none' });
    try {
      for (const c of cases) {
        const b = new GraphBuilder();
        const x = b.input('x', 'float32', [c.m, c.k]);
        const w = b.initializer('W', randomFloat32(c.k * c.n, 7), c.transB ? [c.n, c.k] : [c.k, c.n]);
        const compiled = await runtime.compile(b.build({ y: x.matmul(w, { transB: c.transB ?? false }) }));
        const feeds = { x: float32([c.m, c.k], randomFloat32(c.m * c.k, 11)) };
        for (let i = 0; i < warmup; i++) await compiled.run(feeds);
        const times: number[] = [];
        for (let i = 0; i < iters; i++) {
          const t0 = process.hrtime.bigint();
          await compiled.run(feeds);
          times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        const medianMs = median(times);
        results.push({ case: { ...c, transB: c.transB ?? false }, threads, medianMs, gflops: (2 * c.m * c.k * c.n) / (medianMs * 1e6) });
      }
    } finally {
      await runtime.release();
    }
  }
  return results;
}
