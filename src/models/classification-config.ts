// The sequence-classification fields of config.json, both ways, as transformers writes and reads them for
// LlamaForSequenceClassification / Qwen2ForSequenceClassification / MistralForSequenceClassification:
// `architectures` ending in "ForSequenceClassification", `id2label` (a map whose keys are the class indices as
// strings), `label2id`, and the `num_labels` it implies (without id2label, num_labels gives "LABEL_<i>"
// names; without either, transformers' default of 2). Only single-label classification is implemented:
// regression (num_labels 1) and multi-label problem types are refused.

import { RoadsterError } from '../errors.ts';

/** A model's classification head, as its config.json describes it. */
export interface SequenceClassification {
  /** Class names by index (config.json's id2label); num_labels is its length. */
  readonly id2label: readonly string[];
  /**
   * pad_token_id for the saved config.json when the model's own has none: transformers pools the last token that
   * is not padding and refuses batches of more than one row without it.
   */
  readonly padTokenId: number | null;
}

const SUFFIX = 'ForSequenceClassification';
/** The architecture name per model_type (used when config.json's `architectures` names another head). */
const ARCHITECTURES: Readonly<Record<string, string>> = { llama: 'Llama', qwen2: 'Qwen2', mistral: 'Mistral' };

function fail(where: string, message: string): never {
  throw new RoadsterError('E_CONFIG', `${where}: ${message}`);
}

/** Checks class names: at least two (one would be regression), non-empty strings. */
export function checkClassNames(id2label: readonly unknown[], where: string): readonly string[] {
  if (id2label.length < 2) {
    fail(where, `a sequence classifier needs at least 2 labels, found ${id2label.length} (transformers treats num_labels 1 as regression, which roadster does not implement)`);
  }
  id2label.forEach((name, i) => {
    if (typeof name !== 'string' || name === '') fail(where, `label ${i} must be a non-empty string, found ${JSON.stringify(name)}`);
  });
  return id2label as readonly string[];
}

function id2labelOf(json: Readonly<Record<string, unknown>>, where: string): readonly string[] {
  const map = json.id2label;
  if (map !== undefined && map !== null) {
    if (typeof map !== 'object' || Array.isArray(map)) fail(where, `id2label must be a map from class index to name, found ${JSON.stringify(map)}`);
    const entries = Object.entries(map as Record<string, unknown>);
    const names = new Array<unknown>(entries.length);
    for (const [key, name] of entries) {
      const i = Number(key);
      if (!/^\d+$/.test(key) || i >= entries.length) fail(where, `id2label keys must be the class indices 0..${entries.length - 1}, found "${key}"`);
      names[i] = name;
    }
    return checkClassNames(names, where);
  }
  const n = json.num_labels ?? 2;
  if (typeof n !== 'number' || !Number.isInteger(n)) fail(where, `num_labels must be an integer, found ${JSON.stringify(n)}`);
  return checkClassNames(Array.from({ length: n }, (_, i) => `LABEL_${i}`), where);
}

/**
 * The classification head described by config.json contents, or null when `architectures` names no
 * *ForSequenceClassification model.
 * @throws RoadsterError E_CONFIG for labels that do not fit, or a problem type other than single-label
 */
export function sequenceClassificationOf(json: unknown, where: string): SequenceClassification | null {
  if (typeof json !== 'object' || json === null) return null;
  const obj = json as Readonly<Record<string, unknown>>;
  const architectures = Array.isArray(obj.architectures) ? obj.architectures : [];
  if (!architectures.some((a) => typeof a === 'string' && a.endsWith(SUFFIX))) return null;
  const problem = obj.problem_type;
  if (problem !== undefined && problem !== null && problem !== 'single_label_classification') {
    fail(where, `problem_type ${JSON.stringify(problem)} is not supported; roadster trains single-label classification (one class per sequence)`);
  }
  const pad = obj.pad_token_id;
  return { id2label: id2labelOf(obj, where), padTokenId: typeof pad === 'number' ? pad : null };
}

/**
 * config.json contents for the *ForSequenceClassification model of `json` (a causal-LM or classification
 * config): the architecture, num_labels, id2label and label2id of `head`, and pad_token_id when the config
 * has none and the head knows one. Every other field is kept.
 */
export function sequenceClassificationConfigJson(json: Readonly<Record<string, unknown>>, head: SequenceClassification): Record<string, unknown> {
  const given = Array.isArray(json.architectures) ? json.architectures.find((a): a is string => typeof a === 'string') : undefined;
  const prefix = given?.replace(/For[A-Za-z]+$/, '') ?? ARCHITECTURES[String(json.model_type)] ?? 'Llama';
  const out: Record<string, unknown> = {
    ...json,
    architectures: [`${prefix}${SUFFIX}`],
    num_labels: head.id2label.length,
    id2label: Object.fromEntries(head.id2label.map((name, i) => [String(i), name])),
    label2id: Object.fromEntries(head.id2label.map((name, i) => [name, i])),
  };
  if ((json.pad_token_id === undefined || json.pad_token_id === null) && head.padTokenId !== null) out.pad_token_id = head.padTokenId;
  return out;
}
