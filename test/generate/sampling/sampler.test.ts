// The Sampler: greedy equals the arg-max of the penalised logits, log-probabilities are the raw log-softmax,
// seeded draws are reproducible and independent of other requests, and they follow the filtered distribution
// (chi-square goodness of fit at p = 0.001, at a fixed seed so the test cannot flake).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOLERANCE, assertAllClose } from '../../support/all-close.ts';
import { Rng } from '../../support/random.ts';
import { RoadsterError } from '../../../src/errors.ts';
import { FilterWorkspace, filteredDistribution } from '../../../src/generate/sampling/filters.ts';
import { samplingParams, type SamplingParams } from '../../../src/generate/sampling/params.ts';
import { applyPenalties } from '../../../src/generate/sampling/penalties.ts';
import { Sampler, logSumExp } from '../../../src/generate/sampling/sampler.ts';

function randomLogits(rng: Rng, v: number, scale = 3): Float32Array {
  return Float32Array.from({ length: v }, () => rng.normal() * scale);
}

function logSoftmax(logits: ArrayLike<number>): number[] {
  const x = Array.from(logits);
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((s, l) => s + Math.exp(l - m), 0));
  return x.map((l) => l - lse);
}

/** Tokens drawn by a fresh sampler over the same logits, step after step. */
function draws(params: SamplingParams, logits: Float32Array, n: number): number[] {
  const sampler = new Sampler(params, []);
  return Array.from({ length: n }, () => sampler.choose(logits).token);
}

test('temperature 0: the arg-max, first index on ties, with no random number used', () => {
  const sampler = new Sampler(samplingParams({ temperature: 0 }), []);
  assert.equal(sampler.choose(new Float32Array([0, 2, 5, 5, 1])).token, 2);
  assert.equal(sampler.choose(new Float64Array([-1, -1, -3])).token, 0);
  const rng = new Rng(1);
  for (let i = 0; i < 20; i++) {
    const logits = randomLogits(rng, 100);
    const expected = logits.indexOf(Math.max(...logits));
    assert.equal(sampler.choose(logits).token, expected);
  }
});

test('temperature 0 with penalties: the arg-max of the penalised logits', () => {
  const logits = new Float32Array([3, 2.5, 1, 0]);
  const params = samplingParams({ temperature: 0, repetitionPenalty: 1.5, presencePenalty: 1 });
  const sampler = new Sampler(params, [0]);
  // 3 / 1.5 = 2 < 2.5: the repeated prompt token loses to token 1.
  assert.equal(sampler.choose(logits).token, 1);
  // Now 1 is generated too: 2.5 / 1.5 - 1 = 0.67 < 2 -> token 0 again.
  assert.equal(sampler.choose(logits).token, 0);
  const history = [1, 0];
  const expected = applyPenalties(logits, params, [0], history);
  const token = sampler.choose(logits).token;
  assert.equal(token, expected.indexOf(Math.max(...expected)));
});

test('logprobs: the log-softmax of the raw logits, whatever the temperature and penalties; top-n sorted', () => {
  const rng = new Rng(2);
  const logits = randomLogits(rng, 500);
  logits[17] = logits[18] = 20; // a tie at the top: smaller id first
  const raw = logSoftmax(logits);
  const params = samplingParams({ temperature: 0.7, topK: 40, repetitionPenalty: 1.3, frequencyPenalty: 0.5, logprobs: 20, seed: 9 });
  const sampler = new Sampler(params, [17, 3]);
  for (let step = 0; step < 5; step++) {
    const choice = sampler.choose(logits);
    assertAllClose([choice.logprob], [raw[choice.token]], TOLERANCE.float64, 'chosen logprob');
    assert.equal(choice.top.length, 20);
    const expected = raw.map((logprob, token) => ({ token, logprob })).sort((a, b) => b.logprob - a.logprob || a.token - b.token);
    assert.deepEqual(choice.top.map((t) => t.token), expected.slice(0, 20).map((t) => t.token));
    assertAllClose(choice.top.map((t) => t.logprob), expected.slice(0, 20).map((t) => t.logprob), TOLERANCE.float64);
  }
  assert.deepEqual(new Sampler(samplingParams({ seed: 1 }), []).choose(logits).top, []);
  assertAllClose([logSumExp([1000, 1000])], [1000 + Math.log(2)], TOLERANCE.float64);
});

test('logprobs on every path: temperature 1 unpenalised (mass reused), greedy, top-k, and a caller-given log-sum-exp', () => {
  const rng = new Rng(8);
  const logits = randomLogits(rng, 3000);
  const raw = logSoftmax(logits);
  for (const partial of [{}, { temperature: 0 }, { topK: 5 }, { minP: 0.1 }, { topP: 0.8 }, { temperature: 0, repetitionPenalty: 1.5 }]) {
    const sampler = new Sampler(samplingParams({ ...partial, seed: 3, logprobs: 2 }), [1, 2]);
    for (let step = 0; step < 3; step++) {
      const choice = sampler.choose(logits);
      assertAllClose([choice.logprob, ...choice.top.map((t) => t.logprob)], [raw[choice.token], ...choice.top.map((t) => raw[t.token])],
        TOLERANCE.float64, JSON.stringify(partial));
    }
  }
  // A log-sum-exp from the model graph is used as given (here off by one on purpose, to see it used).
  const given = new Sampler(samplingParams({ temperature: 0 }), []).choose(logits, logSumExp(logits) + 1);
  assertAllClose([given.logprob], [raw[given.token] - 1], TOLERANCE.float64);
});

test('the logits are never modified', () => {
  const logits = randomLogits(new Rng(3), 64);
  const copy = logits.slice();
  const sampler = new Sampler(samplingParams({ temperature: 0.5, topP: 0.9, repetitionPenalty: 2, presencePenalty: 1, seed: 4 }), [1, 2, 3]);
  for (let i = 0; i < 5; i++) sampler.choose(logits);
  assert.deepEqual(logits, copy);
});

test('seeds: the same seed gives the same tokens; others differ; a null seed is reported and reproduces', () => {
  const rng = new Rng(4);
  const steps = Array.from({ length: 40 }, () => randomLogits(rng, 1000, 1));
  const run = (params: SamplingParams): { tokens: number[]; seed: number } => {
    const sampler = new Sampler(params, [5, 6]);
    return { tokens: steps.map((l) => sampler.choose(l).token), seed: sampler.seed };
  };
  const base = { temperature: 1.2, topP: 0.95, repetitionPenalty: 1.1 };
  const a = run(samplingParams({ ...base, seed: 42 }));
  assert.deepEqual(run(samplingParams({ ...base, seed: 42 })).tokens, a.tokens);
  assert.notDeepEqual(run(samplingParams({ ...base, seed: 43 })).tokens, a.tokens);
  assert.notDeepEqual(run(samplingParams({ ...base, seed: 42 + 2 ** 32 })).tokens, a.tokens);
  assert.notDeepEqual(run(samplingParams({ ...base, seed: -42 })).tokens, a.tokens);
  const fresh = run(samplingParams({ ...base, seed: null }));
  assert.ok(Number.isInteger(fresh.seed) && fresh.seed >= 0 && fresh.seed < 2 ** 32);
  assert.deepEqual(run(samplingParams({ ...base, seed: fresh.seed })).tokens, fresh.tokens);
});

test('a seeded request draws the same tokens whatever else shares the batch', () => {
  const rng = new Rng(5);
  const v = 300;
  const params = samplingParams({ temperature: 0.9, topK: 50, seed: 7 });
  const alone = new Sampler(params, [1]);
  // The batch shares one workspace, as the engine does.
  const shared = new FilterWorkspace();
  const inBatch = new Sampler(params, [1], shared);
  const others = [1, 2, 3].map((s) => new Sampler(samplingParams({ temperature: 1.5, seed: s, minP: 0.01, topP: 0.5 }), [2], shared));
  for (let step = 0; step < 30; step++) {
    const logits = randomLogits(rng, v);
    const expected = alone.choose(logits).token;
    // The batch: other rows before and after, each with their own logits.
    for (const other of others) other.choose(randomLogits(rng, v));
    assert.equal(inBatch.choose(logits).token, expected, `step ${step}`);
  }
});

test('filters are obeyed: top-k 1 is greedy; sampled tokens always lie in the kept set', () => {
  const rng = new Rng(6);
  const logits = randomLogits(rng, 2000);
  const argmax = logits.indexOf(Math.max(...logits));
  assert.ok(draws(samplingParams({ topK: 1, seed: 1 }), logits, 50).every((t) => t === argmax));
  const params = samplingParams({ temperature: 1.5, topP: 0.5, minP: 0.05, seed: 2 });
  const allowed = filteredDistribution(logits, params);
  for (const t of draws(params, logits, 2000)) assert.ok(allowed[t] > 0, `token ${t} was filtered out`);
});

/** Chi-square critical values at p = 0.001 by degrees of freedom (scipy.stats.chi2.ppf(0.999, df)). */
const CHI2_999: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515, 6: 22.458, 7: 24.322, 8: 26.124, 9: 27.877, 10: 29.588, 11: 31.264, 12: 32.909 };

function chiSquare(params: SamplingParams, logits: Float32Array, n: number): { statistic: number; df: number } {
  const expected = filteredDistribution(logits, params);
  const counts = new Float64Array(logits.length);
  for (const t of draws(params, logits, n)) counts[t]++;
  let statistic = 0;
  let bins = 0;
  for (let i = 0; i < logits.length; i++) {
    if (expected[i] === 0) {
      assert.equal(counts[i], 0, `token ${i} has probability 0 but was drawn`);
      continue;
    }
    bins++;
    statistic += (counts[i] - n * expected[i]) ** 2 / (n * expected[i]);
  }
  return { statistic, df: bins - 1 };
}

test('chi-square: 20,000 seeded draws with temperature and top-p fit the filtered distribution', () => {
  const logits = new Float32Array([1.0, 2.2, -0.5, 0.3, 1.7, -2.0, 0.9, 2.0, -1.0, 0.0]);
  const params = samplingParams({ temperature: 0.8, topP: 0.9, seed: 2024 });
  const { statistic, df } = chiSquare(params, logits, 20_000);
  assert.ok(df >= 4 && df <= 8, `df ${df}`);
  assert.ok(statistic < CHI2_999[df], `chi-square ${statistic.toFixed(2)} >= ${CHI2_999[df]} (df ${df})`);
});

test('chi-square: top-k and min-p over a larger vocabulary', () => {
  const logits = randomLogits(new Rng(7), 1000, 2);
  const params = samplingParams({ temperature: 1.3, topK: 12, minP: 0.02, seed: 99 });
  const { statistic, df } = chiSquare(params, logits, 20_000);
  assert.ok(df >= 4 && df <= 11, `df ${df}`);
  assert.ok(statistic < CHI2_999[df], `chi-square ${statistic.toFixed(2)} >= ${CHI2_999[df]} (df ${df})`);
});

test('a prompt token outside the vocabulary is an E_USAGE', () => {
  const sampler = new Sampler(samplingParams({ repetitionPenalty: 1.2 }), [3, 10]);
  assert.throws(() => sampler.choose(new Float32Array(5)), (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE');
});
