// JSONL reading and record formats: line numbers (blank lines counted), file:line errors that name the JSON
// problem or the field, skipping and counting bad lines, one format per file, and empty files.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../../src/errors.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { loadDataset, LineError, MAX_LISTED_BAD_LINES, parseExample, readJsonl } from '../../src/train/data/index.ts';

const DATA = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const GPT2 = fileURLToPath(new URL('../fixtures/tokenizers/gpt2/', import.meta.url));

let gpt2: Tokenizer;
let work: string;
before(async () => {
  gpt2 = await Tokenizer.fromFolder(GPT2);
  work = await mkdtemp(join(tmpdir(), 'roadster-data-formats-'));
});
after(() => rm(work, { recursive: true, force: true }));

async function rejectsWith(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

async function tempFile(name: string, text: string): Promise<string> {
  const file = join(work, name);
  await writeFile(file, text);
  return file;
}

describe('readJsonl', () => {
  it('streams records with 1-based line numbers, skipping blank lines, a BOM and CRLF endings', async () => {
    const file = await tempFile('bom.jsonl', '\uFEFF{"a": 1}\r\n\r\n  \r\n{"a": 2}\r\n');
    const result = await readJsonl(file, (v) => v);
    assert.deepEqual(result.records, [{ line: 1, value: { a: 1 } }, { line: 4, value: { a: 2 } }]);
    assert.equal(result.skipped, 0);
  });

  it('reports a parser LineError as file:line, or skips and counts it', async () => {
    const file = await tempFile('odd.jsonl', '1\n2\n3\n');
    const parse = (v: unknown): number => {
      if (v === 2) throw new LineError('two is not allowed.');
      return v as number;
    };
    await rejectsWith(readJsonl(file, parse), 'E_DATA', `${file}:2: two is not allowed.`, '--skip-bad-lines');
    const skipped = await readJsonl(file, parse, { skipBadLines: true });
    assert.deepEqual(skipped.records.map((r) => r.value), [1, 3]);
    assert.deepEqual(skipped.badLines, [{ line: 2, reason: 'two is not allowed.' }]);
    assert.equal(skipped.skipped, 1);
  });

  it('lists the first 100 bad lines and counts them all', async () => {
    const file = await tempFile('many-bad.jsonl', `${'{oops\n'.repeat(150)}1\n`);
    const result = await readJsonl(file, (v) => v, { skipBadLines: true });
    assert.equal(result.skipped, 150);
    assert.equal(result.badLines.length, MAX_LISTED_BAD_LINES);
    assert.equal(result.badLines[99].line, 100);
    assert.deepEqual(result.records, [{ line: 151, value: 1 }]);
  });

  it('a missing file is E_NOT_FOUND', async () => {
    await rejectsWith(readJsonl(join(work, 'absent.jsonl'), (v) => v), 'E_NOT_FOUND', 'absent.jsonl');
  });
});

describe('record formats', () => {
  it('detects each format and ignores keys outside it', () => {
    assert.deepEqual(parseExample({ text: 'a', id: 7 }), { format: 'text', text: 'a' });
    assert.deepEqual(parseExample({ prompt: 'a', completion: 'b' }), { format: 'prompt-completion', prompt: 'a', completion: 'b' });
    assert.deepEqual(parseExample({ messages: [{ role: 'user', content: 'a' }] }), { format: 'messages', messages: [{ role: 'user', content: 'a' }] });
    assert.deepEqual(parseExample({ text: 'a', label: 'x' }), { format: 'classification', text: 'a', label: 'x' });
    assert.deepEqual(parseExample({ text: 'a', label: 3 }), { format: 'classification', text: 'a', label: 3 });
  });

  it('names the missing or mistyped field', () => {
    const cases: [unknown, string][] = [
      [{ prompt: 'a' }, 'field "completion" is missing'],
      [{ prompt: 1, completion: 'b' }, 'field "prompt" must be a string, found a number 1'],
      [{ text: 'a', label: 1.5 }, 'field "label" must be a string or an integer, found a number 1.5'],
      [{ text: 'a', label: null }, 'field "label" must be a string or an integer, found null'],
      [{ messages: [] }, 'field "messages" must be a non-empty array'],
      [{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 5 }] }, 'field "messages[1].content" must be a string, found a number 5'],
      [{ messages: [{ content: 'a' }] }, 'field "messages[0].role" must be a string, found nothing'],
      [{ messages: ['hi'] }, 'field "messages[0]" must be an object'],
      [{ question: 'q' }, 'unknown record format: keys ["question"]'],
      [[1, 2], 'expected a JSON object, found an array [1,2]'],
      [{ text: 'a', prompt: 'b', completion: 'c' }, 'mixes the keys of formats "prompt-completion" and "text"'],
    ];
    for (const [value, message] of cases) {
      assert.throws(() => parseExample(value), (e: unknown) => e instanceof LineError && e.message.includes(message), message);
    }
  });

  it('holds a record to the expected format', () => {
    assert.throws(() => parseExample({ prompt: 'a', completion: 'b' }, { format: 'text', line: 3 }),
      /has the "prompt-completion" format but the file's format is "text" \(as set by line 3\)/);
    assert.throws(() => parseExample({ text: 'a' }, { format: 'classification', line: 1 }), /field "label" is missing/);
    assert.throws(() => parseExample({ text: 'a', label: 1 }, { format: 'text', line: 1 }), /"classification" format but the file's format is "text"/);
    // a caller who asks for 'text' may train a language model on a classification file: the label is ignored
    assert.deepEqual(parseExample({ text: 'a', label: 1 }, { format: 'text' }), { format: 'text', text: 'a' });
  });
});

describe('loadDataset errors', () => {
  it('stops at the first bad line with file:line and the JSON problem', async () => {
    const file = join(DATA, 'malformed.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 64 }), 'E_DATA', `${file}:2: not valid JSON`);
  });

  it('skips and counts bad lines with skipBadLines, with the reason of each', async () => {
    const { dataset, report } = await loadDataset(join(DATA, 'malformed.jsonl'), { tokenizer: gpt2, maxLength: 64, skipBadLines: true });
    assert.equal(report.format, 'text');
    assert.equal(report.examples, 2);
    assert.equal(dataset.size, 2);
    assert.equal(report.skipped, 5);
    assert.deepEqual(report.badLines.map((b) => b.line), [2, 3, 4, 5, 6]);
    const reasons = report.badLines.map((b) => b.reason);
    assert.match(reasons[0], /^not valid JSON \(/);
    assert.match(reasons[1], /"prompt-completion" format but the file's format is "text" \(as set by line 1\)/);
    assert.match(reasons[2], /field "text" must be a string, found a number 42/);
    assert.match(reasons[3], /field "text" is missing/);
    assert.match(reasons[4], /expected a JSON object/);
  });

  it('rejects a file that changes format, naming the first line that differs', async () => {
    const file = join(DATA, 'mixed-formats.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 64 }), 'E_DATA',
      `${file}:4: this record has the "prompt-completion" format but the file's format is "text" (as set by line 1)`);
  });

  it('rejects records of another format than the one asked for', async () => {
    const file = join(DATA, 'text.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 64, format: 'prompt-completion' }), 'E_DATA',
      `${file}:1: this record has the "text" format but the file's format is "prompt-completion" (as chosen by the caller)`);
    await rejectsWith(loadDataset(join(DATA, 'prompt-completion.jsonl'), { tokenizer: gpt2, maxLength: 64, format: 'messages' }), 'E_DATA',
      ':1: this record has the "prompt-completion" format but the file\'s format is "messages" (as chosen by the caller)');
  });

  it('an empty file, or one whose every line is bad, has no usable example', async () => {
    const empty = join(DATA, 'empty.jsonl');
    await rejectsWith(loadDataset(empty, { tokenizer: gpt2, maxLength: 64 }), 'E_DATA', `${empty} has no usable example`, 'no records');
    const bad = await tempFile('all-bad.jsonl', '{"x": 1}\n{oops\n');
    await rejectsWith(loadDataset(bad, { tokenizer: gpt2, maxLength: 64, skipBadLines: true }), 'E_DATA', 'has no usable example', '2 bad line(s) skipped');
  });

  it('validates its options', async () => {
    const file = join(DATA, 'text.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 0 }), 'E_USAGE', 'maxLength');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 8, format: 'chat' as never }), 'E_USAGE', 'format must be one of');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 8, labelMode: 'score' as never }), 'E_USAGE', 'labelMode');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 8, cacheDir: work }), 'E_USAGE', 'tokenizerFolder');
    await rejectsWith(loadDataset(join(work, 'absent.jsonl'), { tokenizer: gpt2, maxLength: 8 }), 'E_NOT_FOUND', 'absent.jsonl');
  });
});
