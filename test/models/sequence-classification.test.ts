// Sequence classification against a float64 reference computed here in plain TypeScript from the causal LM's
// final hidden states (validated against transformers by the parity tests) and the head weight, as
// transformers' LlamaForSequenceClassification does it: the rightmost token that is not the pad id, score,
// mean cross-entropy. Also: the vocabulary head is not in the graph, the head init is seeded, classifier
// checkpoints load, and bad input gives typed errors.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { liveNodes } from '../../src/graph/ir.ts';
import { Op } from '../../src/graph/ops.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import {
  SCORE_WEIGHT,
  classifySequences,
  traceSequenceClassification,
  withClassificationHead,
} from '../../src/models/sequence-classification.ts';
import { sequenceClassificationOf } from '../../src/models/classification-config.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TOLERANCE, assertAllClose, relativeError } from '../support/all-close.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';
import { Rng } from '../support/random.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

const PAD = 0;
const LENGTHS = [7, 4, 10];
const LABELS = [2, 0, 1];

/** A right-padded batch of random ids (never the pad id), its attention mask and class labels. */
function batch(seed: number) {
  const rng = new Rng(seed);
  const t = Math.max(...LENGTHS);
  const inputIds = LENGTHS.map((n) => Array.from({ length: t }, (_, j) => (j < n ? rng.int(3, 255) : PAD)));
  const attentionMask = LENGTHS.map((n) => Array.from({ length: t }, (_, j) => (j < n ? 1 : 0)));
  return { inputIds, attentionMask, classLabels: LABELS };
}

/** The float64 reference: transformers' pooling (rightmost non-pad token), score, mean cross-entropy. */
async function reference(base: CausalLM, weight: Float32Array, k: number, b: ReturnType<typeof batch>): Promise<{ logits: Float64Array; loss: number }> {
  const g = new GraphBuilder();
  const { hidden } = base.trace(g, { dtype: 'float64' });
  const out = await (await runtime.compile(g.build({ hidden }))).run(base.feeds(b, 'float64'));
  const [, t, c] = out.hidden.shape;
  const h = out.hidden.data as Float64Array;
  const logits = new Float64Array(LENGTHS.length * k);
  let loss = 0;
  b.inputIds.forEach((row, i) => {
    let last = 0;
    row.forEach((id, j) => (last = id !== PAD ? j : last));
    for (let y = 0; y < k; y++) {
      let z = 0;
      for (let x = 0; x < c; x++) z += h[(i * t + last) * c + x] * weight[y * c + x];
      logits[i * k + y] = z;
    }
    const row0 = logits.subarray(i * k, (i + 1) * k);
    const m = Math.max(...row0);
    loss += m + Math.log(row0.reduce((s, z) => s + Math.exp(z - m), 0)) - row0[b.classLabels[i]];
  });
  return { logits, loss: loss / LENGTHS.length };
}

for (const [name, folder] of [['llama (untied lm_head)', TINY_LLAMA], ['qwen2 (tied embeddings)', TINY_QWEN2]] as const) {
  test(`class logits and loss match the float64 reference: ${name}`, async () => {
    const base = await CausalLM.fromFolder(folder);
    const cls = withClassificationHead(base, { id2label: ['neg', 'pos', 'mixed'], seed: 3 });
    const weight = cls.weights.get(SCORE_WEIGHT)!;
    assert.deepEqual(weight.shape, [3, base.config.hiddenSize]);
    const b = batch(11);
    const ref = await reference(base, weight.data, 3, b);
    const f64 = await classifySequences(cls, runtime, b, { dtype: 'float64' });
    assert.deepEqual(f64.logits.shape, [3, 3]);
    assertAllClose(f64.logits.data as Float64Array, ref.logits, TOLERANCE.float64, 'float64 class logits');
    assertAllClose([f64.loss!], [ref.loss], TOLERANCE.float64, 'float64 loss');
    const f32 = await classifySequences(cls, runtime, b);
    assert.ok(relativeError(f32.logits.data as Float32Array, ref.logits) < 1e-5, 'float32 class logits');
    assert.ok(Math.abs(f32.loss! - ref.loss) < 1e-5 * ref.loss, `float32 loss ${f32.loss} vs ${ref.loss}`);
    // Padding does not move a row's result: each row alone gives its logits.
    const alone = await classifySequences(cls, runtime, { inputIds: [b.inputIds[1].slice(0, LENGTHS[1])] }, { dtype: 'float64' });
    assertAllClose(alone.logits.data as Float64Array, ref.logits.subarray(3, 6), TOLERANCE.float64, 'row 1 unpadded');
  });
}

test('the classification graph never computes the [B, T, V] vocabulary logits', async () => {
  const cls = withClassificationHead(await CausalLM.fromFolder(TINY_LLAMA), { id2label: ['a', 'b'] });
  assert.equal(cls.weights.has('lm_head.weight'), false, 'no lm_head, as LlamaForSequenceClassification');
  const g = new GraphBuilder();
  const { logits, loss } = traceSequenceClassification(cls, g, { withLoss: true });
  const graph = g.build({ logits, loss: loss! });
  const vocab = cls.config.vocabSize;
  const live = liveNodes(graph).filter((n) => n.op !== Op.Initializer && n.op !== Op.Input);
  assert.ok(live.some((n) => n.op === Op.MatMul), 'the live graph has the model\'s matmuls');
  const wide = live.filter((n) => n.outputs.some((v) => graph.values[v].shape.at(-1) === vocab));
  assert.deepEqual(wide.map((n) => n.name), [], 'no live node with a vocabulary-sized last axis');
  await assert.rejects(cls.forward(runtime, { inputIds: [[1, 2, 3]] }), { code: 'E_USAGE', message: /sequence classifier without an lm_head/ });
});

test('a new head is N(0, initializer_range) from the seed: the same seed gives the same head', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const a = withClassificationHead(base, { id2label: ['x', 'y'], seed: 5 }).weights.get(SCORE_WEIGHT)!.data;
  const b = withClassificationHead(base, { id2label: ['x', 'y'], seed: 5 }).weights.get(SCORE_WEIGHT)!.data;
  const c = withClassificationHead(base, { id2label: ['x', 'y'], seed: 6 }).weights.get(SCORE_WEIGHT)!.data;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const std = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
  assert.ok(std > 0.01 && std < 0.03, `std ${std} near initializer_range 0.02`);
});

test('config.json of classifiers: id2label, num_labels defaults, refused problem types', () => {
  assert.equal(sequenceClassificationOf({ architectures: ['LlamaForCausalLM'] }, 'c'), null);
  assert.deepEqual(sequenceClassificationOf({ architectures: ['LlamaForSequenceClassification'], id2label: { 1: 'pos', 0: 'neg' }, pad_token_id: 0 }, 'c'), {
    id2label: ['neg', 'pos'],
    padTokenId: 0,
  });
  assert.deepEqual(sequenceClassificationOf({ architectures: ['Qwen2ForSequenceClassification'], num_labels: 3 }, 'c')?.id2label, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
  assert.deepEqual(sequenceClassificationOf({ architectures: ['LlamaForSequenceClassification'] }, 'c')?.id2label, ['LABEL_0', 'LABEL_1']);
  assert.throws(() => sequenceClassificationOf({ architectures: ['LlamaForSequenceClassification'], num_labels: 1 }, 'c'), { code: 'E_CONFIG', message: /regression/ });
  assert.throws(() => sequenceClassificationOf({ architectures: ['LlamaForSequenceClassification'], problem_type: 'multi_label_classification' }, 'c'), {
    code: 'E_CONFIG',
    message: /single-label/,
  });
  assert.throws(() => sequenceClassificationOf({ architectures: ['LlamaForSequenceClassification'], id2label: { 0: 'a', 2: 'b' } }, 'c'), { code: 'E_CONFIG' });
});

test('bad input gives typed errors', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  assert.throws(() => withClassificationHead(base, { id2label: ['only'] }), { code: 'E_CONFIG', message: /at least 2 labels/ });
  const cls = withClassificationHead(base, { id2label: ['a', 'b'] });
  assert.throws(() => withClassificationHead(cls, { id2label: ['a', 'b', 'c'] }), { code: 'E_WEIGHTS', message: /2 labels, not 3/ });
  await assert.rejects(classifySequences(cls, runtime, { inputIds: [[4, 5]], classLabels: [2] }), { code: 'E_USAGE', message: /classLabels\[0\] = 2/ });
  await assert.rejects(classifySequences(cls, runtime, { inputIds: [[4, 5]], classLabels: [0, 1] }), { code: 'E_USAGE', message: /2 entries but the batch has 1/ });
  await assert.rejects(classifySequences(cls, runtime, { inputIds: [[4, 5]], attentionMask: [[0, 0]] }), { code: 'E_USAGE', message: /no real token/ });
  await assert.rejects(classifySequences(base, runtime, { inputIds: [[4, 5]] }), { code: 'E_USAGE', message: /no sequence-classification head/ });
});
