// AutoTokenizer.fromPretrained: the same tokenizer from a local folder and from a Python-style Hub cache
// (offline); clear errors when tokenizer.json is absent.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { RoadsterError } from '../../src/errors.ts';
import { AutoTokenizer } from '../../src/models/auto.ts';
import { writePythonCache } from '../support/model-folders.ts';

const GPT2 = fileURLToPath(new URL('../fixtures/tokenizers/gpt2/', import.meta.url));
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const scratch = mkdtempSync(join(tmpdir(), 'roadster-auto-tokenizer-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function isCode(code: string, ...parts: string[]): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RoadsterError, String(error));
    assert.equal(error.code, code, error.message);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  };
}

test('a local folder and a Hub cache give the same tokenizer', async () => {
  const local = await AutoTokenizer.fromPretrained(GPT2);
  const cacheDir = join(scratch, 'hub');
  writePythonCache(cacheDir, 'openai-community/gpt2', COMMIT, {
    'tokenizer.json': readFileSync(join(GPT2, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(join(GPT2, 'tokenizer_config.json')),
  });
  const cached = await AutoTokenizer.fromPretrained('openai-community/gpt2', { cacheDir, offline: true });
  const text = 'Hello world, RoAd rotates pairs.';
  assert.deepEqual(cached.encode(text), local.encode(text));
  assert.deepEqual(local.encode('Hello world'), [15496, 995]);
  assert.equal(cached.eosToken?.id, 50256);
});

test('a missing tokenizer.json is explained, locally and offline', async () => {
  const dir = join(scratch, 'no-tokenizer');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(GPT2, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  await assert.rejects(AutoTokenizer.fromPretrained(dir), isCode('E_TOKENIZER', 'tokenizer.json', dir));
  const cacheDir = join(scratch, 'hub-config-only');
  writePythonCache(cacheDir, 'org/model', COMMIT, { 'config.json': '{}' });
  await assert.rejects(AutoTokenizer.fromPretrained('org/model', { cacheDir, offline: true }), isCode('E_NOT_FOUND', 'tokenizer.json', 'org/model'));
});
