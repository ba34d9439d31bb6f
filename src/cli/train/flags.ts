// The flags of `roadster train`, in one table: each flag's value kind, help text and default. The same table
// registers the commander options and reads a config file (JSON or YAML, keys in camelCase or kebab-case), so
// a flag and its config-file key always accept the same values.

import { InvalidArgumentError, Option } from 'commander';
import { ROAD_VARIANTS, type RoadVariant } from '../../adapters/road/math.ts';
import { DATA_FORMATS, type DataFormat } from '../../train/data/formats.ts';
import type { LabelNames } from '../../train/data/labels.ts';
import { LABEL_MODES } from '../../train/data/tokenize.ts';
import { SCHEDULE_KINDS, type ScheduleKind } from '../../train/schedule.ts';
import { DEFAULT_TRAIN_CONFIG } from '../../train/config.ts';
import { QUANTIZE_WEIGHTS, type QuantizeWeights } from '../../runtime/quantize-weights.ts';

/**
 * --label-mode: the data's label modes, and label words (the records read as in classify mode with the prompt
 * separator as the suffix, classified through the language model's own logits of one token per class).
 */
export const TRAIN_LABEL_MODES = [...LABEL_MODES, 'words'] as const;
export type TrainLabelMode = (typeof TRAIN_LABEL_MODES)[number];

/** What the user gave, on the command line or in the config file (every flag optional here). */
export interface TrainFlags {
  readonly model?: string;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly data?: string;
  readonly evalData?: string;
  readonly evalSplit?: number;
  readonly format?: DataFormat;
  readonly method?: 'road' | 'lora';
  readonly variant?: RoadVariant;
  readonly groupSize?: number;
  readonly roadPairs?: string;
  readonly complementNoise?: string;
  readonly rank?: number;
  readonly loraAlpha?: number;
  readonly loraDropout?: number;
  readonly targetModules?: readonly string[];
  readonly initWeights?: boolean;
  readonly lr?: number;
  readonly epochs?: number;
  readonly maxSteps?: number;
  readonly batchSize?: number;
  readonly gradAccum?: number;
  readonly maxLength?: number;
  readonly pack?: boolean;
  readonly warmupSteps?: number;
  readonly schedule?: ScheduleKind;
  readonly weightDecay?: number;
  readonly maxGradNorm?: number;
  readonly seed?: number;
  readonly evalEvery?: number;
  readonly saveEvery?: number;
  readonly keepCheckpoints?: number;
  readonly recompute?: boolean;
  readonly logEvery?: number;
  readonly skipBadLines?: boolean;
  readonly labelMode?: TrainLabelMode;
  readonly promptSeparator?: string;
  readonly labelNames?: LabelNames;
  readonly threads?: number;
  readonly quantize?: QuantizeWeights;
  readonly out?: string;
  readonly resume?: boolean;
  readonly json?: boolean;
}

/** The kind of a flag's value: how it is written on the command line and in a config file. */
type ValueKind =
  | { readonly type: 'string' }
  | { readonly type: 'int'; readonly min: number }
  | { readonly type: 'number'; readonly min: number; readonly above?: boolean; readonly below?: number }
  | { readonly type: 'choice'; readonly choices: readonly string[] }
  /** a switch: `--pack` / `--no-pack`; `true` / `false` in a file */
  | { readonly type: 'switch' }
  /** a value: `--init-weights true|false` */
  | { readonly type: 'boolean' }
  /** comma-separated on the command line; a list or such a string in a file */
  | { readonly type: 'list' }
  /** a list as `list`; in a file also a map from label value to words */
  | { readonly type: 'label-names' };

interface FlagSpec {
  readonly kind: ValueKind;
  /** Placeholder of the value in --help (none for switches). */
  readonly value?: string;
  readonly help: string;
  /** Shown in --help; the resolver applies the defaults (some depend on the model or the method). */
  readonly shownDefault?: string | number;
}

const d = DEFAULT_TRAIN_CONFIG;

/** Every flag of `roadster train` (the mapped type makes a flag without a spec a compile error). */
export const TRAIN_FLAGS: { readonly [K in keyof TrainFlags]-?: FlagSpec } = {
  model: { kind: { type: 'string' }, value: 'idOrDir', help: 'base model folder, or Hub repo id (through the Hugging Face cache); required' },
  revision: { kind: { type: 'string' }, value: 'rev', help: 'branch, tag or commit of a Hub repo', shownDefault: 'main' },
  offline: { kind: { type: 'switch' }, help: 'use only local folders and the cache (as HF_HUB_OFFLINE=1)' },
  data: { kind: { type: 'string' }, value: 'file', help: 'training data, JSONL (text, prompt/completion, messages or text/label records); required' },
  evalData: { kind: { type: 'string' }, value: 'file', help: 'evaluation data, JSONL in the same format' },
  evalSplit: { kind: { type: 'number', min: 0, below: 1 }, value: 'fraction', help: 'hold out this share of --data for evaluation (without --eval-data)', shownDefault: 0 },
  format: { kind: { type: 'choice', choices: DATA_FORMATS }, value: 'format', help: `record format (${DATA_FORMATS.join(', ')})`, shownDefault: 'detected from the first record' },
  method: { kind: { type: 'choice', choices: ['road', 'lora'] }, value: 'method', help: 'adapter method (road, lora)', shownDefault: 'road' },
  variant: { kind: { type: 'choice', choices: ROAD_VARIANTS }, value: 'variant', help: `RoAd variant (${ROAD_VARIANTS.join(', ')})`, shownDefault: 'road_1' },
  groupSize: { kind: { type: 'int', min: 2 }, value: 'n', help: 'RoAd group size (even; divides every target\'s output size)', shownDefault: 64 },
  roadPairs: {
    kind: { type: 'string' },
    value: 'pairs',
    help: 'RoAd: train only these 2-D pairs of every group, the rest stay identity: a share i/n (0/2 = first half of each group\'s pairs) or pair ranges (0-3,8)',
    shownDefault: 'all pairs',
  },
  complementNoise: {
    kind: { type: 'string' },
    value: 'sd',
    help: 'with --road-pairs: in every training micro-batch move the frozen pairs by Gaussian noise of this standard deviation (θ and α; or θ,α), so that the adapter composes with others on those pairs',
    shownDefault: 'none',
  },
  rank: { kind: { type: 'int', min: 1 }, value: 'n', help: 'LoRA rank', shownDefault: 8 },
  loraAlpha: { kind: { type: 'number', min: 0, above: true }, value: 'x', help: 'LoRA alpha (scaling = alpha / rank)', shownDefault: 8 },
  loraDropout: { kind: { type: 'number', min: 0, below: 1 }, value: 'p', help: 'LoRA dropout on the LoRA branch\'s input in training (PEFT\'s lora_dropout)', shownDefault: 0 },
  targetModules: { kind: { type: 'list' }, value: 'names', help: 'modules to adapt: comma-separated names (q_proj,v_proj) or all-linear', shownDefault: "PEFT's per architecture" },
  initWeights: { kind: { type: 'boolean' }, value: 'bool', help: 'true: identity init (RoAd) / B = 0 (LoRA); false: random init as PEFT', shownDefault: 'true' },
  lr: { kind: { type: 'number', min: 0, above: true }, value: 'x', help: 'peak learning rate', shownDefault: d.lr },
  epochs: { kind: { type: 'int', min: 1 }, value: 'n', help: 'passes over the training data (or give --max-steps)', shownDefault: d.epochs },
  maxSteps: { kind: { type: 'int', min: 1 }, value: 'n', help: 'optimizer steps to run (instead of --epochs)' },
  batchSize: { kind: { type: 'int', min: 1 }, value: 'n', help: 'sequences (or packed rows) per micro-batch', shownDefault: 8 },
  gradAccum: { kind: { type: 'int', min: 1 }, value: 'n', help: 'micro-batches per optimizer step', shownDefault: d.gradAccum },
  maxLength: { kind: { type: 'int', min: 2 }, value: 'n', help: 'longest example in tokens (longer ones are truncated); the row length with --pack', shownDefault: "512, or the model's max positions if smaller" },
  pack: { kind: { type: 'switch' }, help: 'pack examples into rows of --max-length (default: length-grouped batches)' },
  warmupSteps: { kind: { type: 'int', min: 0 }, value: 'n', help: 'linear learning-rate warmup steps', shownDefault: d.warmupSteps },
  schedule: { kind: { type: 'choice', choices: SCHEDULE_KINDS }, value: 'kind', help: `learning-rate schedule after warmup (${SCHEDULE_KINDS.join(', ')})`, shownDefault: d.schedule },
  weightDecay: { kind: { type: 'number', min: 0 }, value: 'x', help: 'AdamW weight decay', shownDefault: d.weightDecay },
  maxGradNorm: { kind: { type: 'number', min: 0 }, value: 'x', help: 'clip the global gradient norm to this (0: no clipping)', shownDefault: d.maxGradNorm ?? 0 },
  seed: { kind: { type: 'int', min: 0 }, value: 'n', help: 'seed of the data order, the eval split and random adapter init', shownDefault: d.seed },
  evalEvery: { kind: { type: 'int', min: 1 }, value: 'n', help: 'evaluate every N optimizer steps (always at the end when there is eval data)' },
  saveEvery: { kind: { type: 'int', min: 1 }, value: 'n', help: 'checkpoint every N optimizer steps (always at the end)' },
  keepCheckpoints: { kind: { type: 'int', min: 1 }, value: 'n', help: 'checkpoints kept in <out>/checkpoints', shownDefault: d.keepCheckpoints },
  recompute: { kind: { type: 'switch' }, help: 'recompute decoder layers in the backward pass: less memory, about a third more time' },
  logEvery: { kind: { type: 'int', min: 1 }, value: 'n', help: 'print a progress line every N steps when stderr is not a terminal', shownDefault: 10 },
  skipBadLines: { kind: { type: 'switch' }, help: 'skip and count bad JSONL lines instead of stopping at the first' },
  labelMode: {
    kind: { type: 'choice', choices: TRAIN_LABEL_MODES },
    value: 'mode',
    help: 'text/label records: generate (the label words as a completion), classify (a sequence-classification head, trained with the adapter and saved in modules_to_save) ' +
      'or words (the language model\'s logits of each class\'s one-token word after --prompt-separator, the loss over those words only; the adapter stays a CAUSAL_LM adapter and composes)',
    shownDefault: 'generate',
  },
  promptSeparator: { kind: { type: 'string' }, value: 'text', help: 'text/label records in generate and words modes: text between the text and its label words', shownDefault: '"\\nLabel:"' },
  labelNames: { kind: { type: 'label-names' }, value: 'words', help: 'text/label records: the words of each class, comma-separated by class index (classify: the id2label names)' },
  threads: { kind: { type: 'int', min: 1 }, value: 'n', help: 'intra-op threads', shownDefault: 'all available' },
  quantize: { kind: { type: 'choice', choices: QUANTIZE_WEIGHTS }, value: 'q', help: 'frozen matmul weights: none (float32), int8 (int8 forward products), int8-all (backward too, but the head gradient; fastest, validate the fit)', shownDefault: 'none' },
  out: { kind: { type: 'string' }, value: 'dir', help: 'output folder: metrics, loss curve, report, checkpoints, the adapter; required' },
  resume: { kind: { type: 'switch' }, help: 'continue from the newest valid checkpoint in --out' },
  json: { kind: { type: 'switch' }, help: 'print the final report as JSON' },
};

/** The config-file keys, camelCase. */
export const FLAG_KEYS = Object.keys(TRAIN_FLAGS) as (keyof TrainFlags)[];

/** `--eval-split` for `evalSplit`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `evalSplit` for `eval-split` (camelCase keys are returned as they are). */
export function camelKey(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** What a value should have been, for error messages. */
function expected(kind: ValueKind): string {
  switch (kind.type) {
    case 'string':
      return 'a string';
    case 'int':
      return `an integer >= ${kind.min}`;
    case 'number':
      return `a number ${kind.above ? '>' : '>='} ${kind.min}${kind.below === undefined ? '' : ` and < ${kind.below}`}`;
    case 'choice':
      return `one of ${kind.choices.join(', ')}`;
    case 'switch':
    case 'boolean':
      return 'true or false';
    case 'list':
      return 'comma-separated names';
    case 'label-names':
      return 'comma-separated words';
  }
}

/** Parses a command-line value; null when it does not fit. */
function parseText(kind: ValueKind, text: string): unknown {
  const t = text.trim();
  switch (kind.type) {
    case 'string':
      return text;
    case 'int': {
      const n = Number(t);
      return /^-?\d+$/.test(t) && Number.isSafeInteger(n) && n >= kind.min ? n : null;
    }
    case 'number': {
      const n = t === '' ? NaN : Number(t);
      return checkNumber(kind, n);
    }
    case 'choice':
      return kind.choices.includes(t) ? t : null;
    case 'switch':
    case 'boolean':
      return t === 'true' ? true : t === 'false' ? false : null;
    case 'list':
    case 'label-names': {
      const parts = t.split(',').map((p) => p.trim());
      return parts.some((p) => p === '') ? null : parts;
    }
  }
}

function checkNumber(kind: ValueKind & { type: 'number' }, n: number): number | null {
  if (!Number.isFinite(n) || n < kind.min || (kind.above === true && n === kind.min)) return null;
  return kind.below !== undefined && n >= kind.below ? null : n;
}

/** Parses a config-file value (JSON or YAML types; strings are read as on the command line); null when it does not fit. */
function parseValue(kind: ValueKind, value: unknown): unknown {
  if (typeof value === 'string') return kind.type === 'switch' ? null : parseText(kind, value);
  switch (kind.type) {
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= kind.min ? value : null;
    case 'number':
      return typeof value === 'number' ? checkNumber(kind, value) : null;
    case 'switch':
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'list':
      return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v.trim() !== '') ? value : null;
    case 'label-names':
      if (Array.isArray(value)) return parseValue({ type: 'list' }, value);
      if (typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string' && v.trim() !== '')) return value;
      return null;
    case 'string':
    case 'choice':
      return null;
  }
}

/** Reads one config-file entry; the message of the error names the key and what it expected. */
export function parseFileValue(key: keyof TrainFlags, value: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  const kind = TRAIN_FLAGS[key].kind;
  const parsed = parseValue(kind, value);
  if (parsed !== null) return { ok: true, value: parsed };
  const shown = kind.type === 'label-names' ? `${expected(kind)}, a list, or a map from label to words` : expected(kind);
  return { ok: false, message: `"${key}" must be ${shown}, found ${JSON.stringify(value)}` };
}

/** The commander options of the table; none has a default, so an absent flag stays undefined. */
export function trainOptions(): Option[] {
  return FLAG_KEYS.flatMap((key) => {
    const spec = TRAIN_FLAGS[key];
    const name = flagName(key);
    const help = spec.shownDefault === undefined ? spec.help : `${spec.help} (default: ${spec.shownDefault})`;
    if (spec.kind.type === 'switch') {
      const negatable = key === 'pack' || key === 'skipBadLines' || key === 'offline';
      return negatable ? [new Option(name, help), new Option(`--no-${name.slice(2)}`, 'turn it off (overrides the config file)')] : [new Option(name, help)];
    }
    const kind = spec.kind;
    return [
      new Option(`${name} <${spec.value}>`, help).argParser((text: string) => {
        const value = parseText(kind, text);
        if (value === null) throw new InvalidArgumentError(`expected ${expected(kind)}, got "${text}".`);
        return value;
      }),
    ];
  });
}

/** transformers' TrainingArguments / TRL flag names and roadster's flag for each, for "unknown option" errors. */
const TRANSFORMERS_FLAG_NAMES: Readonly<Record<string, string>> = {
  '--save-steps': '--save-every',
  '--eval-steps': '--eval-every',
  '--logging-steps': '--log-every',
  '--learning-rate': '--lr',
  '--num-train-epochs': '--epochs',
  '--per-device-train-batch-size': '--batch-size',
  '--gradient-accumulation-steps': '--grad-accum',
  '--save-total-limit': '--keep-checkpoints',
  '--output-dir': '--out',
  '--max-seq-length': '--max-length',
  '--lr-scheduler-type': '--schedule',
  '--model-name-or-path': '--model',
  '--resume-from-checkpoint': '--resume',
};

/** roadster's flag for a transformers flag name (`--save_steps` or `--save-steps`), or undefined. */
export function roadsterFlagFor(flag: string): string | undefined {
  return TRANSFORMERS_FLAG_NAMES[flag.split('=')[0].replace(/_/g, '-')];
}
