// The demo's head-only baseline (a linear probe): the frozen base model with only its classification head
// trained, on the same batches, steps, schedule and clipping as the adapters. The backbone is frozen, so each
// e-mail's pooled hidden state (the final normed state of its last token, what `score` reads) is computed once:
// a classifier whose head is the C×C identity returns exactly that state as its "class logits". Then the head
// W [K, C] (drawn as withClassificationHead draws it) is trained in TypeScript: logits z = W h, loss = mean
// cross-entropy, dL/dW = (softmax(z) − onehot(y)) hᵀ / B, AdamW as the trainer's.
// Letters: B batch, C hidden, K labels.

import type { CausalLM } from '../models/causal-lm.ts';
import { SCORE_WEIGHT, classifySequences, withClassificationHead } from '../models/sequence-classification.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { seededNormals } from '../seeded-random.ts';
import type { BatchSource, TrainBatch } from '../train/batch.ts';
import type { TokenizedExample } from '../train/data/index.ts';
import { AdamW, clipCoefficient, globalNorm } from '../train/optimizer.ts';
import { lrFactor } from '../train/schedule.ts';
import type { TrainConfig } from '../train/trainer.ts';
import { padBatch } from './classify-set.ts';

/** The pooled hidden state [C] of each distinct token sequence, keyed by its ids. */
export type PooledFeatures = Map<string, Float32Array>;

/** The key of an example's tokens in PooledFeatures. */
export const poolFeaturesKey = (ids: readonly number[]): string => ids.join(',');

/** The real tokens of a right-padded batch row. */
function rowIds(batch: TrainBatch, row: number): number[] {
  const mask = batch.attentionMask[row];
  return batch.inputIds[row].slice(0, mask.reduce((a, b) => a + b, 0));
}

/**
 * The pooled hidden state of every example (what a `score` head reads), through an identity head.
 * `onProgress` gets the number of examples done.
 */
export async function pooledFeatures(
  base: CausalLM,
  runtime: Runtime,
  examples: readonly TokenizedExample[],
  options: { batchSize?: number; padId?: number; onProgress?: (done: number) => void } = {},
): Promise<PooledFeatures> {
  const c = base.config.hiddenSize;
  const identity = new Float32Array(c * c);
  for (let i = 0; i < c; i++) identity[i * c + i] = 1;
  const probe = withClassificationHead(base, { id2label: Array.from({ length: c }, (_, i) => `h${i}`) }).withWeights(
    new Map([[SCORE_WEIGHT, { shape: [c, c], data: identity }]]),
  );
  const batchSize = options.batchSize ?? 16;
  const pad = options.padId ?? 0;
  const out: PooledFeatures = new Map();
  for (let start = 0; start < examples.length; start += batchSize) {
    const chunk = examples.slice(start, start + batchSize);
    const { logits } = await classifySequences(probe, runtime, padBatch(chunk, pad)); // [B, C]
    const data = logits.data as Float32Array;
    chunk.forEach((e, i) => out.set(poolFeaturesKey(e.inputIds), data.slice(i * c, (i + 1) * c)));
    options.onProgress?.(Math.min(examples.length, start + batchSize));
  }
  return out;
}

/** A trained probe head [K, C] and its loss per step. */
export interface ProbeResult {
  readonly weight: Float32Array;
  readonly losses: readonly number[];
  readonly timeSeconds: number;
}

/** Class logits z = W h of one feature vector. */
function logitsOf(weight: Float32Array, h: Float32Array, k: number): number[] {
  const c = h.length;
  return Array.from({ length: k }, (_, j) => {
    let s = 0;
    for (let i = 0; i < c; i++) s += weight[j * c + i] * h[i];
    return s;
  });
}

function softmax(z: readonly number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * Trains the head on `source`'s batches for `config.maxSteps` steps with the trainer's schedule, AdamW and
 * clipping (one micro-batch per step). `seed` draws the initial head as withClassificationHead does.
 */
export function trainProbe(
  features: PooledFeatures,
  source: BatchSource,
  k: number,
  config: Pick<TrainConfig, 'lr' | 'betas' | 'eps' | 'weightDecay' | 'schedule' | 'warmupSteps' | 'maxSteps' | 'maxGradNorm'>,
  options: { seed?: number; std?: number; onStep?: (step: number, loss: number) => void } = {},
): ProbeResult {
  const started = performance.now();
  const c = features.values().next().value!.length;
  const next = seededNormals(options.seed ?? 0);
  const weight = new Float32Array(k * c);
  for (let i = 0; i < weight.length; i++) weight[i] = next() * (options.std ?? 0.02);
  const params = new Map([['score.weight', weight]]);
  const optimizer = new AdamW({ lr: config.lr, betas: config.betas, eps: config.eps, weightDecay: config.weightDecay });
  const total = config.maxSteps ?? 0;
  const losses: number[] = [];
  let epoch = 0;
  let batches = source.batchesForEpoch(epoch);
  let index = 0;
  for (let step = 0; step < total; step++) {
    if (index >= batches.length) [epoch, index, batches] = [epoch + 1, 0, source.batchesForEpoch(epoch + 1)];
    const batch = batches[index++];
    const rows = batch.inputIds.length;
    const grad = new Float64Array(k * c);
    let loss = 0;
    for (let r = 0; r < rows; r++) {
      const h = features.get(poolFeaturesKey(rowIds(batch, r)))!; // [C]
      const y = batch.classLabels![r];
      const p = softmax(logitsOf(weight, h, k)); // [K]
      loss -= Math.log(p[y]) / rows;
      for (let j = 0; j < k; j++) {
        const d = (p[j] - (j === y ? 1 : 0)) / rows; // d(mean CE)/dz_j
        for (let i = 0; i < c; i++) grad[j * c + i] += d * h[i];
      }
    }
    const lr = config.lr * lrFactor({ kind: config.schedule, warmupSteps: config.warmupSteps, totalSteps: total }, step);
    const scale = config.maxGradNorm === null ? 1 : clipCoefficient(globalNorm([grad]), config.maxGradNorm);
    optimizer.step(params, new Map([['score.weight', grad]]), lr, scale);
    losses.push(loss);
    options.onStep?.(step + 1, loss);
  }
  return { weight, losses, timeSeconds: (performance.now() - started) / 1000 };
}

/** Arg-max class of each example under the probe head. */
export function probePredictions(features: PooledFeatures, weight: Float32Array, k: number, examples: readonly TokenizedExample[]): number[] {
  return examples.map((e) => {
    const z = logitsOf(weight, features.get(poolFeaturesKey(e.inputIds))!, k);
    return z.indexOf(Math.max(...z));
  });
}
