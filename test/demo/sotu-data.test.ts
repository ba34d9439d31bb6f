// The compose demo's second task: State of the Union passages by party, cut at sentence ends, with a split by
// address year and class-balanced samples; early (before 1900) and modern (from 1950) addresses only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balancedPassages, isTestPassage, loadSotuPassages, passages } from '../../src/demo/sotu-data.ts';

test('passages end at sentence ends and reach the minimum length', () => {
  const text = 'One two. Three four five! Six? Seven eight nine ten. Eleven.';
  assert.deepEqual(passages(text, 15), ['One two. Three four five!', 'Six? Seven eight nine ten.']);
});

test('the corpus: two eras, a split by address, balanced samples', () => {
  const all = loadSotuPassages(300);
  assert.deepEqual([...new Set(all.map((p) => p.label))].sort(), ['early', 'modern']);
  assert.ok(all.every((p) => p.text.length >= 300));
  assert.ok(all.every((p) => (p.label === 'early' ? p.year < 1900 : p.year >= 1950)));
  const test = all.filter(isTestPassage);
  const train = all.filter((p) => !isTestPassage(p));
  assert.ok(test.length > 0.1 * all.length && test.length < 0.3 * all.length, `${test.length} of ${all.length} test passages`);
  const years = new Set(test.map((p) => p.year));
  assert.ok(train.every((p) => !years.has(p.year)), 'no address is in both splits');
  const sample = balancedPassages(train, 50, 1);
  assert.equal(sample.filter((p) => p.label === 'early').length, 50);
  assert.equal(sample.filter((p) => p.label === 'modern').length, 50);
  assert.deepEqual(balancedPassages(train, 50, 1), sample);
});
