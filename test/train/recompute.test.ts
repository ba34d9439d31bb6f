// Activation recomputation (checkpointed decoder layers) changes memory, not numbers: gradients match PEFT's
// fixture in float64 and the non-recomputed graph in float32.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { FIXTURES, TINY_LLAMA, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

test('recomputed layers give the same loss and gradients', async () => {
  const fx = fixture('llama_road1_g8_qv.json');
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.fromPretrained(base, runtime, join(FIXTURES, 'llama_road1_g8_qv', 'adapter'));
  const batch = { inputIds: fx.inputs.input_ids, labels: fx.inputs.labels };
  const f64 = await peft.lossAndGrads(batch, { dtype: 'float64', recompute: true });
  assert.ok(Math.abs(f64.loss - fx.float64.adapter_loss) / fx.float64.adapter_loss <= 1e-12);
  for (const [name, g] of f64.grads) assert.ok(relativeError(g, fx.float64.adapter_grads_full[name]) <= 1e-9, name);
  const plain = await peft.lossAndGrads(batch);
  const again = await peft.lossAndGrads(batch, { recompute: true });
  assert.equal(again.loss, plain.loss);
  for (const [name, g] of again.grads) assert.ok(relativeError(g, plain.grads.get(name)!) <= 1e-6, name);
});
