// The evidence behind the KV-cache layout of the generation engine: one decode step of one attention layer of the
// SmolLM2-135M shape (Hkv 3, 3 query heads per KV head, head dim 64), in the two ways an ONNX graph can hold the
// cache, timed against the cached length P at batch 1 and 64:
//   read   — the engine's: past keys/values are inputs read in place (two score products, the scores
//            concatenated), and only the new position's keys/values leave the graph;
//   concat — the layout of Hugging Face ONNX exports: present = Concat(past, new) is an output, so every step
//            writes the whole cache again (and the host copies it out to feed it back).
// Prints JSON: { results: [{ layout, batch, positions, stepMs }] }.
// Run: node --import tsx scripts/bench-kv-layout.ts [--threads 2] [--runs 30]

import { concat, GraphBuilder } from '../src/graph/tracer.ts';
import { Runtime } from '../src/runtime/runtime.ts';

const HKV = 3;
const R = 3;
const D = 64;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const threads = arg('--threads', 2);
const runs = arg('--runs', 30);

function graph(layout: 'read' | 'concat') {
  const b = new GraphBuilder();
  const q = b.input('q', 'float32', ['B', HKV, R, D]); // [B, Hkv, R, D]
  const pastK = b.input('past_keys', 'float32', ['B', HKV, 'P', D]); // [B, Hkv, P, D]
  const pastV = b.input('past_values', 'float32', ['B', HKV, 'P', D]);
  const k = b.input('keys', 'float32', ['B', HKV, 1, D]); // [B, Hkv, 1, D]
  const v = b.input('values', 'float32', ['B', HKV, 1, D]);
  const bias = b.input('past_bias', 'float32', ['B', 1, 1, 'P']); // [B, 1, 1, P]
  const scale = 1 / Math.sqrt(D);
  if (layout === 'read') {
    const scores = concat([q.matmul(pastK, { transB: true }).mul(scale).add(bias), q.matmul(k, { transB: true }).mul(scale)], -1); // [B, Hkv, R, P+1]
    const [fromPast, fromNew] = scores.softmax(-1).split(-1, ['P', 1]);
    const out = fromPast.matmul(pastV).add(fromNew.matmul(v)); // [B, Hkv, R, D]
    return b.build({ out, keys_out: k.mul(1), values_out: v.mul(1) });
  }
  const presentK = concat([pastK, k], 2); // [B, Hkv, P+1, D]
  const presentV = concat([pastV, v], 2);
  const fullBias = concat([bias, b.scalar(0, 'float32').expand(['B', 1, 1, 1])], -1); // [B, 1, 1, P+1]
  const out = q.matmul(presentK, { transB: true }).mul(scale).add(fullBias).softmax(-1).matmul(presentV); // [B, Hkv, R, D]
  return b.build({ out, present_keys: presentK, present_values: presentV });
}

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 0.5;
  return a;
}

const runtime = new Runtime({ threads });
const results: { layout: string; batch: number; positions: number; stepMs: number }[] = [];
try {
  for (const layout of ['read', 'concat'] as const) {
    const compiled = await runtime.compile(graph(layout));
    for (const batch of [1, 64]) {
      for (const p of [64, 256, 1024, 2048]) {
        const t = (shape: number[]) => ({ dtype: 'float32' as const, shape, data: random(shape.reduce((x, y) => x * y, 1)) });
        const feeds = {
          q: t([batch, HKV, R, D]),
          past_keys: t([batch, HKV, p, D]),
          past_values: t([batch, HKV, p, D]),
          keys: t([batch, HKV, 1, D]),
          values: t([batch, HKV, 1, D]),
          past_bias: { dtype: 'float32' as const, shape: [batch, 1, 1, p], data: new Float32Array(batch * p) },
        };
        for (let i = 0; i < 3; i++) await compiled.run(feeds);
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          await compiled.run(feeds);
          times.push(performance.now() - t0);
        }
        times.sort((x, y) => x - y);
        results.push({ layout, batch, positions: p, stepMs: times[Math.floor(times.length / 2)] });
      }
    }
  }
} finally {
  await runtime.release();
}
console.log(JSON.stringify({ threads, runs, shape: { kvHeads: HKV, queriesPerKvHead: R, headDim: D }, results }, null, 2));
