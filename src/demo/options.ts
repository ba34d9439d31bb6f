// The demo's settings and their defaults, apart from the pipeline so that the CLI's flags show the defaults
// without loading it.

import type { RoadVariant } from '../adapters/road/math.ts';

export interface DemoOptions {
  readonly modelDir: string;
  readonly outDir: string;
  readonly trainPerClass: number;
  readonly testPerClass: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly maxChars: number;
  readonly maxLength: number;
  readonly variant: RoadVariant;
  readonly groupSize: number;
  readonly roadLr: number;
  readonly loraRank: number;
  readonly loraLr: number;
  readonly seed: number;
  /** Skip the LoRA comparison (faster). */
  readonly skipLora: boolean;
}

/** Settings chosen so that the whole demo (both adapters, four evaluations) fits in about 10 minutes on 2 cores. */
export const DEFAULT_DEMO_OPTIONS: Omit<DemoOptions, 'modelDir' | 'outDir'> = {
  trainPerClass: 300,
  testPerClass: 200,
  steps: 600,
  batchSize: 8,
  maxChars: 400,
  maxLength: 128,
  variant: 'road_4',
  groupSize: 16,
  roadLr: 5e-2,
  loraRank: 8,
  loraLr: 3e-3,
  seed: 0,
  skipLora: false,
};
