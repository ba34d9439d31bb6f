// Stop strings while streaming (split across chunks, overlapping candidates, at the very start, false starts
// released later, several stops: the first to complete wins, whatever the chunking), and finish reasons.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../support/random.ts';
import { RoadsterError } from '../../src/errors.ts';
import { MAX_STOP_STRINGS, StopStringMatcher, finishAfterToken, tokenStops } from '../../src/generate/stop.ts';

/** Feeds chunks; returns the emitted pieces, the stop that matched (or null) and the flushed remainder. */
function run(stops: readonly string[], chunks: readonly string[]): { emits: string[]; stop: string | null; rest: string } {
  const matcher = new StopStringMatcher(stops);
  const emits: string[] = [];
  for (const chunk of chunks) {
    const r = matcher.push(chunk);
    emits.push(r.emit);
    if (r.stopped) return { emits, stop: r.stop ?? null, rest: matcher.flush() };
  }
  return { emits, stop: null, rest: matcher.flush() };
}

test('no stop strings: everything passes straight through', () => {
  assert.deepEqual(run([], ['Hello', ' world']), { emits: ['Hello', ' world'], stop: null, rest: '' });
});

test('a stop string split across chunks: held back, then the text ends right before it', () => {
  assert.deepEqual(run(['</answer>'], ['The answer is 42</', 'ans', 'wer> and more']),
    { emits: ['The answer is 42', '', ''], stop: '</answer>', rest: '' });
  assert.deepEqual(run(['\n\n'], ['one\n', '\ntwo']), { emits: ['one', ''], stop: '\n\n', rest: '' });
});

test('a stop at the very start emits nothing', () => {
  assert.deepEqual(run(['###'], ['###', 'ignored']), { emits: [''], stop: '###', rest: '' });
  assert.deepEqual(run(['###'], ['#', '#', '# x']), { emits: ['', '', ''], stop: '###', rest: '' });
});

test('a prefix that turns out not to be a stop is released later', () => {
  assert.deepEqual(run(['STOP'], ['go ST', 'O', 'ay here']),
    { emits: ['go ', '', 'STOay here'], stop: null, rest: '' });
  // Released at the end by flush when generation stops for another reason.
  assert.deepEqual(run(['STOP'], ['go ST']), { emits: ['go '], stop: null, rest: 'ST' });
});

test('overlapping candidates: a false start inside a longer match', () => {
  // "aab" in "aaab": the first "a" cannot start a match once the third arrives.
  assert.deepEqual(run(['aab'], ['a', 'a', 'a', 'b']), { emits: ['', '', 'a', ''], stop: 'aab', rest: '' });
  // "abac" in "ababac": "aba" is held whole, then the match starts at the third character.
  assert.deepEqual(run(['abac'], ['aba', 'bac!']), { emits: ['', 'ab'], stop: 'abac', rest: '' });
});

test('several stops: the first to complete wins; on a tie of ends, the one that starts first', () => {
  assert.deepEqual(run(['world', 'lo'], ['hello world']), { emits: ['hel'], stop: 'lo', rest: '' });
  assert.deepEqual(run(['xabcd', 'ab'], ['xabcd']), { emits: ['x'], stop: 'ab', rest: '' });
  assert.deepEqual(run(['cd', 'bcd'], ['abcde']), { emits: ['a'], stop: 'bcd', rest: '' });
  assert.deepEqual(run(['User:', 'Assistant:'], ['Sure.\nAssis', 'tant: hi\nUser:']),
    { emits: ['Sure.\n', ''], stop: 'Assistant:', rest: '' });
});

test('multi-byte text and stops', () => {
  assert.deepEqual(run(['😀!'], ['日本😀', '!後']), { emits: ['日本', ''], stop: '😀!', rest: '' });
  assert.deepEqual(run(['é'], ['caf', 'é au lait']), { emits: ['caf', ''], stop: 'é', rest: '' });
});

test('after a stop, pushes emit nothing and flush is empty', () => {
  const matcher = new StopStringMatcher(['end']);
  assert.deepEqual(matcher.push('the end is near'), { emit: 'the ', stopped: true, stop: 'end' });
  assert.equal(matcher.stopped, true);
  assert.deepEqual(matcher.push('more'), { emit: '', stopped: true, stop: 'end' });
  assert.equal(matcher.flush(), '');
});

test('random texts and chunkings: the same result as one character at a time', () => {
  const rng = new Rng(17);
  const pick = (n: number): string => Array.from({ length: n }, () => 'abc'[rng.int(0, 2)]).join('');
  for (let trial = 0; trial < 500; trial++) {
    const stops = Array.from({ length: rng.int(1, 3) }, () => pick(rng.int(1, 4)));
    const text = pick(rng.int(0, 20));
    const chars = run(stops, [...text]);
    const cuts: string[] = [];
    for (let i = 0; i < text.length;) {
      const n = rng.int(1, 6);
      cuts.push(text.slice(i, i + n));
      i += n;
    }
    const chunked = run(stops, cuts);
    const what = `${JSON.stringify(stops)} ${JSON.stringify(text)} ${JSON.stringify(cuts)}`;
    assert.equal(chunked.emits.join('') + chunked.rest, chars.emits.join('') + chars.rest, what);
    assert.equal(chunked.stop, chars.stop, what);
    // Against the definition: text up to the stop that ends first (then starts first), or all of it.
    const matches = stops.map((s) => ({ s, at: text.indexOf(s) })).filter((m) => m.at >= 0)
      .sort((x, y) => x.at + x.s.length - (y.at + y.s.length) || x.at - y.at);
    assert.equal(chars.emits.join('') + chars.rest, matches.length > 0 ? text.slice(0, matches[0].at) : text, what);
  }
});

test('bad stop lists are E_USAGE naming the problem', () => {
  const usage = (pattern: RegExp) => (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE' && pattern.test(e.message);
  assert.throws(() => new StopStringMatcher(['ok', '']), usage(/stop\[1\] must be a non-empty string/));
  assert.throws(() => new StopStringMatcher([7 as unknown as string]), usage(/stop\[0\].*found 7/));
  assert.throws(() => new StopStringMatcher(['x'.repeat(257)]), usage(/at most 256/));
  assert.throws(() => new StopStringMatcher(['\uD83D']), usage(/surrogate/));
  assert.throws(() => new StopStringMatcher(Array.from({ length: MAX_STOP_STRINGS + 1 }, (_, i) => `s${i}`)), usage(/at most 16 stop strings, found 17/));
  assert.throws(() => new StopStringMatcher('stop' as unknown as string[]), usage(/list of strings/));
});

test('finish reasons: a stop id wins over the length, "length" at maxTokens', () => {
  const stops = tokenStops(3, [0, 7]);
  assert.equal(finishAfterToken(5, 1, stops), null);
  assert.equal(finishAfterToken(7, 2, stops), 'stop');
  assert.equal(finishAfterToken(5, 3, stops), 'length');
  assert.equal(finishAfterToken(0, 3, stops), 'stop');
  const usage = (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE';
  assert.throws(() => tokenStops(0, []), usage);
  assert.throws(() => tokenStops(2.5, []), usage);
  assert.throws(() => tokenStops(4, [-1]), usage);
});
