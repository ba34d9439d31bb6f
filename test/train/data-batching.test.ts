// Batches and the eval split: the same list for the same (seed, epoch), every example once per epoch, padding
// and masks, length grouping, packing boundaries (segment ids, the first label of each packed example masked so
// that no loss term predicts across examples) and a deterministic, disjoint split.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../../src/errors.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { attentionBias, positionIds, type TokenBatch } from '../../src/models/attention-inputs.ts';
import {
  IGNORE_INDEX as X,
  LENGTH_GROUP_FACTOR,
  loadDataset,
  TokenizedDataset,
  type BatchOptions,
  type TokenizedExample,
  type TrainBatch,
} from '../../src/train/data/index.ts';

const DATA = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const GPT2 = fileURLToPath(new URL('../fixtures/tokenizers/gpt2/', import.meta.url));
const PAD = 0;

/** Example i has length lengths[i] and ids 1000·(i+1) + t, so rows can be traced back; its first 2 labels are masked. */
function syntheticDataset(lengths: readonly number[], classes = false): TokenizedDataset {
  const examples: TokenizedExample[] = lengths.map((n, i) => {
    const inputIds = Array.from({ length: n }, (_, t) => 1000 * (i + 1) + t);
    const labels = inputIds.map((id, t) => (t < 2 ? X : id));
    return classes ? { inputIds, labels, classLabel: i % 3 } : { inputIds, labels };
  });
  return new TokenizedDataset(examples, { format: 'prompt-completion' });
}

/** Lengths 1..40 in a scrambled but fixed order. */
const LENGTHS = Array.from({ length: 40 }, (_, i) => ((i * 17) % 40) + 3);

function options(mode: BatchOptions['mode'], extra: Partial<BatchOptions> = {}): BatchOptions {
  return { batchSize: 4, seed: 1234, epoch: 0, mode, maxLength: 64, padId: PAD, ...extra };
}

/** The unpadded rows of a batch. */
function rows(batch: TrainBatch): { ids: number[]; labels: number[] }[] {
  return batch.inputIds.map((ids, r) => {
    const n = batch.attentionMask[r].reduce((a, b) => a + b, 0);
    return { ids: ids.slice(0, n), labels: batch.labels[r].slice(0, n) };
  });
}

function exampleIndex(firstId: number): number {
  return Math.floor(firstId / 1000) - 1;
}

describe('batches', () => {
  for (const mode of ['none', 'length', 'pack'] as const) {
    it(`${mode}: the same list for the same (seed, epoch); another epoch or seed reorders`, () => {
      const ds = syntheticDataset(LENGTHS);
      const a = ds.batches(options(mode));
      assert.deepEqual(ds.batches(options(mode)), a);
      assert.deepEqual(syntheticDataset(LENGTHS).batches(options(mode)), a);
      assert.notDeepEqual(ds.batches(options(mode, { epoch: 1 })), a);
      assert.notDeepEqual(ds.batches(options(mode, { seed: 1235 })), a);
    });
  }

  for (const mode of ['none', 'length'] as const) {
    it(`${mode}: every example once per epoch, right-padded with padId, mask 0 and label -100`, () => {
      const ds = syntheticDataset(LENGTHS, true);
      const batches = ds.batches(options(mode, { epoch: 3 }));
      assert.equal(batches.length, 10);
      const seen: number[] = [];
      for (const batch of batches) {
        const width = Math.max(...rows(batch).map((r) => r.ids.length));
        assert.ok(batch.inputIds.every((r) => r.length === width));
        assert.equal(batch.segmentIds, undefined);
        let tokens = 0;
        let loss = 0;
        batch.inputIds.forEach((ids, r) => {
          const i = exampleIndex(ids[0]);
          seen.push(i);
          const { inputIds, labels, classLabel } = ds.examples[i];
          const n = inputIds.length;
          assert.deepEqual(ids, [...inputIds, ...new Array(width - n).fill(PAD)]);
          assert.deepEqual(batch.attentionMask[r], [...new Array(n).fill(1), ...new Array(width - n).fill(0)]);
          assert.deepEqual(batch.labels[r], [...labels, ...new Array(width - n).fill(X)]);
          assert.equal(batch.classLabels?.[r], classLabel);
          tokens += n;
          loss += n - 2;
        });
        assert.equal(batch.tokens, tokens);
        assert.equal(batch.lossTokens, loss);
      }
      assert.deepEqual(seen.sort((a, b) => a - b), ds.examples.map((_, i) => i));
    });
  }

  it('length: within a mega-batch, batches are consecutive runs of the lengths sorted longest first', () => {
    const lengths = Array.from({ length: 130 }, (_, i) => ((i * 37) % 61) + 1);
    const ds = syntheticDataset(lengths);
    const batchSize = 2;
    const batches = ds.batches(options('length', { batchSize, maxLength: 100 }));
    assert.equal(batches.length, 65);
    // 130 examples, mega-batches of 100 and 30: every batch's rows are adjacent in its mega-batch's sorted order,
    // so the padding of a batch is at most the gap between two neighbouring lengths of that mega-batch
    assert.equal(LENGTH_GROUP_FACTOR * batchSize, 100);
    for (const batch of batches) {
      const lens = rows(batch).map((r) => r.ids.length);
      assert.ok(lens[0] >= lens[1], 'longest first');
    }
    const padding = batches.reduce((n, b) => n + b.inputIds.length * b.inputIds[0].length - b.tokens, 0);
    const unsorted = ds.batches(options('none', { batchSize, maxLength: 100 }));
    const unsortedPadding = unsorted.reduce((n, b) => n + b.inputIds.length * b.inputIds[0].length - b.tokens, 0);
    assert.ok(padding * 5 < unsortedPadding, `length grouping pads ${padding}, no grouping ${unsortedPadding}`);
  });

  it('pack: rows of at most maxLength, segment ids 1, 2, ..., no example split, first label of each example masked', () => {
    const ds = syntheticDataset(LENGTHS);
    const maxLength = 64;
    const batches = ds.batches(options('pack', { maxLength }));
    const seen: number[] = [];
    for (const batch of batches) {
      assert.ok(batch.segmentIds !== undefined);
      assert.equal(batch.classLabels, undefined);
      assert.ok(batch.inputIds[0].length <= maxLength);
      batch.inputIds.forEach((ids, r) => {
        const seg = batch.segmentIds?.[r] as number[];
        let t = 0;
        let expectedSegment = 1;
        while (t < ids.length && seg[t] !== 0) {
          assert.equal(seg[t], expectedSegment);
          const i = exampleIndex(ids[t]);
          seen.push(i);
          const { inputIds, labels } = ds.examples[i];
          const n = inputIds.length;
          assert.deepEqual(ids.slice(t, t + n), inputIds, 'an example is never split');
          assert.ok(seg.slice(t, t + n).every((s) => s === expectedSegment));
          assert.deepEqual(batch.labels[r].slice(t, t + n), [X, ...labels.slice(1)]);
          assert.ok(batch.attentionMask[r].slice(t, t + n).every((m) => m === 1));
          t += n;
          expectedSegment++;
        }
        assert.ok(ids.slice(t).every((id) => id === PAD));
        assert.ok(batch.labels[r].slice(t).every((l) => l === X));
        assert.ok(batch.attentionMask[r].slice(t).every((m) => m === 0));
      });
      const rowsOf = batch.segmentIds as number[][];
      assert.equal(batch.tokens, rowsOf.flat().filter((s) => s !== 0).length);
    }
    assert.deepEqual(seen.sort((a, b) => a - b), ds.examples.map((_, i) => i));
    // greedy packing: a row is closed only when the next example does not fit
    const sums = batches.flatMap((b) => (b.segmentIds as number[][]).map((s) => s.filter((x) => x !== 0).length));
    assert.ok(sums.every((s) => s <= maxLength));
    assert.ok(sums.length < ds.size / 2);
  });

  it('pack: no loss term predicts across a boundary (logits at t predict labels[t+1])', async () => {
    // real prompt-completion examples, where the completion runs to the last token (EOS) of each example
    const tokenizer = await Tokenizer.fromFolder(GPT2);
    const { dataset } = await loadDataset(join(DATA, 'prompt-completion.jsonl'), { tokenizer, maxLength: 16 });
    const text = await loadDataset(join(DATA, 'text.jsonl'), { tokenizer, maxLength: 16 });
    for (const ds of [dataset, text.dataset]) {
      const [batch] = ds.batches({ batchSize: 1, seed: 7, epoch: 0, mode: 'pack', maxLength: 16, padId: 50256 });
      const seg = (batch.segmentIds as number[][])[0];
      const labels = batch.labels[0];
      assert.equal(Math.max(...seg), 2, 'both examples share the row');
      let terms = 0;
      for (let t = 0; t + 1 < labels.length; t++) {
        if (labels[t + 1] === X) continue;
        terms++;
        assert.equal(seg[t], seg[t + 1], `position ${t} (segment ${seg[t]}) would predict a token of segment ${seg[t + 1]}`);
      }
      assert.equal(batch.lossTokens, terms);
      // the boundary: the last token of example 1 (EOS, with a label) is followed by example 2's first token,
      // whose label is masked; without the mask, the EOS position would learn to predict it
      const boundary = seg.indexOf(2);
      assert.equal(batch.inputIds[0][boundary - 1], 50256);
      assert.notEqual(labels[boundary - 1], X);
      assert.equal(labels[boundary], X);
      // positions restart and attention stays inside each example
      const tb: TokenBatch = batch;
      const pos = Array.from(positionIds(tb).data as BigInt64Array, Number);
      assert.equal(pos[boundary], 0);
      const bias = attentionBias(tb, 'float32').data as Float32Array;
      const t = seg.length;
      assert.equal(bias[boundary * t + boundary - 1] < 0, true, 'example 2 does not see example 1');
      assert.equal(bias[boundary * t + boundary], 0);
    }
  });

  it('pack with classify examples, too long examples and bad options are E_USAGE', async () => {
    const tokenizer = await Tokenizer.fromFolder(GPT2);
    const { dataset } = await loadDataset(join(DATA, 'classification.jsonl'), { tokenizer, maxLength: 16, labelMode: 'classify' });
    const usage = (fn: () => unknown, part: string): void => {
      assert.throws(fn, (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE' && e.message.includes(part), part);
    };
    usage(() => dataset.batches(options('pack')), "mode 'pack' needs token labels");
    const [batch] = dataset.batches(options('length'));
    assert.equal(batch.lossTokens, 0);
    assert.deepEqual([...(batch.classLabels ?? [])].sort(), [0, 1, 1]);
    const ds = syntheticDataset([5, 9]);
    usage(() => ds.batches(options('pack', { maxLength: 8 })), 'example 1 has 9 tokens, more than maxLength 8');
    usage(() => ds.batches(options('none', { maxLength: 8 })), 'more than maxLength 8');
    usage(() => ds.batches(options('pack', { maxLength: undefined })), 'needs maxLength');
    usage(() => ds.batches(options('none', { batchSize: 0 })), 'batchSize');
    usage(() => ds.batches(options('none', { epoch: -1 })), 'epoch');
    usage(() => ds.batches(options('none', { seed: 0.5 })), 'seed');
    usage(() => ds.batches(options('none', { padId: -1 })), 'padId');
    assert.deepEqual(syntheticDataset([]).batches(options('length')), []);
  });
});

describe('batchSource', () => {
  it("gives the trainer each epoch's batches, the same list on every call, and checks options up front", () => {
    const ds = syntheticDataset(LENGTHS);
    const { epoch: _, ...rest } = options('length');
    const source = ds.batchSource(rest);
    assert.equal(source.size, 40);
    assert.deepEqual(source.batchesForEpoch(2), ds.batches(options('length', { epoch: 2 })));
    assert.equal(source.batchesForEpoch(2), source.batchesForEpoch(2));
    assert.deepEqual(source.batchesForEpoch(0), ds.batches(options('length')));
    assert.throws(() => ds.batchSource({ ...rest, maxLength: 8 }), /more than maxLength 8/);
    assert.throws(() => ds.batchSource({ ...rest, mode: 'sorted' as never }), /mode must be one of length, pack, none/);
  });
});

describe('split', () => {
  it('is deterministic, disjoint and complete, with round(n·fraction) eval examples', () => {
    const ds = syntheticDataset(LENGTHS);
    const { train, eval: held } = ds.split(0.2, 42);
    assert.equal(held.size, 8);
    assert.equal(train.size, 32);
    const ids = (d: TokenizedDataset): number[] => d.examples.map((e) => exampleIndex(e.inputIds[0]));
    const all = [...ids(train), ...ids(held)].sort((a, b) => a - b);
    assert.deepEqual(all, ds.examples.map((_, i) => i));
    assert.ok(ids(held).every((i) => !ids(train).includes(i)));
    // file order inside each part
    assert.deepEqual(ids(held), [...ids(held)].sort((a, b) => a - b));
    const again = ds.split(0.2, 42);
    assert.deepEqual(ids(again.eval), ids(held));
    assert.notDeepEqual(ids(ds.split(0.2, 43).eval), ids(held));
    assert.equal(held.info, ds.info);
  });

  it('holds out at least one example, keeps one to train on, and accepts 0', () => {
    const ds = syntheticDataset([3, 4, 5]);
    assert.equal(ds.split(0.01, 1).eval.size, 1);
    assert.equal(ds.split(0, 1).eval.size, 0);
    assert.equal(ds.split(0, 1).train.size, 3);
    assert.throws(() => syntheticDataset([3]).split(0.5, 1), /Cannot hold out 1 of 1/);
    assert.throws(() => ds.split(1, 1), /evalFraction must be in \[0, 1\)/);
  });

  it('stats', () => {
    const ds = syntheticDataset([3, 4, 5]);
    assert.deepEqual(ds.stats, { examples: 3, tokens: 12, lossTokens: 1 + 2 + 3, minLength: 3, maxLength: 5, meanLength: 4 });
    assert.equal(ds.tokens, 12);
    assert.equal(ds.size, 3);
  });
});
