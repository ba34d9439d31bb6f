// Several active adapters apply in sequence, as in PEFT: forward with [a, b] active equals b(a(h)) at every
// shared layer, which is also what merging a then b into the weights gives. And modules_to_save other than
// the classification head is refused, rather than silently ignored.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());
const ids = [[3, 14, 15, 92, 65, 35, 89, 79]];

test('active adapters apply in order and equal their sequential merge', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: ['q_proj', 'v_proj'], initWeights: false }), 'a', 1);
  peft.addAdapter('b', roadConfig({ variant: 'road_4', groupSize: 16, targetModules: ['v_proj', 'o_proj'], initWeights: false }), 2);
  peft.setAdapter(['a', 'b']);
  const both = await peft.forward({ inputIds: ids });
  peft.setAdapter('a');
  const onlyA = await peft.forward({ inputIds: ids });
  assert.ok(relativeError(both.logits.data as Float32Array, onlyA.logits.data as Float32Array) > 1e-3, 'b changes the output');
  peft.setAdapter(['a', 'b']);
  peft.mergeAdapter();
  const merged = await peft.forward({ inputIds: ids });
  assert.deepEqual(peft.mergedAdapters, ['a', 'b']);
  assert.ok(relativeError(merged.logits.data as Float32Array, both.logits.data as Float32Array) <= 1e-5);
  peft.unmergeAdapter();
  const back = await peft.forward({ inputIds: ids });
  assert.ok(relativeError(back.logits.data as Float32Array, both.logits.data as Float32Array) <= 1e-5);
});

test('modules_to_save other than the classification head is refused with a clear error', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  assert.throws(
    () => PeftModel.getPeftModel(base, runtime, roadConfig({ groupSize: 8, modulesToSave: ['lm_head'] })),
    { code: 'E_ADAPTER', message: /modules_to_save \["lm_head"\] is not supported; roadster trains and saves only the sequence-classification head/ },
  );
});
