// PeftModelForSequenceClassification semantics, for RoAd and LoRA: task_type SEQ_CLS puts the head in
// modules_to_save and the adapter trains its own copy of it. Checked: float64 finite differences of the class
// loss w.r.t. the head and adapter parameters; PEFT's file format (the head saved as
// `base_model.model.score.weight`, modules_to_save ["classifier", "score"], task_type "SEQ_CLS", as PEFT's
// peft_model.py and utils/save_and_load.py write them) and a save/load round trip; mixed batches with per-row
// heads; the merged model as transformers' *ForSequenceClassification folder; and the typed errors.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AdapterConfig } from '../../src/adapters/kinds.ts';
import { loraConfig } from '../../src/adapters/lora/config.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { openSafetensors } from '../../src/io/safetensors/index.ts';
import { AutoModelForSequenceClassification } from '../../src/models/auto.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { SCORE_WEIGHT, classifySequences, withClassificationHead } from '../../src/models/sequence-classification.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-seqcls-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const LABELS = ['negative', 'positive', 'neutral'];
const BATCH = {
  inputIds: [
    [5, 17, 33, 9, 120, 4, 0, 0],
    [44, 2, 99, 13, 7, 61, 200, 18],
    [3, 250, 8, 0, 0, 0, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 0, 0],
    [1, 1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0, 0, 0],
  ],
  classLabels: [1, 0, 2],
};
const HEAD_PARAM = 'base_model.model.score.modules_to_save.default.weight';

const METHODS: { name: string; config: (o?: Partial<{ taskType: string; modulesToSave: string[] }>) => AdapterConfig }[] = [
  { name: 'RoAd', config: (o = {}) => roadConfig({ variant: 'road_2', groupSize: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], initWeights: false, taskType: 'SEQ_CLS', ...o }) },
  { name: 'LoRA', config: (o = {}) => loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false, taskType: 'SEQ_CLS', ...o }) },
];

async function classifier(seed = 7, folder = TINY_LLAMA, labels = LABELS): Promise<CausalLM> {
  return withClassificationHead(await CausalLM.fromFolder(folder), { id2label: labels, seed, padTokenId: 0 });
}

for (const method of METHODS) {
  describe(`${method.name} with task_type SEQ_CLS`, () => {
    test('float64 finite differences of the class loss w.r.t. the head and adapter parameters', async () => {
      const peft = PeftModel.getPeftModel(await classifier(), runtime, method.config(), 'default', 3);
      peft.castParameters('default', 'float64');
      const { loss, grads } = await peft.lossAndGrads(BATCH, { dtype: 'float64' });
      assert.ok(Number.isFinite(loss) && loss > 0);
      const params = peft.namedParameters('default');
      assert.deepEqual([...grads.keys()].sort(), [...params.keys()].sort(), 'a gradient for every trainable tensor, the head included');
      assert.ok(grads.has(HEAD_PARAM));
      const lossAt = async () => (await peft.forward(BATCH, { dtype: 'float64' })).loss!;
      const h = 1e-6;
      // The whole head, and the first entries of a few adapter tensors in both layers.
      const checked = [HEAD_PARAM, ...[...params.keys()].filter((n) => /layers\.(0\.self_attn\.q_proj|1\.self_attn\.v_proj|1\.mlp\.down_proj)/.test(n))];
      for (const name of checked) {
        const p = params.get(name)!;
        const count = name === HEAD_PARAM ? p.length : Math.min(p.length, 6);
        const numeric = new Float64Array(count);
        const analytic = grads.get(name)!.subarray(0, count);
        for (let k = 0; k < count; k++) {
          const keep = p[k];
          p[k] = keep + h;
          const plus = await lossAt();
          p[k] = keep - h;
          const minus = await lossAt();
          p[k] = keep;
          numeric[k] = (plus - minus) / (2 * h);
        }
        const err = relativeError(analytic, numeric);
        assert.ok(err <= 1e-6, `d loss / d ${name}: relative error ${err.toExponential(2)}`);
      }
    });

    test('PEFT files: the head under base_model.model.score.weight, SEQ_CLS config; save then load gives the same logits', async () => {
      const peft = PeftModel.getPeftModel(await classifier(), runtime, method.config(), 'default', 3);
      const trained = peft.modules('default').get(SCORE_WEIGHT)!;
      for (let i = 0; i < trained.length; i++) trained[i] += 0.01 * Math.sin(i); // as if trained: no longer the base head
      const before = await peft.forward(BATCH);
      assert.deepEqual(before.logits.shape, [3, 3]);
      const dir = join(scratch, `${method.name}-adapter`);
      peft.saveAdapter(dir);
      const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      assert.equal(config.task_type, 'SEQ_CLS');
      assert.deepEqual(config.modules_to_save, ['classifier', 'score']);
      const reader = openSafetensors(join(dir, 'adapter_model.safetensors'));
      try {
        assert.deepEqual(reader.info('base_model.model.score.weight').shape, [3, 64]);
        assert.equal(reader.info('base_model.model.score.weight').dtype, 'F32');
        assert.deepEqual(reader.readFloat32('base_model.model.score.weight'), Float32Array.from(trained));
        assert.ok(reader.tensorNames().every((n) => n.startsWith('base_model.model.')), 'every key under base_model.model.');
      } finally {
        reader.close();
      }
      // Another base head (another seed): the adapter's own copy classifies, as PEFT's ModulesToSaveWrapper.
      const loaded = PeftModel.fromPretrained(await classifier(99), runtime, dir);
      const after = await loaded.forward(BATCH);
      assert.deepEqual(after.logits.data, before.logits.data);
      const classified = await loaded.classify(BATCH);
      assert.deepEqual(classified.logits.data, before.logits.data);
      assert.deepEqual(classified.labels, classified.predictions.map((p) => LABELS[p]));
      const counts = loaded.trainableParameters();
      assert.equal(counts.trainable, peft.trainableParameters().trainable);
      const layerParams = [...peft.parameters('default').values()].reduce((n, s) => n + Object.values(s).reduce((m, a) => m + a.length, 0), 0);
      assert.equal(counts.trainable, layerParams + 3 * 64, 'the head counts as trainable');
      loaded.disableAdapter();
      const plain = await loaded.forward(BATCH);
      assert.ok(relativeError(plain.logits.data as Float32Array, after.logits.data as Float32Array) > 1e-3, 'disabled: the base head and layers');
    });

    test('merged into a *ForSequenceClassification folder that transformers and roadster load', async () => {
      const peft = PeftModel.getPeftModel(await classifier(), runtime, method.config(), 'default', 3);
      const head = peft.modules('default').get(SCORE_WEIGHT)!;
      for (let i = 0; i < head.length; i++) head[i] *= 3;
      const adapted = await peft.forward(BATCH);
      const dir = join(scratch, `${method.name}-merged`);
      peft.saveMergedModel(dir);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      assert.deepEqual(config.architectures, ['LlamaForSequenceClassification']);
      assert.equal(config.num_labels, 3);
      assert.deepEqual(config.id2label, { 0: 'negative', 1: 'positive', 2: 'neutral' });
      assert.deepEqual(config.label2id, { negative: 0, positive: 1, neutral: 2 });
      assert.equal(config.pad_token_id, 0);
      const reader = openSafetensors(join(dir, 'model.safetensors'));
      try {
        assert.deepEqual(reader.info('score.weight').shape, [3, 64]);
        assert.equal(reader.has('lm_head.weight'), false);
      } finally {
        reader.close();
      }
      const reloaded = await AutoModelForSequenceClassification.fromPretrained(dir);
      assert.deepEqual(reloaded.classification?.id2label, LABELS);
      const merged = await classifySequences(reloaded, runtime, BATCH);
      assert.ok(relativeError(merged.logits.data as Float32Array, adapted.logits.data as Float32Array) < 1e-5);
      assert.ok(Math.abs(merged.loss! - adapted.loss!) < 1e-5);
    });
  });
}

test('a mixed batch uses each row\'s adapter and head, as separate runs do', async () => {
  const peft = PeftModel.getPeftModel(await classifier(), runtime, METHODS[0].config(), 'a', 1);
  peft.addAdapter('b', METHODS[1].config(), 2);
  for (const name of ['a', 'b']) {
    const head = peft.modules(name).get(SCORE_WEIGHT)!;
    for (let i = 0; i < head.length; i++) head[i] += name === 'a' ? 0.05 : -0.05;
  }
  const names = ['a', '__base__', 'b'];
  const mixed = await peft.forward({ ...BATCH, adapterNames: names });
  for (const [row, name] of names.entries()) {
    if (name === '__base__') peft.disableAdapter();
    else peft.setAdapter(name);
    const one = await peft.forward({ inputIds: [BATCH.inputIds[row]], attentionMask: [BATCH.attentionMask[row]] });
    peft.enableAdapters();
    const got = (mixed.logits.data as Float32Array).subarray(row * 3, row * 3 + 3);
    assert.ok(relativeError(got, one.logits.data as Float32Array) < 1e-5, `row ${row} (${name})`);
  }
});

test('a tied-embedding model (Qwen2) writes Qwen2ForSequenceClassification', async () => {
  const peft = PeftModel.getPeftModel(await classifier(1, TINY_QWEN2, ['no', 'yes']), runtime, METHODS[0].config());
  const dir = join(scratch, 'qwen2-merged');
  peft.saveMergedModel(dir);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).architectures, ['Qwen2ForSequenceClassification']);
  const reloaded = await CausalLM.fromFolder(dir);
  assert.deepEqual(reloaded.classification?.id2label, ['no', 'yes']);
});

describe('typed errors', () => {
  test('modules_to_save with a module other than the classification head', async () => {
    for (const base of [await CausalLM.fromFolder(TINY_LLAMA), await classifier()]) {
      assert.throws(() => PeftModel.getPeftModel(base, runtime, roadConfig({ groupSize: 8, modulesToSave: ['lm_head'] })), {
        code: 'E_ADAPTER',
        message: /modules_to_save \["lm_head"\] is not supported; roadster trains and saves only the sequence-classification head/,
      });
    }
  });

  test('a SEQ_CLS adapter on a model without a classification head', async () => {
    const base = await CausalLM.fromFolder(TINY_LLAMA);
    assert.throws(() => PeftModel.getPeftModel(base, runtime, METHODS[0].config()), { code: 'E_ADAPTER', message: /base model has none/ });
    const dir = join(scratch, 'for-causal');
    PeftModel.getPeftModel(await classifier(), runtime, METHODS[0].config()).saveAdapter(dir);
    assert.throws(() => PeftModel.fromPretrained(base, runtime, dir), { code: 'E_ADAPTER', message: /holds a sequence-classification head.*AutoModelForSequenceClassification/ });
  });

  test('a head of another shape on load', async () => {
    const dir = join(scratch, 'three-labels');
    PeftModel.getPeftModel(await classifier(), runtime, METHODS[1].config()).saveAdapter(dir);
    const twoLabels = await classifier(7, TINY_LLAMA, ['a', 'b']);
    assert.throws(() => PeftModel.fromPretrained(twoLabels, runtime, dir), {
      code: 'E_ADAPTER',
      message: /"base_model\.model\.score\.weight" has shape \[3, 64\] but the model's head is \[2, 64\]/,
    });
  });

  test('training a classifier without class labels', async () => {
    const peft = PeftModel.getPeftModel(await classifier(), runtime, METHODS[0].config());
    const { classLabels: _, ...unlabelled } = BATCH;
    await assert.rejects(peft.lossAndGrads({ ...unlabelled, labels: unlabelled.inputIds }), { code: 'E_USAGE', message: /needs classLabels/ });
  });

  test('two active adapters that each carry a head', async () => {
    const peft = PeftModel.getPeftModel(await classifier(), runtime, METHODS[0].config(), 'a');
    peft.addAdapter('b', METHODS[0].config(), 1);
    peft.setAdapter(['a', 'b']);
    await assert.rejects(peft.forward(BATCH), { code: 'E_USAGE', message: /only one of them may be active/ });
  });
});
