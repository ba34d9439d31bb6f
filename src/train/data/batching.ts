// The batches of one epoch, a pure function of (examples, seed, epoch, options) so that a resumed run rebuilds
// the same list and continues at batch k. Three modes:
// - 'length': as transformers' LengthGroupedSampler, shuffle, cut into mega-batches of 50 × batchSize, sort each
//   by length (longest first) and cut batches; then shuffle the batch order. Little padding, random order.
// - 'pack': concatenate shuffled examples into rows of at most maxLength tokens (an example never straddles two
//   rows), with segment ids 1, 2, ... per example so attention and positions restart at each one (see
//   models/attention-inputs.ts). The label of each example's FIRST token is set to -100: the model predicts
//   labels[t + 1] from position t, so that label is the term in which the last token of the previous example
//   would predict the first token of the next one.
// - 'none': shuffle, cut batches.
// Rows are right-padded to the longest row of their batch: padId, attention 0, label -100, segment 0.

import { RoadsterError } from '../../errors.ts';
import type { TrainBatch } from '../batch.ts';
import { checkSeed, permutation, seededStream, shuffleInPlace } from './shuffle.ts';
import { countLossTerms, IGNORE_INDEX, type TokenizedExample } from './tokenize.ts';

export const BATCH_MODES = ['length', 'pack', 'none'] as const;
export type BatchMode = (typeof BATCH_MODES)[number];

/** Mega-batch size of the length-grouped sampler, in batches (transformers' `mega_batch_mult` default). */
export const LENGTH_GROUP_FACTOR = 50;

/** The stream of data-order random numbers (the eval split uses another). */
const BATCH_STREAM = 2;

export interface BatchOptions {
  /** Rows per batch (examples, or packed rows in 'pack' mode). */
  readonly batchSize: number;
  readonly seed: number;
  /** 0-based epoch; each epoch has its own order. */
  readonly epoch: number;
  readonly mode: BatchMode;
  /** Row length of 'pack' mode (required there); in the other modes, a bound every example must respect. */
  readonly maxLength?: number;
  /** Id written into padding positions (masked out, so any valid id works). */
  readonly padId: number;
}

/** One training batch (the trainer's type): `inputIds`, `attentionMask` and `segmentIds` fit `TokenBatch`. */
export type { TrainBatch };

function checkCount(value: number, what: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RoadsterError('E_USAGE', `${what} must be an integer ≥ ${min}, found ${value}.`);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Pads rows of (ids, labels, segments) to one length and counts tokens. */
function padBatch(rows: { ids: number[]; labels: number[]; segments?: number[]; classLabel?: number }[], padId: number): TrainBatch {
  const width = Math.max(...rows.map((r) => r.ids.length));
  const pad = (row: readonly number[], value: number): number[] => [...row, ...new Array<number>(width - row.length).fill(value)];
  const batch: TrainBatch = {
    inputIds: rows.map((r) => pad(r.ids, padId)),
    attentionMask: rows.map((r) => pad(new Array<number>(r.ids.length).fill(1), 0)),
    labels: rows.map((r) => pad(r.labels, IGNORE_INDEX)),
    tokens: rows.reduce((n, r) => n + r.ids.length, 0),
    lossTokens: rows.reduce((n, r) => n + countLossTerms(r.labels), 0),
  };
  const segments = rows.every((r) => r.segments !== undefined) ? { segmentIds: rows.map((r) => pad(r.segments as number[], 0)) } : {};
  const classes = rows.every((r) => r.classLabel !== undefined) ? { classLabels: rows.map((r) => r.classLabel as number) } : {};
  return { ...batch, ...segments, ...classes };
}

function exampleRow(example: TokenizedExample): { ids: number[]; labels: number[]; classLabel?: number } {
  return { ids: example.inputIds, labels: example.labels, classLabel: example.classLabel };
}

/** Length-grouped batches: indices of each batch, batch order shuffled. */
function lengthGrouped(order: number[], examples: readonly TokenizedExample[], batchSize: number, uniform: () => number): number[][] {
  const batches: number[][] = [];
  for (const mega of chunk(order, LENGTH_GROUP_FACTOR * batchSize)) {
    mega.sort((a, b) => examples[b].inputIds.length - examples[a].inputIds.length);
    batches.push(...chunk(mega, batchSize));
  }
  return shuffleInPlace(batches, uniform);
}

/** Packed rows: consecutive examples of `order` while they fit in `maxLength`. */
function packRows(order: number[], examples: readonly TokenizedExample[], maxLength: number): { ids: number[]; labels: number[]; segments: number[] }[] {
  const rows: { ids: number[]; labels: number[]; segments: number[] }[] = [];
  let row = { ids: [] as number[], labels: [] as number[], segments: [] as number[] };
  let segment = 0;
  for (const index of order) {
    const { inputIds, labels } = examples[index];
    if (row.ids.length + inputIds.length > maxLength) {
      rows.push(row);
      row = { ids: [], labels: [], segments: [] };
      segment = 0;
    }
    segment++;
    row.ids.push(...inputIds);
    row.labels.push(IGNORE_INDEX, ...labels.slice(1));
    row.segments.push(...new Array<number>(inputIds.length).fill(segment));
  }
  if (row.ids.length > 0) rows.push(row);
  return rows;
}

/**
 * Checks batch options against the examples (epoch aside).
 * @throws RoadsterError E_USAGE on bad options, an example longer than maxLength, or packing examples that carry
 *   no token labels (classify mode)
 */
export function checkBatchOptions(examples: readonly TokenizedExample[], options: Omit<BatchOptions, 'epoch'>): void {
  const { batchSize, seed, mode, maxLength, padId } = options;
  checkCount(batchSize, 'batchSize', 1);
  checkCount(padId, 'padId', 0);
  checkSeed(seed);
  if (!BATCH_MODES.includes(mode)) {
    throw new RoadsterError('E_USAGE', `batches: mode must be one of ${BATCH_MODES.join(', ')}, found ${JSON.stringify(mode)}.`);
  }
  if (mode === 'pack' && maxLength === undefined) throw new RoadsterError('E_USAGE', "batches: mode 'pack' needs maxLength (the row length).");
  if (maxLength !== undefined) {
    checkCount(maxLength, 'maxLength', 1);
    const long = examples.findIndex((e) => e.inputIds.length > maxLength);
    if (long >= 0) {
      throw new RoadsterError('E_USAGE', `batches: example ${long} has ${examples[long].inputIds.length} tokens, more than ` +
        `maxLength ${maxLength}; load the dataset with maxLength ≤ ${maxLength}.`);
    }
  }
  if (mode === 'pack' && examples.some((e) => e.labels.every((l) => l === IGNORE_INDEX))) {
    throw new RoadsterError('E_USAGE', "batches: mode 'pack' needs token labels; this dataset has examples without " +
      "any (classification with labelMode 'classify'): use mode 'length'.");
  }
}

/**
 * The batches of epoch `options.epoch`: the same list for the same (examples, options) on every call.
 * @throws RoadsterError E_USAGE as `checkBatchOptions`, or for a negative epoch
 */
export function makeBatches(examples: readonly TokenizedExample[], options: BatchOptions): TrainBatch[] {
  checkBatchOptions(examples, options);
  const { batchSize, seed, epoch, mode, maxLength, padId } = options;
  checkCount(epoch, 'epoch', 0);
  const uniform = seededStream(seed, BATCH_STREAM, epoch);
  const order = permutation(examples.length, uniform);
  const single = (indices: number[]): TrainBatch => padBatch(indices.map((i) => exampleRow(examples[i])), padId);
  switch (mode) {
    case 'none':
      return chunk(order, batchSize).map(single);
    case 'length':
      return lengthGrouped(order, examples, batchSize, uniform).map(single);
    case 'pack':
      return chunk(packRows(order, examples, maxLength as number), batchSize).map((rows) => padBatch(rows, padId));
  }
}
