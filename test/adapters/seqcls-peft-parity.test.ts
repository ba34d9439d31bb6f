// Parity with the real PEFT SEQ_CLS path: test/fixtures/peft-seqcls was written by transformers 5.18 + peft 0.21
// (reference/peft_seqcls_fixture.py): LlamaForSequenceClassification (3 labels, pad 255) with a RoAd road_1
// adapter on q_proj/v_proj and its trained score head. The PEFT-saved adapter folder loads here and gives PEFT's
// class logits, loss and every gradient (the head's included) in float32 and float64; our saved folder has
// PEFT's tensor names and values; the merged model gives PEFT's merged logits.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { openSafetensors } from '../../src/io/safetensors/index.ts';
import { AutoModelForSequenceClassification } from '../../src/models/auto.ts';
import { classifySequences } from '../../src/models/sequence-classification.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA, flat } from '../support/fixtures.ts';

const DIR = fileURLToPath(new URL('../fixtures/peft-seqcls/', import.meta.url));
const fx = JSON.parse(readFileSync(join(DIR, 'seqcls_llama_road1_g8_qv.json'), 'utf8'));
const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-seqcls-parity-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const batch = { inputIds: fx.inputs.input_ids, attentionMask: fx.inputs.attention_mask, classLabels: fx.inputs.labels };

async function peftModel(): Promise<PeftModel> {
  // the base head's values do not matter: the adapter brings its own copy (modules_to_save)
  const base = await AutoModelForSequenceClassification.fromPretrained(TINY_LLAMA, { id2label: fx.meta.labels, seed: 0 });
  return PeftModel.fromPretrained(base, runtime, join(DIR, 'adapter'));
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`a PEFT-saved SEQ_CLS RoAd adapter gives PEFT's class logits, loss and gradients (${dtype})`, async () => {
    const peft = await peftModel();
    if (dtype === 'float64') peft.castParameters('default', 'float64');
    const ref = fx[dtype];
    const tol = dtype === 'float64' ? 1e-9 : 1e-5;
    const { logits } = await peft.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask }, { dtype });
    assert.ok(relativeError(Float64Array.from(logits.data as Float32Array), Float64Array.from(flat(ref.logits))) <= tol, 'logits');
    const { loss, grads } = await peft.lossAndGrads(batch, { dtype });
    assert.ok(Math.abs(loss - ref.loss) / ref.loss <= tol, `loss ${loss} vs ${ref.loss}`);
    assert.deepEqual([...grads.keys()].sort(), Object.keys(ref.grads).sort(), 'the same trainable tensors as PEFT');
    for (const [name, g] of grads) {
      const err = relativeError(Float64Array.from(g), Float64Array.from(flat(ref.grads[name])));
      assert.ok(err <= (dtype === 'float64' ? 1e-9 : 1e-4), `${name}: relative error ${err}`);
    }
  });
}

test('saving writes the tensors PEFT wrote, under the same names; the merged model gives PEFT\'s merged logits', async () => {
  const peft = await peftModel();
  peft.saveAdapter(join(scratch, 'adapter'));
  const ours = openSafetensors(join(scratch, 'adapter', 'adapter_model.safetensors'));
  const theirs = openSafetensors(join(DIR, 'adapter', 'adapter_model.safetensors'));
  try {
    assert.deepEqual(ours.tensorNames().sort(), theirs.tensorNames().sort());
    for (const name of theirs.tensorNames()) {
      assert.deepEqual(ours.info(name).shape, theirs.info(name).shape, name);
      assert.deepEqual(ours.readFloat32(name), theirs.readFloat32(name), name);
    }
  } finally {
    ours.close();
    theirs.close();
  }
  const config = JSON.parse(readFileSync(join(scratch, 'adapter', 'adapter_config.json'), 'utf8'));
  const peftConfig = JSON.parse(readFileSync(join(DIR, 'adapter', 'adapter_config.json'), 'utf8'));
  assert.equal(config.task_type, peftConfig.task_type);
  assert.deepEqual([...config.modules_to_save].sort(), [...peftConfig.modules_to_save].sort());

  const { logits } = await peft.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask });
  assert.ok(relativeError(Float64Array.from(logits.data as Float32Array), Float64Array.from(flat(fx.reload_logits))) <= 1e-5, 'PEFT reload logits');
  peft.saveMergedModel(join(scratch, 'merged'));
  const merged = await AutoModelForSequenceClassification.fromPretrained(join(scratch, 'merged'));
  const peftMerged = await AutoModelForSequenceClassification.fromPretrained(join(DIR, 'merged'));
  for (const model of [merged, peftMerged]) {
    const out = await classifySequences(model, runtime, { inputIds: batch.inputIds, attentionMask: batch.attentionMask });
    assert.ok(relativeError(Float64Array.from(out.logits.data as Float32Array), Float64Array.from(flat(fx.merged_logits))) <= 1e-5, 'merged logits');
  }
});
