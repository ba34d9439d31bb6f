// A tokenized dataset: its examples, statistics, a seeded train/eval split and the batches of each epoch.

import { RoadsterError } from '../../errors.ts';
import type { BatchSource } from '../batch.ts';
import { checkBatchOptions, makeBatches, type BatchOptions, type TrainBatch } from './batching.ts';
import type { DataFormat } from './formats.ts';
import { checkSeed, permutation, seededStream } from './shuffle.ts';
import { countLossTerms, type LabelMode, type TokenizedExample } from './tokenize.ts';

/** The random stream of the eval split (batches use another). */
const SPLIT_STREAM = 1;

/** What the examples are. */
export interface DatasetInfo {
  readonly format: DataFormat;
  /** Classification only: how the labels are trained. */
  readonly labelMode?: LabelMode;
  /** Classification only: the words of each class, by class index. */
  readonly classNames?: readonly string[];
  /** Classification in 'generate' mode: the token ids each class's completion must be (EOS included). */
  readonly classCompletions?: readonly (readonly number[])[];
}

export interface DatasetStats {
  readonly examples: number;
  readonly tokens: number;
  /** Loss terms over all examples (positions t ≥ 1 with a label). */
  readonly lossTokens: number;
  readonly minLength: number;
  readonly maxLength: number;
  readonly meanLength: number;
}

/** Tokenized examples, immutable. */
export class TokenizedDataset {
  readonly examples: readonly TokenizedExample[];
  readonly info: DatasetInfo;
  #stats: DatasetStats | undefined;

  constructor(examples: readonly TokenizedExample[], info: DatasetInfo) {
    this.examples = Object.freeze([...examples]);
    this.info = info;
  }

  get size(): number {
    return this.examples.length;
  }

  /** Total tokens. */
  get tokens(): number {
    return this.stats.tokens;
  }

  get stats(): DatasetStats {
    if (this.#stats === undefined) {
      const lengths = this.examples.map((e) => e.inputIds.length);
      const tokens = lengths.reduce((a, b) => a + b, 0);
      this.#stats = {
        examples: this.size,
        tokens,
        lossTokens: this.examples.reduce((n, e) => n + countLossTerms(e.labels), 0),
        minLength: this.size === 0 ? 0 : lengths.reduce((a, b) => Math.min(a, b)),
        maxLength: lengths.reduce((a, b) => Math.max(a, b), 0),
        meanLength: this.size === 0 ? 0 : tokens / this.size,
      };
    }
    return this.#stats;
  }

  /** The examples at `indices`, in that order, as a dataset with the same info. */
  select(indices: readonly number[]): TokenizedDataset {
    return new TokenizedDataset(indices.map((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RoadsterError('E_USAGE', `select: index ${i} is outside [0, ${this.size}).`);
      return this.examples[i];
    }), this.info);
  }

  /**
   * A seeded split into disjoint train and eval sets that together hold every example, each in file order.
   * The eval set has round(size × evalFraction) examples, at least 1 when evalFraction > 0, and train keeps at
   * least 1.
   * @throws RoadsterError E_USAGE when evalFraction is outside [0, 1) or the dataset is too small to split
   */
  split(evalFraction: number, seed: number): { train: TokenizedDataset; eval: TokenizedDataset } {
    if (!(evalFraction >= 0 && evalFraction < 1)) {
      throw new RoadsterError('E_USAGE', `evalFraction must be in [0, 1), found ${evalFraction}.`);
    }
    checkSeed(seed);
    const count = evalFraction === 0 ? 0 : Math.max(1, Math.round(this.size * evalFraction));
    if (count > 0 && this.size - count < 1) {
      throw new RoadsterError('E_USAGE', `Cannot hold out ${count} of ${this.size} examples for evaluation and keep one ` +
        'to train on: add data or lower the eval fraction.');
    }
    const order = permutation(this.size, seededStream(seed, SPLIT_STREAM));
    const evalIndices = order.slice(0, count).sort((a, b) => a - b);
    const held = new Set(evalIndices);
    const trainIndices = [...this.examples.keys()].filter((i) => !held.has(i));
    return { train: this.select(trainIndices), eval: this.select(evalIndices) };
  }

  /** The batches of one epoch; identical on every call with the same options (resume relies on it). */
  batches(options: BatchOptions): TrainBatch[] {
    return makeBatches(this.examples, options);
  }

  /** The trainer's view: the batches of each epoch under fixed options (the last epoch's list is kept). */
  batchSource(options: Omit<BatchOptions, 'epoch'>): BatchSource {
    checkBatchOptions(this.examples, options); // now, not mid-training
    let last: { epoch: number; batches: readonly TrainBatch[] } | undefined;
    return {
      size: this.size,
      batchesForEpoch: (epoch: number) => {
        if (last?.epoch !== epoch) last = { epoch, batches: Object.freeze(this.batches({ ...options, epoch })) };
        return last.batches;
      },
    };
  }
}
