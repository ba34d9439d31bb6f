// LoRA dropout in training (PEFT's lora_dropout): the mask tables' numbers, masks that are a function of the
// seed, eval mode (no seed) equal to an adapter without dropout, dropout touching only the LoRA branch, and the
// gradients of the dropped-out model against float64 central finite differences at a fixed seed.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DROPOUT_TABLE_ROWS, dropoutRows, dropoutTable } from '../../src/adapters/lora/dropout.ts';
import { loraConfig } from '../../src/adapters/lora/config.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

const lora = fixture('lora_llama_r4_a8_qv.json');
const batch = { inputIds: lora.inputs.input_ids as number[][], labels: lora.inputs.labels as number[][] }; // [2, 12]

const model = async (loraDropout: number, initLoraWeights = false) => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  return PeftModel.getPeftModel(base, runtime, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', loraDropout, initLoraWeights }), 'default', 3);
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('mask tables: a share p of zeros, the rest 1 / (1 - p), the same numbers every time; row draws cover the table', () => {
  for (const p of [0.1, 0.5]) {
    const t = dropoutTable(p, 64, 'float32');
    assert.equal(t.length, DROPOUT_TABLE_ROWS * 64);
    const zeros = t.filter((v) => v === 0).length / t.length;
    assert.ok(Math.abs(zeros - p) < 0.01, `p ${p}: share of zeros ${zeros}`);
    assert.ok(t.every((v) => v === 0 || v === Math.fround(1 / (1 - p))));
    assert.deepEqual(dropoutTable(p, 64, 'float32'), t);
  }
  assert.notDeepEqual(dropoutTable(0.1, 64, 'float32').slice(0, 256), dropoutTable(0.1, 32, 'float32').slice(0, 256));
  assert.throws(() => dropoutTable(1, 8, 'float32'), { code: 'E_USAGE' });
  const rows = dropoutRows(5, [4, 1000]);
  assert.deepEqual(rows.shape, [4, 1000]);
  const values = [...(rows.data as BigInt64Array)].map(Number);
  assert.ok(values.every((v) => Number.isInteger(v) && v >= 0 && v < DROPOUT_TABLE_ROWS));
  assert.ok(new Set(values).size > 2500, 'draws spread over the table');
  assert.deepEqual(dropoutRows(5, [4, 1000]).data, rows.data);
  assert.notDeepEqual(dropoutRows(6, [4, 1000]).data, rows.data);
});

test('training with dropout: the same seed gives the same loss and gradients, another seed others', async () => {
  const peft = await model(0.3);
  const a = await peft.lossAndGrads(batch, { dropoutSeed: 11 });
  const again = await peft.lossAndGrads(batch, { dropoutSeed: 11 });
  const other = await peft.lossAndGrads(batch, { dropoutSeed: 12 });
  assert.equal(again.loss, a.loss);
  for (const [name, g] of a.grads) assert.deepEqual(again.grads.get(name), g, name);
  assert.notEqual(other.loss, a.loss);
  // recomputed layers draw the same masks in their backward pass
  const recomputed = await peft.lossAndGrads(batch, { dropoutSeed: 11, recompute: true });
  assert.ok(Math.abs(recomputed.loss - a.loss) < 1e-5 * a.loss, `${recomputed.loss} vs ${a.loss}`);
  for (const [name, g] of a.grads) assert.ok(maxAbsDiff(recomputed.grads.get(name)!, g) < 1e-5, name);
});

test('eval mode (dropoutSeed null, and forward) equals the adapter without dropout; no seed is refused', async () => {
  const [dropped, plain] = [await model(0.3), await model(0)];
  const withNull = await dropped.lossAndGrads(batch, { dropoutSeed: null });
  const reference = await plain.lossAndGrads(batch);
  assert.equal(withNull.loss, reference.loss);
  for (const [name, g] of reference.grads) assert.deepEqual(withNull.grads.get(name), g, name);
  const forward = await dropped.forward(batch);
  assert.equal(forward.loss, (await plain.forward(batch)).loss);
  await assert.rejects(dropped.lossAndGrads(batch), (e: Error & { code?: string }) => e.code === 'E_USAGE' && /dropoutSeed/.test(e.message));
  // a seed changes the loss of the adapter with dropout, and nothing for the one without
  assert.notEqual((await dropped.lossAndGrads(batch, { dropoutSeed: 1 })).loss, reference.loss);
  assert.equal((await plain.lossAndGrads(batch, { dropoutSeed: 1 })).loss, reference.loss);
});

test('dropout reaches only the LoRA branch: with B = 0 the loss is the base model\'s, and the gradient of B changes', async () => {
  const [dropped, plain] = [await model(0.5, true), await model(0, true)];
  const withDropout = await dropped.lossAndGrads(batch, { dropoutSeed: 4 });
  const without = await plain.lossAndGrads(batch);
  assert.equal(withDropout.loss, without.loss);
  const name = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight';
  assert.ok(maxAbsDiff(withDropout.grads.get(name)!, without.grads.get(name)!) > 1e-6);
  // lora_A gets no gradient through B = 0, with or without dropout
  assert.ok(withDropout.grads.get(name.replace('lora_B', 'lora_A'))!.every((v) => v === 0));
});

test('gradients with dropout match float64 central finite differences at a fixed seed', async () => {
  const peft = await model(0.4);
  peft.castParameters('default', 'float64');
  const seed = 21;
  const { grads } = await peft.lossAndGrads(batch, { dtype: 'float64', dropoutSeed: seed });
  const params = peft.namedParameters('default');
  const h = 1e-5;
  let checked = 0;
  for (const name of ['base_model.model.model.layers.0.mlp.up_proj.lora_A.default.weight', 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.default.weight']) {
    const w = params.get(name)!;
    for (const i of [0, 5, w.length - 1]) {
      const keep = w[i];
      w[i] = keep + h;
      const up = (await peft.lossAndGrads(batch, { dtype: 'float64', dropoutSeed: seed })).loss;
      w[i] = keep - h;
      const down = (await peft.lossAndGrads(batch, { dtype: 'float64', dropoutSeed: seed })).loss;
      w[i] = keep;
      const fd = (up - down) / (2 * h);
      const g = grads.get(name)![i];
      assert.ok(Math.abs(fd - g) <= 1e-6 + 1e-5 * Math.abs(fd), `${name}[${i}]: autodiff ${g}, finite differences ${fd}`);
      checked++;
    }
  }
  assert.equal(checked, 6);
});
