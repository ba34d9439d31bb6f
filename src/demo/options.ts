// The demo's settings and their defaults, apart from the pipeline so that the CLI's flags show the defaults
// without loading it.

import type { RoadVariant } from '../adapters/road/math.ts';

export interface DemoOptions {
  readonly modelDir: string;
  readonly outDir: string;
  readonly trainPerClass: number;
  readonly testPerClass: number;
  /** Optimizer steps of each trained row (head only, RoAd, LoRA): the same for all. */
  readonly steps: number;
  readonly batchSize: number;
  /** Characters of Subject + body kept per e-mail (the tokenizer needs about 1.7 per token on e-mail). */
  readonly maxChars: number;
  /** Tokens kept per e-mail, the suffix included. */
  readonly maxLength: number;
  /**
   * Text after every e-mail's (cut) text, kept by truncation: the head reads its last token, the same token in
   * every e-mail, instead of wherever the cut fell.
   */
  readonly classifySuffix: string;
  readonly variant: RoadVariant;
  readonly groupSize: number;
  /** Learning rates, each chosen by `scripts/demo-sweep.ts` on e-mails held out of the training pool. */
  readonly roadLr: number;
  readonly loraRank: number;
  readonly loraLr: number;
  readonly headLr: number;
  readonly seed: number;
  /** Skip the LoRA comparison (faster). */
  readonly skipLora: boolean;
}

/** Settings chosen so that the whole demo (three trained rows, five evaluations) fits in 10 minutes on 2 cores. */
export const DEFAULT_DEMO_OPTIONS: Omit<DemoOptions, 'modelDir' | 'outDir'> = {
  trainPerClass: 1200,
  testPerClass: 200,
  steps: 1000,
  batchSize: 8,
  maxChars: 400,
  maxLength: 128,
  classifySuffix: '',
  variant: 'road_4',
  groupSize: 16,
  roadLr: 1e-2,
  loraRank: 8,
  loraLr: 1e-3,
  headLr: 3e-3,
  seed: 0,
  skipLora: false,
};
