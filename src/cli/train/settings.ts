// The settings of one `roadster train` run: the config file (JSON or YAML) read and checked key by key, the
// command-line flags laid over it, the defaults filled in, and the combinations checked (one of epochs and
// max steps, one source of eval data, method-specific flags only with their method). Every problem here is
// a usage error, found before anything is loaded or written.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { RoadVariant } from '../../adapters/road/math.ts';
import { type PairSelection, formatPairSelection, parsePairSelection, selectedPairs } from '../../adapters/road/pairs.ts';
import { type ComplementNoise, parseComplementNoise } from '../../adapters/subspace.ts';
import type { DataFormat, LabelNames } from '../../train/data/index.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../../train/trainer.ts';
import type { QuantizeWeights } from '../../runtime/index.ts';
import { usageError } from '../io.ts';
import { camelKey, FLAG_KEYS, flagName, parseFileValue, type TrainFlags, type TrainLabelMode } from './flags.ts';

/** The adapter to train. */
export type AdapterSettings =
  | {
      readonly method: 'road';
      readonly variant: RoadVariant;
      readonly groupSize: number;
      /** The pairs of each group that train (--road-pairs, as written), or null for all. */
      readonly pairs: string | null;
      /** Noise on the other pairs in training (--complement-noise), or null. */
      readonly complementNoise: ComplementNoise | null;
    }
  | { readonly method: 'lora'; readonly rank: number; readonly loraAlpha: number; readonly loraDropout: number };

/** A run, resolved: every value set or explicitly absent. */
export interface TrainSettings {
  readonly model: string;
  readonly revision: string | undefined;
  readonly offline: boolean;
  readonly data: string;
  readonly evalData: string | null;
  readonly evalSplit: number;
  readonly format: DataFormat | undefined;
  readonly adapter: AdapterSettings;
  /** null: PEFT's default targets of the architecture. */
  readonly targetModules: readonly string[] | 'all-linear' | null;
  readonly initWeights: boolean;
  /** null: the default, which depends on the model (see `defaultMaxLength`). */
  readonly maxLength: number | null;
  readonly batchSize: number;
  readonly pack: boolean;
  readonly skipBadLines: boolean;
  /** Classification records: generate the label words, train a sequence-classification head, or classify by label words. */
  readonly labelMode: TrainLabelMode;
  readonly promptSeparator: string | undefined;
  readonly labelNames: LabelNames | undefined;
  /** The trainer's settings (outDir aside). */
  readonly train: Omit<TrainConfig, 'outDir'>;
  readonly logEvery: number;
  readonly threads: number | null;
  readonly quantize: QuantizeWeights;
  readonly out: string;
  readonly resume: boolean;
  readonly json: boolean;
}

export const DEFAULT_BATCH_SIZE = 8;
export const DEFAULT_LOG_EVERY = 10;
const DEFAULT_MAX_LENGTH = 512;

/** 512 tokens, or the model's position limit when that is smaller. */
export function defaultMaxLength(maxPositionEmbeddings: number): number {
  return Math.min(DEFAULT_MAX_LENGTH, maxPositionEmbeddings);
}

/** Flags that stand for one choice: when the command line sets one of them, the file's values for all are dropped. */
const ALTERNATIVES: readonly (readonly (keyof TrainFlags)[])[] = [
  ['epochs', 'maxSteps'],
  ['evalData', 'evalSplit'],
];

/**
 * Reads a config file: a JSON (`.json`) or YAML (any other name) mapping whose keys are the flags' names in
 * camelCase or kebab-case.
 * @throws RoadsterError E_USAGE when the file cannot be read or parsed, has unknown keys (all named), a key
 *   given twice, or a value of the wrong kind
 */
export function readConfigFile(file: string): TrainFlags {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read the config file ${file}: ${(error as Error).message}.`);
  }
  let parsed: unknown;
  try {
    parsed = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? `:${error.linePos[0].line}` : '';
    throw usageError(`the config file ${file}${where} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw usageError(`the config file ${file} must hold a mapping of settings (such as "lr: 1e-3"), found ${Array.isArray(parsed) ? 'a list' : typeof parsed}.`);
  }
  const known = new Set<string>(FLAG_KEYS);
  const unknown: string[] = [];
  const problems: string[] = [];
  const flags: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  for (const [raw, value] of Object.entries(parsed)) {
    const key = camelKey(raw);
    if (!known.has(key)) {
      unknown.push(raw);
      continue;
    }
    const before = seen.get(key);
    if (before !== undefined) {
      problems.push(`"${raw}" and "${before}" are the same setting; keep one`);
      continue;
    }
    seen.set(key, raw);
    if (value === null) continue; // `key:` with no value: as if absent
    const result = parseFileValue(key as keyof TrainFlags, value);
    if (result.ok) flags[key] = result.value;
    else problems.push(result.message);
  }
  if (unknown.length > 0) {
    throw usageError(`the config file ${file} has unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')}; ` +
      `the keys are the flags of roadster train without "--", in camelCase or kebab-case: ${FLAG_KEYS.join(', ')}.`);
  }
  if (problems.length > 0) throw usageError(`the config file ${file}: ${problems.join('; ')}.`);
  return flags as TrainFlags;
}

/** The file's flags with the command line's laid over them. */
export function mergeFlags(file: TrainFlags, cli: TrainFlags): TrainFlags {
  const merged: Record<string, unknown> = { ...file };
  for (const group of ALTERNATIVES) {
    if (group.some((k) => cli[k] !== undefined)) for (const k of group) delete merged[k];
  }
  for (const [k, v] of Object.entries(cli)) if (v !== undefined) merged[k] = v;
  return merged as TrainFlags;
}

function required<K extends keyof TrainFlags>(flags: TrainFlags, key: K): NonNullable<TrainFlags[K]> {
  const value = flags[key];
  if (value === undefined || value === '') throw usageError(`${flagName(key)} is required (on the command line or as "${key}" in --config).`);
  return value as NonNullable<TrainFlags[K]>;
}

function onlyWith(flags: TrainFlags, keys: readonly (keyof TrainFlags)[], condition: boolean, what: string): void {
  const given = keys.filter((k) => flags[k] !== undefined);
  if (!condition && given.length > 0) throw usageError(`${given.map(flagName).join(', ')} only ${given.length === 1 ? 'applies' : 'apply'} ${what}.`);
}

function adapterSettings(flags: TrainFlags): AdapterSettings {
  const method = flags.method ?? 'road';
  onlyWith(flags, ['variant', 'groupSize', 'roadPairs', 'complementNoise'], method === 'road', 'to --method road');
  onlyWith(flags, ['complementNoise'], flags.roadPairs !== undefined, 'with --road-pairs (the noise moves the pairs outside the trained ones)');
  onlyWith(flags, ['rank', 'loraAlpha', 'loraDropout'], method === 'lora', 'to --method lora');
  switch (method) {
    case 'road': {
      const groupSize = flags.groupSize ?? 64;
      if (groupSize % 2 !== 0) throw usageError(`--group-size must be even (RoAd rotates pairs of outputs), got ${groupSize}.`);
      let pairs: PairSelection | null = null;
      if (flags.roadPairs !== undefined) {
        pairs = parsePairSelection(flags.roadPairs);
        selectedPairs(pairs, groupSize); // pairs that exist in this group size
      }
      const complementNoise = flags.complementNoise === undefined ? null : parseComplementNoise(flags.complementNoise);
      return { method, variant: flags.variant ?? 'road_1', groupSize, pairs: pairs === null ? null : formatPairSelection(pairs), complementNoise };
    }
    case 'lora':
      return { method, rank: flags.rank ?? 8, loraAlpha: flags.loraAlpha ?? 8, loraDropout: flags.loraDropout ?? 0 };
  }
}

function targetModules(list: readonly string[] | undefined): TrainSettings['targetModules'] {
  if (list === undefined) return null;
  if (list.includes('all-linear')) {
    if (list.length > 1) throw usageError('--target-modules: "all-linear" stands alone; give it, or a list of module names.');
    return 'all-linear';
  }
  return list;
}

/**
 * Resolves the flags into a run's settings.
 * @throws RoadsterError E_USAGE for a missing required flag or a combination that does not fit
 */
export function resolveSettings(flags: TrainFlags): TrainSettings {
  const model = required(flags, 'model');
  const data = required(flags, 'data');
  const out = required(flags, 'out');
  if (flags.epochs !== undefined && flags.maxSteps !== undefined) {
    throw usageError('give one of --epochs and --max-steps (the number of passes over the data, or of optimizer steps).');
  }
  if (flags.evalData !== undefined && flags.evalSplit !== undefined) {
    throw usageError('give one of --eval-data (a separate file) and --eval-split (a share of --data held out).');
  }
  onlyWith(flags, ['labelMode', 'promptSeparator', 'labelNames'], flags.format === undefined || flags.format === 'classification',
    'to text/label (classification) records');
  const evalSplit = flags.evalSplit ?? 0;
  onlyWith(flags, ['evalEvery'], flags.evalData !== undefined || evalSplit > 0, 'with eval data (--eval-data or --eval-split)');
  const labelMode = flags.labelMode ?? 'generate';
  if (labelMode === 'classify' && flags.promptSeparator !== undefined) {
    throw usageError('--prompt-separator only applies to --label-mode generate and words (a classification head reads the text alone).');
  }
  if (labelMode !== 'generate' && flags.pack === true) {
    throw usageError(`--pack does not apply to --label-mode ${labelMode}: each row is one example, classified by its last token.`);
  }
  return {
    model,
    revision: flags.revision,
    offline: flags.offline ?? false,
    data,
    evalData: flags.evalData ?? null,
    evalSplit,
    format: flags.format,
    adapter: adapterSettings(flags),
    targetModules: targetModules(flags.targetModules),
    initWeights: flags.initWeights ?? true,
    maxLength: flags.maxLength ?? null,
    batchSize: flags.batchSize ?? DEFAULT_BATCH_SIZE,
    pack: flags.pack ?? false,
    skipBadLines: flags.skipBadLines ?? false,
    labelMode,
    promptSeparator: flags.promptSeparator,
    labelNames: flags.labelNames,
    train: {
      ...DEFAULT_TRAIN_CONFIG,
      lr: flags.lr ?? DEFAULT_TRAIN_CONFIG.lr,
      weightDecay: flags.weightDecay ?? DEFAULT_TRAIN_CONFIG.weightDecay,
      schedule: flags.schedule ?? DEFAULT_TRAIN_CONFIG.schedule,
      warmupSteps: flags.warmupSteps ?? DEFAULT_TRAIN_CONFIG.warmupSteps,
      maxSteps: flags.maxSteps ?? null,
      epochs: flags.epochs ?? DEFAULT_TRAIN_CONFIG.epochs,
      gradAccum: flags.gradAccum ?? DEFAULT_TRAIN_CONFIG.gradAccum,
      maxGradNorm: flags.maxGradNorm === undefined ? DEFAULT_TRAIN_CONFIG.maxGradNorm : flags.maxGradNorm === 0 ? null : flags.maxGradNorm,
      seed: flags.seed ?? DEFAULT_TRAIN_CONFIG.seed,
      evalEvery: flags.evalEvery ?? null,
      saveEvery: flags.saveEvery ?? null,
      keepCheckpoints: flags.keepCheckpoints ?? DEFAULT_TRAIN_CONFIG.keepCheckpoints,
      recompute: flags.recompute ?? false,
    },
    logEvery: flags.logEvery ?? DEFAULT_LOG_EVERY,
    threads: flags.threads ?? null,
    quantize: flags.quantize ?? 'none',
    out,
    resume: flags.resume ?? false,
    json: flags.json ?? false,
  };
}

/** Above this learning rate an adapter run diverges (the usual range is 1e-5 to 1e-2). */
const LR_WARN_ABOVE = 1;

/** Settings that are allowed but almost surely a mistake, as lines to warn with. */
export function settingWarnings(s: TrainSettings, totalSteps: number): string[] {
  const warnings: string[] = [];
  if (s.train.lr > LR_WARN_ABOVE) {
    warnings.push(`--lr ${s.train.lr} is above ${LR_WARN_ABOVE}; adapters train with 1e-5 to 1e-2, and such a rate makes the loss diverge.`);
  }
  if (s.train.warmupSteps > 0 && s.train.warmupSteps >= totalSteps) {
    warnings.push(`--warmup-steps ${s.train.warmupSteps} is not less than the run's ${totalSteps} optimizer steps, so the learning rate never reaches --lr ${s.train.lr}; lower --warmup-steps.`);
  }
  return warnings;
}
