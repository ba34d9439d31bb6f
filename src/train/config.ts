// The trainer's settings and their defaults, apart from the trainer itself so that the CLI's flag table reads
// the defaults without loading the training code.

import type { ScheduleKind } from './schedule.ts';

/** The trainer's settings. */
export interface TrainConfig {
  readonly lr: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly schedule: ScheduleKind;
  readonly warmupSteps: number;
  /** Stop after this many optimizer steps (takes precedence over epochs). */
  readonly maxSteps: number | null;
  readonly epochs: number;
  readonly gradAccum: number;
  readonly maxGradNorm: number | null;
  readonly seed: number;
  /** Evaluate every N optimizer steps (and at the end); null: only at the end. */
  readonly evalEvery: number | null;
  /** Checkpoint every N optimizer steps (and at the end); null: only at the end. */
  readonly saveEvery: number | null;
  /** Checkpoints kept on disk. */
  readonly keepCheckpoints: number;
  /** Stop when this many optimizer steps in a row had a non-finite loss or gradient. */
  readonly maxNonFiniteInARow: number;
  /** Recompute decoder layers in the backward pass (activation checkpointing): less memory, about a third more time. */
  readonly recompute: boolean;
  /**
   * The run's input files by what they are ("training data", "tokenizer", ...) with their content hashes; part
   * of what `resume` checks, so a changed file is refused by name.
   */
  readonly inputs?: Readonly<Record<string, RunInput>>;
  readonly outDir: string;
}

/** One input of a run: where it was read from and the sha256 of its content. */
export interface RunInput {
  readonly file: string;
  readonly sha256: string;
}

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'outDir'> = {
  lr: 1e-3,
  weightDecay: 0,
  betas: [0.9, 0.999],
  eps: 1e-8,
  schedule: 'linear',
  warmupSteps: 0,
  maxSteps: null,
  epochs: 1,
  gradAccum: 1,
  maxGradNorm: 1,
  seed: 0,
  evalEvery: null,
  saveEvery: null,
  keepCheckpoints: 2,
  maxNonFiniteInARow: 10,
  recompute: false,
};
