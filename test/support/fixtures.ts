// Access to the PEFT reference fixtures copied into test/fixtures/peft (values never edited).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/peft/', import.meta.url));
export const TINY_LLAMA = `${FIXTURES}models/tiny-llama`;
export const TINY_QWEN2 = `${FIXTURES}models/tiny-qwen2`;

const cache = new Map<string, unknown>();
/** A fixture JSON file (parsed once). */
export function fixture<T = any>(name: string): T {
  if (!cache.has(name)) cache.set(name, JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8')));
  return cache.get(name) as T;
}

/** Flattens nested lists of numbers. */
export function flat(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [x as number];
}
