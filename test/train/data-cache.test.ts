// The token cache: a second load reads the stored tokens without tokenizing, the key follows the data file, the
// tokenizer's files and the options, writes are atomic, and a damaged file is ignored and rebuilt.

import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { cacheKey, loadDataset, readCache, writeCache, type LoadDatasetOptions } from '../../src/train/data/index.ts';

const DATA = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const GPT2 = fileURLToPath(new URL('../fixtures/tokenizers/gpt2/', import.meta.url));

let work: string;
let gpt2: Tokenizer;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'roadster-data-cache-'));
  gpt2 = await Tokenizer.fromFolder(GPT2);
});
after(() => rm(work, { recursive: true, force: true }));

/** A tokenizer that fails if anything is encoded or rendered: proof that a load did not tokenize. */
function untouchable(tokenizer: Tokenizer): Tokenizer {
  const fail = (): never => {
    throw new Error('the cached load tokenized');
  };
  return Object.create(tokenizer, { encode: { value: fail }, applyChatTemplate: { value: fail } }) as Tokenizer;
}

async function freshDir(name: string): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  return dir;
}

describe('token cache', () => {
  it('a second load is a hit and does not tokenize', async () => {
    const cacheDir = await freshDir('hit');
    const options: LoadDatasetOptions = { tokenizer: gpt2, maxLength: 8, cacheDir, tokenizerFolder: GPT2, skipBadLines: true };
    const file = join(DATA, 'malformed.jsonl');
    const first = await loadDataset(file, options);
    assert.equal(first.report.cache, 'miss');
    assert.ok(first.report.cacheFile?.startsWith(cacheDir));
    const second = await loadDataset(file, { ...options, tokenizer: untouchable(gpt2) });
    assert.equal(second.report.cache, 'hit');
    assert.equal(second.report.cacheFile, first.report.cacheFile);
    assert.deepEqual(second.dataset.examples, first.dataset.examples);
    assert.deepEqual(second.dataset.info, first.dataset.info);
    assert.deepEqual({ ...second.report, cache: 'miss' }, first.report); // skipped lines and truncation counts too
    assert.equal(second.report.truncated, 1);
    // only the cache file remains: the temporary file was renamed
    assert.deepEqual((await readdir(cacheDir)).length, 1);
  });

  it('keeps class indices and class completions', async () => {
    const cacheDir = await freshDir('classes');
    const options: LoadDatasetOptions = { tokenizer: gpt2, maxLength: 64, cacheDir, tokenizerFolder: GPT2 };
    const first = await loadDataset(join(DATA, 'classification.jsonl'), options);
    const second = await loadDataset(join(DATA, 'classification.jsonl'), { ...options, tokenizer: untouchable(gpt2) });
    assert.equal(second.report.cache, 'hit');
    assert.deepEqual(second.dataset.examples, first.dataset.examples);
    assert.deepEqual(second.dataset.info, first.dataset.info);
  });

  it('the key changes with the data bytes, the tokenizer files and the options', async () => {
    const data = join(work, 'data.jsonl');
    await cp(join(DATA, 'text.jsonl'), data);
    const folder = join(work, 'tok');
    await cp(GPT2, folder, { recursive: true });
    const base = await cacheKey(data, folder, { maxLength: 8 });
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(await cacheKey(data, folder, { maxLength: 8 }), base);
    assert.notEqual(await cacheKey(data, folder, { maxLength: 9 }), base);
    assert.equal(await cacheKey(data, folder, { b: 1, a: 2 }), await cacheKey(data, folder, { a: 2, b: 1 }));
    await writeFile(join(folder, 'chat_template.jinja'), '{{ messages }}');
    const withTemplate = await cacheKey(data, folder, { maxLength: 8 });
    assert.notEqual(withTemplate, base);
    const config = JSON.parse(await readFile(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify({ ...config, eos_token: null }));
    assert.notEqual(await cacheKey(data, folder, { maxLength: 8 }), withTemplate);
    const beforeData = await cacheKey(data, folder, { maxLength: 8 });
    await writeFile(data, `${await readFile(data, 'utf8')}{"text": "more"}\n`);
    assert.notEqual(await cacheKey(data, folder, { maxLength: 8 }), beforeData);
    await assert.rejects(cacheKey(data, work, {}), /No tokenizer.json/);
  });

  it('a different maxLength is a miss, not a stale hit', async () => {
    const cacheDir = await freshDir('options');
    const options: LoadDatasetOptions = { tokenizer: gpt2, maxLength: 64, cacheDir, tokenizerFolder: GPT2 };
    await loadDataset(join(DATA, 'text.jsonl'), options);
    const shorter = await loadDataset(join(DATA, 'text.jsonl'), { ...options, maxLength: 4 });
    assert.equal(shorter.report.cache, 'miss');
    assert.equal(shorter.dataset.stats.maxLength, 4);
  });

  it('a corrupt cache file is ignored and rebuilt', async () => {
    const cacheDir = await freshDir('corrupt');
    const options: LoadDatasetOptions = { tokenizer: gpt2, maxLength: 64, cacheDir, tokenizerFolder: GPT2 };
    const file = join(DATA, 'prompt-completion.jsonl');
    const first = await loadDataset(file, options);
    const path = first.report.cacheFile as string;
    const bytes = await readFile(path);
    const damages: [string, Buffer][] = [
      ['a flipped token byte', Buffer.concat([bytes.subarray(0, bytes.length - 20), Buffer.from([bytes[bytes.length - 20] ^ 1]), bytes.subarray(bytes.length - 19)])],
      ['a truncated file', bytes.subarray(0, bytes.length - 7)],
      ['garbage', Buffer.from('not a cache')],
      ['an empty file', Buffer.alloc(0)],
    ];
    for (const [what, damaged] of damages) {
      await writeFile(path, damaged);
      const again = await loadDataset(file, options);
      assert.equal(again.report.cache, 'rebuilt', what);
      assert.deepEqual(again.dataset.examples, first.dataset.examples, what);
      assert.equal((await loadDataset(file, { ...options, tokenizer: untouchable(gpt2) })).report.cache, 'hit', what);
    }
  });

  it('readCache reports why a file is not used; writeCache round-trips examples', async () => {
    const dir = await freshDir('direct');
    assert.deepEqual(await readCache(dir, 'k'), { hit: false, reason: 'absent' });
    const examples = [{ inputIds: [5, 6, 7], labels: [-100, 6, 7], classLabel: 2 }, { inputIds: [9], labels: [9] }];
    await writeCache(dir, 'k', { examples, meta: { note: 'x' } });
    assert.deepEqual(await readCache(dir, 'k'), { hit: true, payload: { examples, meta: { note: 'x' } } });
    await cp(join(dir, 'tokens-k.bin'), join(dir, 'tokens-other.bin'));
    assert.deepEqual(await readCache(dir, 'other'), { hit: false, reason: 'key mismatch' });
  });
});
