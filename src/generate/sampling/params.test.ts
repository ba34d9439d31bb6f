// samplingParams: defaults, the vLLM spelling of "top-k off" (-1), and one E_USAGE per bad value naming the
// field, the value and the allowed range.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RoadsterError } from '../../errors.ts';
import { DEFAULT_SAMPLING, isGreedy, samplingParams, type SamplingParams } from './params.ts';

function rejects(partial: Record<string, unknown>, field: string, value: string, range: RegExp): void {
  assert.throws(() => samplingParams(partial as Partial<SamplingParams>), (e: unknown) => {
    assert.ok(e instanceof RoadsterError, String(e));
    assert.equal(e.code, 'E_USAGE');
    assert.ok(e.message.includes(field), `${e.message} should name ${field}`);
    assert.ok(e.message.includes(value), `${e.message} should show ${value}`);
    assert.match(e.message, range);
    return true;
  });
}

test('defaults: plain multinomial sampling, frozen', () => {
  const p = samplingParams();
  assert.deepEqual(p, DEFAULT_SAMPLING);
  assert.ok(Object.isFrozen(p));
  assert.equal(isGreedy(p), false);
  assert.equal(isGreedy(samplingParams({ temperature: 0 })), true);
  assert.equal(isGreedy(samplingParams({ temperature: 1e-6 })), true);
});

test('valid edge values are accepted; topK -1 means off (0); undefined fields take the default', () => {
  const p = samplingParams({
    temperature: 0, topK: -1, topP: 1, minP: 1, repetitionPenalty: 0.5,
    presencePenalty: -2, frequencyPenalty: 2, seed: -(2 ** 40), logprobs: 20,
  });
  assert.equal(p.topK, 0);
  assert.equal(p.minP, 1);
  assert.equal(p.seed, -(2 ** 40));
  assert.equal(samplingParams({ topK: 50, topP: undefined }).topP, 1);
});

test('each bad value throws E_USAGE naming the field, the value and the range', () => {
  rejects({ temperature: -0.5 }, 'temperature', '-0.5', />= 0/);
  rejects({ temperature: Number.NaN }, 'temperature', 'NaN', /finite/);
  rejects({ temperature: Infinity }, 'temperature', 'Infinity', /finite/);
  rejects({ topP: 0 }, 'topP', '0', /\(0, 1\]/);
  rejects({ topP: 1.5 }, 'topP', '1.5', /\(0, 1\]/);
  rejects({ topP: -0.1 }, 'topP', '-0.1', /\(0, 1\]/);
  rejects({ minP: -0.1 }, 'minP', '-0.1', /\[0, 1\]/);
  rejects({ minP: 1.01 }, 'minP', '1.01', /\[0, 1\]/);
  rejects({ topK: -2 }, 'topK', '-2', /integer >= 0/);
  rejects({ topK: 2.5 }, 'topK', '2.5', /integer >= 0/);
  rejects({ repetitionPenalty: 0 }, 'repetitionPenalty', '0', /> 0/);
  rejects({ repetitionPenalty: -1 }, 'repetitionPenalty', '-1', /> 0/);
  rejects({ presencePenalty: 2.5 }, 'presencePenalty', '2.5', /\[-2, 2\]/);
  rejects({ presencePenalty: -3 }, 'presencePenalty', '-3', /\[-2, 2\]/);
  rejects({ frequencyPenalty: -2.01 }, 'frequencyPenalty', '-2.01', /\[-2, 2\]/);
  rejects({ frequencyPenalty: 7 }, 'frequencyPenalty', '7', /\[-2, 2\]/);
  rejects({ logprobs: 21 }, 'logprobs', '21', /\[0, 20\]/);
  rejects({ logprobs: -1 }, 'logprobs', '-1', /\[0, 20\]/);
  rejects({ logprobs: 1.5 }, 'logprobs', '1.5', /\[0, 20\]/);
  rejects({ seed: 1.5 }, 'seed', '1.5', /integer/);
  rejects({ seed: 2 ** 60 }, 'seed', String(2 ** 60), /integer/);
  rejects({ seed: '7' }, 'seed', '"7"', /integer/);
  rejects({ temperature: '1' }, 'temperature', '"1"', /finite number/);
  rejects({ top_p: 0.5 }, 'top_p', 'topP', /unknown field/);
});
