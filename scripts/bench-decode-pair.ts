// Paired decode timing for `bench generate`'s batch-64 case: the base model and RoAd (road_1 group 64 on all
// linear layers, 64 distinct adapters, every row on its own) as two engines in one process whose decode runs
// alternate round by round, so that the machine's drift (20-25 % an hour here) hits both alike; `bench generate`
// times each method once, one after the other. Prints one JSON object: each engine's median decode step and
// RoAd's decode tokens/s over the base model's.
//
//   npx tsx scripts/bench-decode-pair.ts [--model DIR] [--batch 64] [--rounds 20] [--new 8]

import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { randomAdapter, roadBenchConfig } from '../src/cli/commands/bench-generate.ts';
import { median, randomIds } from '../src/cli/bench-inputs.ts';
import { ensurePresetFolder } from '../src/cli/preset-cache.ts';
import { GenerationEngine } from '../src/generate/engine.ts';
import { CausalLM } from '../src/models/causal-lm.ts';
import { Runtime } from '../src/runtime/index.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, batch: { type: 'string', default: '64' }, rounds: { type: 'string', default: '20' }, new: { type: 'string', default: '8' } } });
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const newTokens = Number(values.new);
const dir = values.model ?? ensurePresetFolder('smollm2-135m', { dtype: 'F32', seed: 0 }).folder;
const model = await CausalLM.fromFolder(dir);
const runtime = new Runtime({ threads: availableParallelism(), quantizeWeights: 'none' });

const config = roadBenchConfig(model);
const adapters = Array.from({ length: batch }, (_, a) => randomAdapter(model, config, `road-${a}`, 1 + a));
const engines = (['base', 'road'] as const).map((method) => {
  const steps: number[] = [];
  const engine = new GenerationEngine(model, runtime, {
    maxBatch: batch,
    maxLoadedAdapters: batch,
    maxModelLen: 128,
    eosTokenIds: [],
    onStep: (s) => s.kind === 'decode' && steps.push(s.ms),
  });
  if (method === 'road') for (const a of adapters) engine.adapters.add(a);
  return { name: method, engine, steps, road: method === 'road' };
});
const requests = (road: boolean, seed: number, n: number) =>
  randomIds(batch, 32, model.config.vocabSize, seed).map((ids, i) => ({ promptIds: ids, adapter: road ? `road-${i}` : null, maxTokens: n, sampling: { temperature: 0 }, ignoreEos: true }));
for (const e of engines) await e.engine.generate(requests(e.road, 1, 2)); // compile
for (const e of engines) e.steps.length = 0;
for (let r = 0; r < rounds; r++) for (const e of engines) await e.engine.generate(requests(e.road, 2 + r, newTokens));
const ms = Object.fromEntries(engines.map((e) => [e.name, Math.round(median(e.steps) * 100) / 100]));
const perRound = (e: (typeof engines)[number]) => Array.from({ length: rounds }, (_, r) => median(e.steps.slice((r * e.steps.length) / rounds, ((r + 1) * e.steps.length) / rounds)));
const [base, road] = engines.map(perRound);
console.log(JSON.stringify({
  batch,
  adapters: batch,
  rounds,
  decodeSteps: engines[0].steps.length,
  stepMsMedian: ms,
  roadOverBase: Math.round((ms.base / ms.road) * 1000) / 1000, // RoAd's decode tokens/s over the base model's
  roadOverBasePerRound: base.map((b, r) => Math.round((b / road[r]) * 1000) / 1000),
  roadOverBaseMedianOfRounds: Math.round(median(base.map((b, r) => b / road[r])) * 1000) / 1000,
}));
for (const e of engines) await e.engine.close();
await runtime.release();
