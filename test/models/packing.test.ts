// Packed rows: two sequences in one row, with segment ids, give each sequence's logits as if run alone.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

test('a packed row equals its sequences run alone (positions restart, attention stays inside)', async () => {
  const model = await CausalLM.fromFolder(TINY_LLAMA);
  const a = [5, 17, 99, 3, 42];
  const b = [7, 8, 200, 11];
  const packed = await model.forward(runtime, { inputIds: [[...a, ...b, 0]], segmentIds: [[1, 1, 1, 1, 1, 2, 2, 2, 2, 0]] });
  const v = model.config.vocabSize;
  const data = packed.logits.data as Float32Array;
  for (const [seq, offset] of [[a, 0], [b, a.length]] as const) {
    const alone = await model.forward(runtime, { inputIds: [seq] });
    const slice = data.subarray(offset * v, (offset + seq.length) * v);
    const err = relativeError(slice, alone.logits.data as Float32Array);
    assert.ok(err <= 1e-5, `relative error ${err}`);
  }
});
