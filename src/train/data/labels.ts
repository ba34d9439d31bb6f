// Classes of a classification file: the class index of each label value and the words that stand for the class
// when the model generates its label. Without `labelNames` the classes are the distinct labels sorted (integers
// numerically, strings by code unit), and the words are the labels themselves; with a list, class i is
// `labelNames[i]` (integer labels index it, string labels must be one of its entries); with a map, the classes
// are its keys (label values as strings) sorted the same way and the words its values.

import { RoadsterError } from '../../errors.ts';
import { LineError } from './jsonl.ts';

/** Label words: a list indexed by class, or a map from label value to words. */
export type LabelNames = readonly string[] | Readonly<Record<string, string>>;

/** The classes of a file. */
export interface ClassList {
  /** The words of each class, by class index. */
  readonly names: readonly string[];
  /**
   * Class index of a label value.
   * @throws LineError when the label is not one of the classes
   */
  indexOf(label: string | number): number;
}

function sortLabels<T extends string | number>(labels: T[]): T[] {
  return labels.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : a < b ? -1 : a > b ? 1 : 0));
}

function checkWords(words: readonly string[]): void {
  words.forEach((w, i) => {
    if (typeof w !== 'string' || w.trim() === '') {
      throw new RoadsterError('E_USAGE', `labelNames: entry ${i} must be a non-empty string, found ${JSON.stringify(w)}.`);
    }
  });
}

function fromList(list: readonly string[]): ClassList {
  checkWords(list);
  return {
    names: [...list],
    indexOf(label) {
      const index = typeof label === 'number' ? label : list.indexOf(label);
      if (index < 0 || index >= list.length) {
        throw new LineError(`label ${JSON.stringify(label)} is not one of labelNames ` +
          `(${typeof label === 'number' ? `an integer in [0, ${list.length})` : JSON.stringify(list)}).`);
      }
      return index;
    },
  };
}

function fromMap(map: Readonly<Record<string, string>>): ClassList {
  const keys = Object.keys(map);
  const numeric = keys.every((k) => /^-?\d+$/.test(k));
  const sorted = numeric ? sortLabels(keys.map(Number)).map(String) : sortLabels(keys);
  const names = sorted.map((k) => map[k]);
  checkWords(names);
  return {
    names,
    indexOf(label) {
      const index = sorted.indexOf(String(label));
      if (index < 0) throw new LineError(`label ${JSON.stringify(label)} is not a key of labelNames (${JSON.stringify(sorted)}).`);
      return index;
    },
  };
}

function fromData(labels: Iterable<string | number>): ClassList {
  let kind: 'string' | 'number' | undefined;
  const distinct = new Set<string | number>();
  for (const label of labels) {
    kind ??= typeof label === 'number' ? 'number' : 'string';
    if (typeof label === kind) distinct.add(label);
  }
  const values = sortLabels([...distinct]);
  const index = new Map(values.map((v, i) => [v, i]));
  return {
    names: values.map(String),
    indexOf(label) {
      const i = index.get(label);
      if (i === undefined) {
        throw new LineError(`label ${JSON.stringify(label)} is ${typeof label === 'number' ? 'an integer' : 'a string'} ` +
          `but the file's first label is ${kind === 'number' ? 'an integer' : 'a string'}; use one type for all labels.`);
      }
      return i;
    },
  };
}

/**
 * The classes of a file.
 * @param labels every label value of the file, in file order (the first one fixes the label type)
 * @throws RoadsterError E_USAGE when a label name is empty
 */
export function buildClassList(labels: Iterable<string | number>, labelNames?: LabelNames): ClassList {
  if (labelNames === undefined) return fromData(labels);
  return Array.isArray(labelNames) ? fromList(labelNames as readonly string[]) : fromMap(labelNames as Readonly<Record<string, string>>);
}
