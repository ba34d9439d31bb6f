// Micro-benchmark of Sampler.choose at the engine's size (V = 49,152 logits, 64 rows per step, one shared
// workspace), one line per parameter set. Not a test: timings depend on the machine and are only printed.
//   node --import tsx src/generate/sampling/bench-sampler.ts [rows] [steps]

import { seededNormals } from '../../seeded-random.ts';
import { samplingParams, type SamplingParams } from './params.ts';
import { FilterWorkspace } from './filters.ts';
import { Sampler } from './sampler.ts';

const V = 49_152;

const CASES: Record<string, Partial<SamplingParams>> = {
  greedy: { temperature: 0 },
  'temperature 1': {},
  'temperature 0.7': { temperature: 0.7 },
  'top-k 50': { temperature: 0.7, topK: 50 },
  'top-p 0.9': { temperature: 0.7, topP: 0.9 },
  'top-p 0.9 (flat, T 2)': { temperature: 2, topP: 0.9 },
  'min-p 0.05': { temperature: 0.7, minP: 0.05 },
  'penalties + top-p + 5 logprobs': {
    temperature: 0.7, topP: 0.9, repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: 0.5, logprobs: 5,
  },
};

function main(): void {
  const rows = Number(process.argv[2] ?? 64);
  const steps = Number(process.argv[3] ?? 10);
  const normal = seededNormals(1);
  // Model-like logits: a few strong candidates over a broad, low floor.
  const logits = Array.from({ length: rows }, () => Float32Array.from({ length: V }, () => normal() * 2.5));
  const prompt = Array.from({ length: 512 }, (_, i) => (i * 7919) % V);
  for (const [name, partial] of Object.entries(CASES)) {
    const shared = new FilterWorkspace(); // one set of buffers for the batch, as the engine would
    const samplers = logits.map((_, r) => new Sampler(samplingParams({ ...partial, seed: r }), prompt, shared));
    for (const [r, s] of samplers.entries()) s.choose(logits[r]); // warm up
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let step = 0; step < steps; step++) for (const [r, s] of samplers.entries()) s.choose(logits[r]);
    const ms = Number(process.hrtime.bigint() - start) / 1e6 / steps;
    const used = process.cpuUsage(cpu);
    // CPU time too: on a shared machine the wall clock also counts other processes.
    const cpuMs = (used.user + used.system) / 1e3 / steps;
    const perRow = ((cpuMs / rows) * 1000).toFixed(0).padStart(6);
    console.log(`${name.padEnd(32)} ${ms.toFixed(2).padStart(8)} ms/step wall, ${cpuMs.toFixed(2).padStart(8)} ms CPU ` +
      `(${rows} rows, ${perRow} us CPU/row)`);
  }
}

main();
