// The one invariant suite every model head runs (the language model's, tied and untied, the sequence
// classifier's, and label words on tied and untied lm heads), on tiny models: the forward API equals tracing the
// model and running the graph, and equals a PeftModel whose adapter is the identity; the head's logits and loss (and the chunked loss of recompute) equal a
// float64 reference computed here in plain TypeScript from the decoder's hidden states and the head's weight; the
// gradient of each weight the head lets adapters copy (modules_to_save) equals float64 finite differences. The
// cases are a table over HeadType, so a new head without a case does not compile.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import type { HeadBatch, HeadType } from '../../src/models/heads/head.ts';
import { HEAD_KINDS } from '../../src/models/heads/kinds.ts';
import { withLabelWords } from '../../src/models/label-words.ts';
import { withClassificationHead } from '../../src/models/sequence-classification.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TOLERANCE, assertAllClose } from '../support/all-close.ts';
import { checkEntries } from '../support/grad-check.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';
import { Rng } from '../support/random.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

const LENGTHS = [7, 4, 10];

/** A right-padded batch of random ids, its mask, token labels (-100 on padding and the first tokens) and class labels. */
function batch(seed: number, classes: number): Required<Pick<HeadBatch, 'inputIds' | 'attentionMask' | 'labels' | 'classLabels'>> {
  const rng = new Rng(seed);
  const t = Math.max(...LENGTHS);
  const inputIds = LENGTHS.map((n) => Array.from({ length: t }, (_, j) => (j < n ? rng.int(3, 255) : 0)));
  const attentionMask = LENGTHS.map((n) => Array.from({ length: t }, (_, j) => (j < n ? 1 : 0)));
  const labels = inputIds.map((row, i) => row.map((id, j) => (j < 2 || j >= LENGTHS[i] ? -100 : id)));
  const classLabels = LENGTHS.map(() => rng.int(0, classes - 1));
  return { inputIds, attentionMask, labels, classLabels };
}

/** Decoder hidden states [B, T, C] in float64. */
async function hiddenStates(model: CausalLM, b: HeadBatch): Promise<{ h: Float64Array; t: number; c: number }> {
  const g = new GraphBuilder();
  const { hidden } = model.trace(g, { dtype: 'float64' });
  const out = await (await runtime.compile(g.build({ hidden }))).run(model.graphFeeds(b, 'float64', false));
  return { h: out.hidden.data as Float64Array, t: out.hidden.shape[1], c: out.hidden.shape[2] };
}

/** log Σ exp(z) - z[target] of one row of logits. */
function nll(z: ArrayLike<number>, target: number): number {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) m = Math.max(m, z[i]);
  let s = 0;
  for (let i = 0; i < z.length; i++) s += Math.exp(z[i] - m);
  return m + Math.log(s) - z[target];
}

/** rows · Wᵀ for rows [N, C] and W [K, C]. */
function project(rows: readonly Float64Array[], w: Float32Array | Float64Array, k: number, c: number): Float64Array {
  const out = new Float64Array(rows.length * k);
  rows.forEach((r, n) => {
    for (let y = 0; y < k; y++) {
      let z = 0;
      for (let x = 0; x < c; x++) z += r[x] * w[y * c + x];
      out[n * k + y] = z;
    }
  });
  return out;
}

interface HeadCase {
  readonly name: string;
  readonly model: () => Promise<CausalLM>;
  /** The float64 reference: logits (flattened, as the head's) and loss, from the hidden states. */
  readonly reference: (model: CausalLM, b: ReturnType<typeof batch>) => Promise<{ logits: Float64Array; loss: number }>;
  /** The batch without the head's loss inputs. */
  readonly unlabelled: (b: ReturnType<typeof batch>) => HeadBatch;
}

/** Vocabulary logits at every position; causal-LM loss: position t predicts labels[t + 1]. */
async function lmReference(model: CausalLM, b: ReturnType<typeof batch>): Promise<{ logits: Float64Array; loss: number }> {
  const { h, t, c } = await hiddenStates(model, b);
  const v = model.config.vocabSize;
  const w = model.weights.get(model.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!.data;
  const rows = Array.from({ length: b.inputIds.length * t }, (_, n) => h.subarray(n * c, (n + 1) * c));
  const logits = project(rows, w, v, c);
  let sum = 0;
  let count = 0;
  b.labels.forEach((row, i) => {
    for (let j = 0; j + 1 < t; j++) {
      if (row[j + 1] === -100) continue;
      sum += nll(logits.subarray((i * t + j) * v, (i * t + j + 1) * v), row[j + 1]);
      count++;
    }
  });
  return { logits, loss: sum / count };
}

/** transformers' pooling (each row's last real token), score, mean cross-entropy. */
async function classificationReference(model: CausalLM, b: ReturnType<typeof batch>): Promise<{ logits: Float64Array; loss: number }> {
  const { h, t, c } = await hiddenStates(model, b);
  const w = model.weights.get('score.weight')!;
  const k = w.shape[0];
  const rows = LENGTHS.map((n, i) => h.subarray((i * t + n - 1) * c, (i * t + n) * c));
  const logits = project(rows, w.data, k, c);
  const loss = b.classLabels.reduce((s, y, i) => s + nll(logits.subarray(i * k, (i + 1) * k), y), 0) / rows.length;
  return { logits, loss };
}

/** Label words: the LM head's rows of the class tokens at each row's last real token, mean cross-entropy over them. */
async function labelWordsReference(model: CausalLM, b: ReturnType<typeof batch>): Promise<{ logits: Float64Array; loss: number }> {
  const { h, t, c } = await hiddenStates(model, b);
  assert.equal(model.head.type, 'label-words');
  const ids = model.head.type === 'label-words' ? model.head.tokenIds : [];
  const w = model.weights.get(model.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!.data;
  const rows = ids.map((id) => Float64Array.from(w.subarray(id * c, (id + 1) * c)));
  const score = new Float64Array(ids.length * c);
  rows.forEach((r, k) => score.set(r, k * c));
  const last = LENGTHS.map((n, i) => h.subarray((i * t + n - 1) * c, (i * t + n) * c));
  const k = ids.length;
  const logits = project(last, score, k, c);
  const loss = b.classLabels.reduce((s, y, i) => s + nll(logits.subarray(i * k, (i + 1) * k), y), 0) / last.length;
  return { logits, loss };
}

const CASES: { readonly [T in HeadType]: readonly HeadCase[] } = {
  lm: [
    { name: 'untied lm_head (tiny-llama)', model: () => CausalLM.fromFolder(TINY_LLAMA), reference: lmReference, unlabelled: ({ labels: _, ...b }) => b },
    { name: 'tied embeddings (tiny-qwen2)', model: () => CausalLM.fromFolder(TINY_QWEN2), reference: lmReference, unlabelled: ({ labels: _, ...b }) => b },
  ],
  classification: [
    {
      name: 'score, 3 labels (tiny-llama)',
      model: async () => withClassificationHead(await CausalLM.fromFolder(TINY_LLAMA), { id2label: ['a', 'b', 'c'], seed: 4 }),
      reference: classificationReference,
      unlabelled: ({ classLabels: _, ...b }) => b,
    },
  ],
  'label-words': [
    {
      name: 'three tokens of the untied lm_head (tiny-llama)',
      model: async () => withLabelWords(await CausalLM.fromFolder(TINY_LLAMA), { id2label: ['a', 'b', 'c'], tokenIds: [17, 3, 200] }),
      reference: labelWordsReference,
      unlabelled: ({ classLabels: _, ...b }) => b,
    },
    {
      name: 'two tokens of the tied embeddings (tiny-qwen2)',
      model: async () => withLabelWords(await CausalLM.fromFolder(TINY_QWEN2), { id2label: ['no', 'yes'], tokenIds: [40, 41] }),
      reference: labelWordsReference,
      unlabelled: ({ classLabels: _, ...b }) => b,
    },
  ],
};

test('every head type has a kind in HEAD_KINDS and a case here', () => {
  assert.deepEqual(Object.keys(CASES).sort(), Object.keys(HEAD_KINDS).sort());
});

for (const [type, cases] of Object.entries(CASES) as [HeadType, readonly HeadCase[]][]) {
  for (const c of cases) {
    describe(`${type} head: ${c.name}`, () => {
      test('the model has this head, and lists its weights', async () => {
        const model = await c.model();
        assert.equal(model.head.type, type);
        for (const w of model.head.weightSpecs()) assert.deepEqual(model.weights.get(w.name)?.shape, w.shape, w.name);
        for (const w of model.head.ownWeights()) assert.ok(model.head.weightSpecs().some((s) => s.name === w.name), `${w.name} is one of the head's weights`);
      });

      test('run equals trace → run, and a PeftModel with an identity adapter', async () => {
        const model = await c.model();
        const k = model.head.type === 'lm' ? 2 : model.head.numLabels;
        const b = batch(3, k);
        const ran = await model.run(runtime, b, { dtype: 'float64' });
        const g = new GraphBuilder();
        const { logits, loss } = model.trace(g, { dtype: 'float64', withLoss: true });
        const out = await (await runtime.compile(g.build({ logits, loss: loss! }))).run(model.graphFeeds(b, 'float64', true));
        assertAllClose(ran.logits.data as Float64Array, out.logits.data as Float64Array, TOLERANCE.float64, 'logits');
        assertAllClose([ran.loss!], [Number(out.loss.data[0])], TOLERANCE.float64, 'loss');
        const peft = PeftModel.getPeftModel(model, runtime, roadConfig({ groupSize: 8, targetModules: ['q_proj', 'v_proj'] }));
        const viaPeft = await peft.forward(b, { dtype: 'float64' });
        assertAllClose(viaPeft.logits.data as Float64Array, ran.logits.data as Float64Array, TOLERANCE.float64, 'PeftModel logits');
        assertAllClose([viaPeft.loss!], [ran.loss!], TOLERANCE.float64, 'PeftModel loss');
        const bare = await model.run(runtime, c.unlabelled(b), { dtype: 'float64' });
        assert.equal(bare.loss, undefined, 'no loss without the head\'s loss inputs');
        assertAllClose(bare.logits.data as Float64Array, ran.logits.data as Float64Array, TOLERANCE.float64, 'logits without loss inputs');
      });

      test('logits and loss equal the float64 reference (and the chunked loss of recompute)', async () => {
        const model = await c.model();
        const k = model.head.type === 'lm' ? 2 : model.head.numLabels;
        const b = batch(5, k);
        const ref = await c.reference(model, b);
        const out = await model.run(runtime, b, { dtype: 'float64' });
        assertAllClose(out.logits.data as Float64Array, ref.logits, TOLERANCE.float64, 'logits');
        assertAllClose([out.loss!], [ref.loss], TOLERANCE.float64, 'loss');
        assert.equal(model.head.lossTerms(b), type === 'lm' ? b.labels.flat().filter((l) => l !== -100).length : b.inputIds.length, 'loss terms');
        const g = new GraphBuilder();
        const { loss } = model.trace(g, { dtype: 'float64', withLoss: true, recompute: true, lossChunks: 3 });
        const chunked = await (await runtime.compile(g.build({ loss: loss! }))).run(model.graphFeeds(b, 'float64', true));
        assertAllClose([Number(chunked.loss.data[0])], [ref.loss], TOLERANCE.float64, 'recompute loss');
      });

      // only heads with weights adapters copy (the classification head's score) have this gradient
      if (type === 'classification') test('the gradient of every weight adapters copy (modules_to_save) equals float64 finite differences', async () => {
        const model = await c.model();
        const copies = model.head.ownWeights();
        assert.ok(copies.length > 0, 'the classification head has weights adapters copy');
        const k = model.head.type === 'classification' ? model.head.numLabels : 2;
        const b = batch(7, k);
        const peft = PeftModel.getPeftModel(model, runtime, roadConfig({ groupSize: 8, targetModules: ['q_proj'], modulesToSave: ['score'], initWeights: false }));
        peft.castParameters('default', 'float64');
        const { grads } = await peft.lossAndGrads(b, { dtype: 'float64' });
        const rng = new Rng(11);
        for (const w of copies) {
          const data = peft.modules('default').get(w.name)!;
          const g = grads.get(`base_model.model.${w.name.replace(/\.weight$/, '')}.modules_to_save.default.weight`)!;
          assert.equal(g.length, data.length);
          const entries = Array.from({ length: 6 }, () => rng.int(0, data.length - 1));
          await checkEntries(async () => (await peft.forward(b, { dtype: 'float64' })).loss!, data, g, entries, w.name);
        }
      });
    });
  }
}
