// Padded batches: for tiny-llama, a right-padded and a left-padded batch of two sequences of different lengths
// give, at every real position, the logits of each sequence run alone (positions come from the attention mask,
// padded keys are masked), within float32 round-off.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { logitsAt } from '../support/model-folders.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

const LONG = [12, 250, 7, 99, 31, 180, 64];
const SHORT = [5, 77, 140, 222];
const PAD = 0;

for (const side of ['right', 'left'] as const) {
  test(`a ${side}-padded batch gives each sequence's own logits at its real positions`, async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const pads = LONG.length - SHORT.length;
    const padded = side === 'right' ? [...SHORT, ...new Array<number>(pads).fill(PAD)] : [...new Array<number>(pads).fill(PAD), ...SHORT];
    const mask = padded.map((_, j) => (side === 'right' ? (j < SHORT.length ? 1 : 0) : j < pads ? 0 : 1));
    const batch = await model.forward(runtime, { inputIds: [LONG, padded], attentionMask: [LONG.map(() => 1), mask] });
    const long = await model.forward(runtime, { inputIds: [LONG] });
    const short = await model.forward(runtime, { inputIds: [SHORT] });
    for (let t = 0; t < LONG.length; t++) {
      const e = relativeError(logitsAt(batch.logits, 0, t), logitsAt(long.logits, 0, t));
      assert.ok(e <= 1e-5, `row 0, position ${t}: relative error ${e}`);
    }
    for (let t = 0; t < SHORT.length; t++) {
      const at = side === 'right' ? t : pads + t;
      const e = relativeError(logitsAt(batch.logits, 1, at), logitsAt(short.logits, 0, t));
      assert.ok(e <= 1e-5, `row 1, position ${at}: relative error ${e}`);
    }
  });
}
