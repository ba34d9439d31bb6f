// Label words (models/label-words.ts): the head's class logits are the causal LM's own vocabulary logits of the
// label tokens at each row's last real token; an adapter's gradient through its loss equals float64 finite
// differences; an adapter trained on it is a CAUSAL_LM adapter that runs on the plain language model with the same
// class logits; bad label words and multi-token label words are refused with what to fix. The head's logits and
// loss against a float64 reference are in heads.test.ts.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { RoadsterError } from '../../src/errors.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { captureOutputs } from '../../src/interpret/index.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { ggufFromModel } from '../../src/models/gguf-export.ts';
import { withLabelWords, withoutLabelWords } from '../../src/models/label-words.ts';
import { withClassificationHead } from '../../src/models/sequence-classification.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { SHIPPED_MODEL_DIR } from '../../src/demo/shipped-model.ts';
import { labelWordIds } from '../../src/train/data/index.ts';
import { TOLERANCE, assertAllClose } from '../support/all-close.ts';
import { checkEntries } from '../support/grad-check.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';
import { Rng } from '../support/random.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

const LENGTHS = [6, 9, 3];
const TOKENS = [17, 3, 200];

function batch(seed: number) {
  const rng = new Rng(seed);
  const t = Math.max(...LENGTHS);
  return {
    inputIds: LENGTHS.map((n) => Array.from({ length: t }, (_, j) => (j < n ? rng.int(3, 255) : 0))),
    attentionMask: LENGTHS.map((n) => Array.from({ length: t }, (_, j) => (j < n ? 1 : 0))),
    classLabels: LENGTHS.map(() => rng.int(0, TOKENS.length - 1)),
  };
}

/** The vocabulary logits of `tokens` at each row's last real token, [B * K]. */
function pick(logits: HostTensor, tokens: readonly number[]): number[] {
  const [, t, v] = logits.shape;
  const data = logits.data as Float64Array;
  return LENGTHS.flatMap((n, i) => tokens.map((id) => data[(i * t + n - 1) * v + id]));
}

for (const [name, dir] of [['untied (tiny-llama)', TINY_LLAMA], ['tied (tiny-qwen2)', TINY_QWEN2]] as const) {
  test(`class logits are the language model's logits of the label tokens at the last real token, ${name}`, async () => {
    const lm = await CausalLM.fromFolder(dir);
    const words = withLabelWords(lm, { id2label: ['a', 'b', 'c'], tokenIds: TOKENS });
    const b = batch(1);
    const vocab = await lm.run(runtime, { inputIds: b.inputIds, attentionMask: b.attentionMask }, { dtype: 'float64' });
    const classes = await words.run(runtime, b, { dtype: 'float64' });
    assert.deepEqual(classes.logits.shape, [LENGTHS.length, TOKENS.length]);
    assertAllClose(classes.logits.data as Float64Array, pick(vocab.logits, TOKENS), TOLERANCE.float64, 'class logits');
    assert.equal(words.weights, lm.weights, 'the weights are shared, nothing is added');
    assert.equal(withoutLabelWords(words).head.type, 'lm');
  });
}

test('the gradient of a RoAd adapter through the label-words loss equals float64 finite differences', async () => {
  const words = withLabelWords(await CausalLM.fromFolder(TINY_LLAMA), { id2label: ['a', 'b', 'c'], tokenIds: TOKENS });
  const peft = PeftModel.getPeftModel(words, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: ['q_proj', 'down_proj'], initWeights: false }));
  peft.castParameters('default', 'float64');
  const b = batch(2);
  const { grads } = await peft.lossAndGrads(b, { dtype: 'float64' });
  const rng = new Rng(5);
  const params = peft.namedParameters('default');
  assert.ok(params.size >= 4, `${params.size} parameter arrays`);
  for (const [param, data] of params) {
    const entries = Array.from({ length: 3 }, () => rng.int(0, data.length - 1));
    await checkEntries(async () => (await peft.forward(b, { dtype: 'float64' })).loss!, data, grads.get(param)!, entries, param);
  }
});

test('an adapter trained on label words is a CAUSAL_LM adapter of the plain model, with the same class logits there', async () => {
  const lm = await CausalLM.fromFolder(TINY_QWEN2);
  const words = withLabelWords(lm, { id2label: ['a', 'b', 'c'], tokenIds: TOKENS });
  const trained = PeftModel.getPeftModel(words, runtime, roadConfig({ groupSize: 8, targetModules: 'all-linear', initWeights: false }));
  const entry = trained.adapter('default');
  assert.equal(entry.config.taskType, 'CAUSAL_LM');
  assert.deepEqual(trained.modules('default').size, 0, 'nothing in modules_to_save');
  const b = batch(3);
  const classes = await trained.forward(b, { dtype: 'float64' });
  const plain = new PeftModel(lm, runtime);
  plain.addAdapterFromParams('x', entry.config, entry.params);
  const vocab = await plain.forward({ inputIds: b.inputIds, attentionMask: b.attentionMask }, { dtype: 'float64' });
  assertAllClose(classes.logits.data as Float64Array, pick(vocab.logits, TOKENS), TOLERANCE.float64, 'class logits on the plain model');
  // classify names each row's arg-max class
  const named = await trained.classify({ inputIds: b.inputIds, attentionMask: b.attentionMask });
  const data = named.logits.data as Float32Array;
  const expected = LENGTHS.map((_, i) => [0, 1, 2].reduce((best, k) => (data[i * 3 + k] > data[i * 3 + best] ? k : best), 0));
  assert.deepEqual(named.predictions, expected);
  assert.deepEqual(named.labels, expected.map((k) => ['a', 'b', 'c'][k]));
});

test('bad label words are refused with what to fix', async () => {
  const lm = await CausalLM.fromFolder(TINY_LLAMA);
  const refuse = (spec: { id2label: string[]; tokenIds: number[] }, pattern: RegExp) =>
    assert.throws(() => withLabelWords(lm, spec), (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE' && pattern.test(e.message));
  refuse({ id2label: ['only'], tokenIds: [3] }, /at least 2 classes/);
  refuse({ id2label: ['a', 'b'], tokenIds: [3] }, /2 class names but 1 token ids/);
  refuse({ id2label: ['a', 'b'], tokenIds: [3, 1e6] }, /outside the vocabulary/);
  refuse({ id2label: ['a', 'b'], tokenIds: [3, 3] }, /"a" and "b" are the same token/);
  const classifier = withClassificationHead(lm, { id2label: ['a', 'b'] });
  assert.throws(() => withLabelWords(classifier, { id2label: ['a', 'b'], tokenIds: [3, 4] }), /sequence classifier: label words read the language model's head/);
});

test('labelWordIds gives the one token each label word starts after the separator, and refuses words of several tokens', async () => {
  const tokenizer = await Tokenizer.fromFolder(SHIPPED_MODEL_DIR);
  const ids = labelWordIds(tokenizer, ['no', 'yes'], '\nSpam:');
  assert.deepEqual(ids, [tokenizer.encode(' no', { addSpecialTokens: false })[0], tokenizer.encode(' yes', { addSpecialTokens: false })[0]]);
  assert.throws(() => labelWordIds(tokenizer, ['ham', 'spam'], '\nLabel:'), (e: unknown) => e instanceof RoadsterError && /" ham" is 2 tokens/.test(e.message));
  // a separator ending in a space: the words are encoded without one ("yes" alone is two tokens of this vocabulary)
  assert.throws(() => labelWordIds(tokenizer, ['no', 'yes'], '\nSpam: '), (e: unknown) => e instanceof RoadsterError && /"yes" is 2 tokens/.test(e.message));
});

test('a label-words model refuses interventions and GGUF export, and names the way back to the language model', async () => {
  const words = withLabelWords(await CausalLM.fromFolder(TINY_LLAMA), { id2label: ['a', 'b'], tokenIds: [3, 4] });
  const peft = PeftModel.getPeftModel(words, runtime, roadConfig({ groupSize: 8, targetModules: ['q_proj'] }));
  await assert.rejects(captureOutputs(peft, [[1, 2, 3]], []), { code: 'E_USAGE', message: /classifying by label words \(withoutLabelWords/ });
  await assert.rejects(ggufFromModel(words, { vocabulary: 'placeholder' }), { code: 'E_GGUF', message: /label words, not a language model.*withoutLabelWords/ });
});
