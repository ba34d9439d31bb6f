// The demo's head-only baseline: the pooled features of the identity-head trick are what a real `score` head
// reads (probe logits equal the classifier's), and the probe's training fits separable data.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { poolFeaturesKey, pooledFeatures, probePredictions, trainProbe } from '../../src/demo/linear-probe.ts';
import { SHIPPED_MODEL_DIR } from '../../src/demo/shipped-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { SCORE_WEIGHT, classifySequences, withClassificationHead } from '../../src/models/sequence-classification.ts';
import { Runtime } from '../../src/runtime/index.ts';
import type { BatchSource, TrainBatch } from '../../src/train/batch.ts';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/trainer.ts';

test('pooled features through an identity head give the logits of any score head', async () => {
  const runtime = new Runtime({ threads: 1 });
  try {
    const base = await CausalLM.fromFolder(SHIPPED_MODEL_DIR);
    const examples = [{ inputIds: [5, 9, 300, 12], labels: [], classLabel: 0 }, { inputIds: [77, 8], labels: [], classLabel: 1 }];
    const features = await pooledFeatures(base, runtime, examples, { padId: 0 });
    const classifier = withClassificationHead(base, { id2label: ['a', 'b'], seed: 3 });
    const score = classifier.weights.get(SCORE_WEIGHT)!.data as Float32Array;
    const { logits } = await classifySequences(classifier, runtime, { inputIds: [[5, 9, 300, 12], [77, 8, 0, 0]], attentionMask: [[1, 1, 1, 1], [1, 1, 0, 0]] });
    examples.forEach((e, row) => {
      const h = features.get(poolFeaturesKey(e.inputIds))!;
      for (let j = 0; j < 2; j++) {
        const z = h.reduce((s, v, i) => s + v * score[j * 256 + i], 0);
        assert.ok(Math.abs(z - (logits.data as Float32Array)[row * 2 + j]) < 1e-4, `row ${row} class ${j}: ${z}`);
      }
    });
  } finally {
    await runtime.release();
  }
});

test('the probe learns a separable problem with the trainer schedule', () => {
  // class = sign of the first coordinate, in 4 dimensions
  const points = [[1, 0.2, -0.3, 0], [2, -1, 0, 1], [-1, 0.5, 0.1, 0], [-2, 0, 1, -1]];
  const examples = points.map((_, i) => ({ inputIds: [i + 1], labels: [], classLabel: points[i][0] > 0 ? 1 : 0 }));
  const features = new Map(examples.map((e, i) => [poolFeaturesKey(e.inputIds), Float32Array.from(points[i])]));
  const batch: TrainBatch = { inputIds: examples.map((e) => e.inputIds), attentionMask: examples.map(() => [1]), labels: examples.map(() => [-100]), classLabels: examples.map((e) => e.classLabel), tokens: 4, lossTokens: 0 };
  const source: BatchSource = { size: 4, batchesForEpoch: () => [batch] };
  const result = trainProbe(features, source, 2, { ...DEFAULT_TRAIN_CONFIG, lr: 0.1, maxSteps: 100, warmupSteps: 10, schedule: 'cosine' });
  assert.equal(result.losses.length, 100);
  assert.ok(result.losses[99] < result.losses[0] / 4, `${result.losses[0]} -> ${result.losses[99]}`);
  assert.deepEqual(probePredictions(features, result.weight, 2, examples), [1, 1, 0, 0]);
});
