// Temperature, top-k, top-p and min-p keep exactly the mass they should: hand-computed distributions on fixed
// probabilities, and a full-sort reference (the textbook definitions, vLLM's order) on random logits.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOLERANCE, assertAllClose } from '../../support/all-close.ts';
import { Rng } from '../../support/random.ts';
import { filteredDistribution } from '../../../src/generate/sampling/filters.ts';
import { samplingParams, type SamplingParams } from '../../../src/generate/sampling/params.ts';
import { BestFirst, argmax, topIndices } from '../../../src/generate/sampling/select.ts';

// p = [0.05, 0.4, 0.1, 0.25, 0.2]; best first: 1 (0.4), 3 (0.25), 4 (0.2), 2 (0.1), 0 (0.05)
const P = [0.05, 0.4, 0.1, 0.25, 0.2];
const LOGITS = P.map((p) => Math.log(p) + 3); // a shift does not change the distribution

function dist(partial: Partial<SamplingParams>, logits: readonly number[] = LOGITS): Float64Array {
  return filteredDistribution(logits, samplingParams(partial));
}

function renorm(weights: readonly number[]): number[] {
  const s = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / s);
}

test('no filter and temperature 1: the softmax itself', () => {
  assertAllClose(dist({}), P, TOLERANCE.float64);
});

test('temperature T: softmax(logits / T), i.e. p^(1/T) renormalised', () => {
  assertAllClose(dist({ temperature: 2 }), renorm(P.map((p) => p ** 0.5)), TOLERANCE.float64);
  assertAllClose(dist({ temperature: 0.5 }), renorm(P.map((p) => p ** 2)), TOLERANCE.float64);
});

test('greedy: one-hot at the arg-max, first index on ties', () => {
  assert.deepEqual([...dist({ temperature: 0 })], [0, 1, 0, 0, 0]);
  assert.deepEqual([...dist({ temperature: 0 }, [1, 3, 0, 3, 2])], [0, 1, 0, 0, 0]);
});

test('top-k keeps exactly k tokens (smaller id on ties)', () => {
  assertAllClose(dist({ topK: 1 }), [0, 1, 0, 0, 0], TOLERANCE.float64);
  assertAllClose(dist({ topK: 2 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0], TOLERANCE.float64);
  assertAllClose(dist({ topK: 3 }), [0, 0.4 / 0.85, 0, 0.25 / 0.85, 0.2 / 0.85], TOLERANCE.float64);
  assertAllClose(dist({ topK: 5 }), P, TOLERANCE.float64);
  assertAllClose(dist({ topK: 99 }), P, TOLERANCE.float64);
  const tied = dist({ topK: 2 }, [1, 2, 2, 2, 0]);
  assertAllClose(tied, [0, 0.5, 0.5, 0, 0], TOLERANCE.float64);
});

test('top-p keeps the smallest most-likely set whose mass reaches p, at least one token', () => {
  assertAllClose(dist({ topP: 0.3 }), [0, 1, 0, 0, 0], TOLERANCE.float64);
  assertAllClose(dist({ topP: 0.4 - 1e-9 }), [0, 1, 0, 0, 0], TOLERANCE.float64);
  assertAllClose(dist({ topP: 0.41 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0], TOLERANCE.float64);
  assertAllClose(dist({ topP: 0.6 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0], TOLERANCE.float64);
  assertAllClose(dist({ topP: 0.7 }), [0, 0.4 / 0.85, 0, 0.25 / 0.85, 0.2 / 0.85], TOLERANCE.float64);
  assertAllClose(dist({ topP: 0.9 }), [0, 0.4 / 0.95, 0.1 / 0.95, 0.25 / 0.95, 0.2 / 0.95], TOLERANCE.float64);
  assertAllClose(dist({ topP: 0.97 }), P, TOLERANCE.float64);
  assertAllClose(dist({ topP: 1e-9 }), [0, 1, 0, 0, 0], TOLERANCE.float64);
});

test('min-p keeps tokens with p >= minP * p_max', () => {
  assertAllClose(dist({ minP: 0.5 }), [0, 0.4 / 0.85, 0, 0.25 / 0.85, 0.2 / 0.85], TOLERANCE.float64); // p >= 0.2
  assertAllClose(dist({ minP: 0.6 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0], TOLERANCE.float64); // p >= 0.24
  assertAllClose(dist({ minP: 0.2 }), [0, 0.4 / 0.95, 0.1 / 0.95, 0.25 / 0.95, 0.2 / 0.95], TOLERANCE.float64);
  assertAllClose(dist({ minP: 1 }), [0, 1, 0, 0, 0], TOLERANCE.float64);
});

test('combined, in vLLM order: temperature, min-p, top-k, then top-p on what is left', () => {
  // min-p 0.3 keeps {1, 3, 4}; top-k 2 keeps {1, 3} = (0.615, 0.385); top-p 0.5 keeps {1}
  assertAllClose(dist({ minP: 0.3, topK: 2, topP: 0.5 }), [0, 1, 0, 0, 0], TOLERANCE.float64);
  // top-k 3 keeps {1, 3, 4} = (0.47, 0.29, 0.24); top-p 0.7 needs 1 and 3 (0.76)
  assertAllClose(dist({ topK: 3, topP: 0.7 }), [0, 0.4 / 0.65, 0, 0.25 / 0.65, 0], TOLERANCE.float64);
  // temperature 0.5: q = p^2 / 0.2725 = (0.009, 0.587, 0.037, 0.229, 0.147); top-p 0.8 keeps {1, 3} (0.817)
  assertAllClose(dist({ temperature: 0.5, topP: 0.8 }), renorm([0, 0.16, 0, 0.0625, 0]), TOLERANCE.float64);
});

/** The textbook filters with a full sort, in vLLM's order. */
function reference(logits: readonly number[], p: SamplingParams): number[] {
  const z = logits.map((l) => l / p.temperature);
  const m = Math.max(...z);
  let probs = renorm(z.map((x) => Math.exp(x - m)));
  const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  const keep = new Set(order);
  const pMax = probs[order[0]];
  if (p.minP > 0) for (const i of order) if (probs[i] < p.minP * pMax) keep.delete(i);
  if (p.topK > 0) for (const i of order.slice(p.topK)) keep.delete(i);
  probs = renorm(probs.map((q, i) => (keep.has(i) ? q : 0)));
  if (p.topP < 1) {
    let before = 0;
    for (const i of order) {
      if (!keep.has(i)) continue;
      if (before >= p.topP) keep.delete(i);
      before += probs[i];
    }
  }
  return renorm(probs.map((q, i) => (keep.has(i) ? q : 0)));
}

test('random logits: the heaps agree with a full sort for every filter combination', () => {
  const rng = new Rng(13);
  for (let trial = 0; trial < 300; trial++) {
    const v = rng.int(1, 300);
    const logits = Array.from({ length: v }, () => rng.normal() * rng.uniform(0.5, 4));
    const params = samplingParams({
      temperature: rng.uniform(0.2, 2),
      topK: rng.next() < 0.5 ? 0 : rng.int(1, v + 2),
      topP: rng.next() < 0.4 ? 1 : rng.uniform(0.05, 1),
      minP: rng.next() < 0.5 ? 0 : rng.uniform(0, 0.5),
    });
    assertAllClose(filteredDistribution(logits, params), reference(logits, params), TOLERANCE.float64,
      `trial ${trial} ${JSON.stringify(params)}`);
  }
});

test('selection helpers: arg-max first on ties, topIndices best first, BestFirst pops in order', () => {
  assert.equal(argmax([1, 5, 5, 2]), 1);
  assert.equal(argmax(new Float32Array([-Infinity, -Infinity, -3])), 2);
  assert.deepEqual([...topIndices([3, 1, 3, 7, 3, 0], 4)], [3, 0, 2, 4]);
  assert.deepEqual([...topIndices([2, 1], 5)], [0, 1]);
  const rng = new Rng(5);
  for (let trial = 0; trial < 50; trial++) {
    const values = Array.from({ length: rng.int(1, 200) }, () => rng.int(0, 20)); // many ties
    const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
    const k = rng.int(1, values.length);
    assert.deepEqual([...topIndices(values, k)], order.slice(0, k));
    const heap = Int32Array.from(values.map((_, i) => i));
    const best = new BestFirst(values, heap, heap.length);
    const popped: number[] = [];
    for (let id = best.pop(); id >= 0; id = best.pop()) popped.push(id);
    assert.deepEqual(popped, order);
  }
});
