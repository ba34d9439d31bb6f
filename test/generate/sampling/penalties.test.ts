// Penalties on fixed logits and histories: repetition over prompt + output (transformers/vLLM: l > 0 -> l / r,
// else l * r), presence and frequency over the output only (OpenAI), in vLLM's order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TOLERANCE, assertAllClose } from '../../support/all-close.ts';
import { RoadsterError } from '../../../src/errors.ts';
import { samplingParams } from '../../../src/generate/sampling/params.ts';
import { PenaltyState, applyPenalties } from '../../../src/generate/sampling/penalties.ts';

const LOGITS = [2, -1, 0.5, -3, 1, 0, 4];
const PROMPT = [0, 1, 0];
const GENERATED = [2, 2, 3, 1, 6];

test('repetition penalty divides positive and multiplies negative logits of prompt and output tokens', () => {
  const out = applyPenalties(LOGITS, samplingParams({ repetitionPenalty: 2 }), PROMPT, GENERATED);
  assertAllClose(out, [1, -2, 0.25, -6, 1, 0, 2], TOLERANCE.float64);
  // A penalty below 1 rewards repetition the same way round.
  const reward = applyPenalties(LOGITS, samplingParams({ repetitionPenalty: 0.5 }), PROMPT, []);
  assertAllClose(reward, [4, -0.5, 0.5, -3, 1, 0, 4], TOLERANCE.float64);
});

test('presence penalty: once per distinct generated token; prompt tokens untouched', () => {
  const out = applyPenalties(LOGITS, samplingParams({ presencePenalty: 0.5 }), PROMPT, GENERATED);
  assertAllClose(out, [2, -1.5, 0, -3.5, 1, 0, 3.5], TOLERANCE.float64);
});

test('frequency penalty: once per occurrence in the output; negative values reward', () => {
  const out = applyPenalties(LOGITS, samplingParams({ frequencyPenalty: 0.5 }), PROMPT, GENERATED);
  assertAllClose(out, [2, -1.5, -0.5, -3.5, 1, 0, 3.5], TOLERANCE.float64);
  const reward = applyPenalties(LOGITS, samplingParams({ frequencyPenalty: -1 }), PROMPT, GENERATED);
  assertAllClose(reward, [2, 0, 2.5, -2, 1, 0, 5], TOLERANCE.float64);
});

test('all three: repetition first, then frequency and presence', () => {
  const params = samplingParams({ repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 });
  const out = applyPenalties(LOGITS, params, PROMPT, GENERATED);
  // 0: 2/2 = 1 (prompt only); 1: -1*2 - 0.75 = -2.75; 2: 0.5/2 - (1 + 0.25) = -1; 3: -3*2 - 0.75 = -6.75;
  // 6: 4/2 - 0.75 = 1.25; 4, 5 untouched
  assertAllClose(out, [1, -2.75, -1, -6.75, 1, 0, 1.25], TOLERANCE.float64);
});

test('off by default, and nothing to do without a history', () => {
  assertAllClose(applyPenalties(LOGITS, samplingParams(), PROMPT, GENERATED), LOGITS, TOLERANCE.float64);
  const state = new PenaltyState(samplingParams({ presencePenalty: 1, frequencyPenalty: 1 }), PROMPT);
  assert.equal(state.active, false); // OpenAI penalties read the output only
  state.record(4);
  assert.equal(state.active, true);
  assert.equal(new PenaltyState(samplingParams({ repetitionPenalty: 1.2 }), []).active, false);
  assert.equal(new PenaltyState(samplingParams({ repetitionPenalty: 1.2 }), [3]).active, true);
});

test('a history token outside the vocabulary is an E_USAGE naming it', () => {
  assert.throws(() => applyPenalties(LOGITS, samplingParams({ repetitionPenalty: 2 }), [7], []),
    (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE' && /prompt token id 7 .* 7 logits/.test(e.message));
});
