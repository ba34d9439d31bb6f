// `roadster merge` with bad or dangerous output folders: --force replaces only a folder an earlier merge wrote
// (never --model, never a user's folder), the replacement is a swap that leaves no temporary folder behind,
// filesystem problems are usage errors without a stack, the base's tokenizer files are copied, and an adapter
// made for another base, or one without group_size, is warned about.

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { FIXTURES, TINY_LLAMA } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const BYTES_TOKENIZER = fileURLToPath(new URL('../fixtures/tokenizers/bytes/', import.meta.url));
const ADAPTER = join(FIXTURES, 'llama_road1_g8_qv', 'adapter');
const scratch = mkdtempSync(join(tmpdir(), 'roadster-merge-safety-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const run = (...args: string[]) => runCliCaptured(['merge', ...args], { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'cache') });

// A base model folder with its tokenizer files.
const MODEL = join(scratch, 'tiny-llama');
mkdirSync(MODEL);
for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(join(TINY_LLAMA, f), join(MODEL, f));
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(BYTES_TOKENIZER, f), join(MODEL, f));
const merge = (out: string, ...more: string[]) => run('--model', MODEL, '--adapter', ADAPTER, '--out', out, ...more);

/** Names in `dir` that look like leftovers of a merge (temporary or old folders). */
const leftovers = (dir: string) => readdirSync(dir).filter((n) => /roadster-(tmp|old)|\.tmp-/.test(n));

describe('roadster merge --force', () => {
  test('refuses a folder that merge did not write, and keeps the user\'s files', async () => {
    const out = join(scratch, 'users-folder');
    mkdirSync(out);
    writeFileSync(join(out, 'thesis.tex'), 'years of work');
    const r = await merge(out, '--force');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error \[E_USAGE\]: .*users-folder.* not a model folder that roadster merge wrote/);
    assert.doesNotMatch(r.stderr, /internal error|    at /);
    assert.equal(readFileSync(join(out, 'thesis.tex'), 'utf8'), 'years of work');
    assert.deepEqual(leftovers(scratch), []);
  });

  test('never replaces --model itself', async () => {
    const r = await merge(MODEL, '--force');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error \[E_USAGE\]: .*--out .* is the base model folder/);
    assert.ok(existsSync(join(MODEL, 'tokenizer.json')));
    assert.deepEqual(leftovers(scratch), []);
  });

  test('replaces an earlier merge in one swap; the folder gets the tokenizer files and a marker', async () => {
    const out = join(scratch, 'merged');
    const first = await merge(out);
    assert.equal(first.code, 0, first.stderr);
    const files = readdirSync(out).sort();
    assert.deepEqual(files, ['config.json', 'generation_config.json', 'model.safetensors', 'roadster-merge.json', 'tokenizer.json', 'tokenizer_config.json']);
    assert.deepEqual(readFileSync(join(out, 'tokenizer.json')), readFileSync(join(MODEL, 'tokenizer.json')));
    const again = await merge(out);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists and is not empty/);
    const forced = await merge(out, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(readdirSync(out).sort(), files);
    assert.deepEqual(leftovers(scratch), []);
  });
});

describe('roadster merge: filesystem problems are usage errors, and nothing half-written stays', () => {
  test('--out is a file', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    const r = await merge(file, '--force');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error \[E_USAGE\]: .*a-file is a file, not a folder/);
    assert.equal(readFileSync(file, 'utf8'), 'x');
  });

  test('--out under a file', async () => {
    const file = join(scratch, 'b-file');
    writeFileSync(file, 'x');
    const r = await merge(join(file, 'out'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error \[E_USAGE\]: cannot write to .*b-file\/out/);
    assert.doesNotMatch(r.stderr, /internal error/);
  });

  test('an unwritable parent folder', async () => {
    // root writes into any mode-0555 folder, so as root the parent is sysfs, where no folder can be made
    const root = process.getuid?.() === 0;
    const parent = root ? '/sys' : join(scratch, 'read-only');
    if (!root) {
      mkdirSync(parent);
      chmodSync(parent, 0o555);
    }
    const before = readdirSync(parent);
    try {
      const r = await merge(join(parent, 'roadster-merge-out'));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error \[E_USAGE\]: cannot write to .*roadster-merge-out.*; choose a writable --out/);
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.deepEqual(readdirSync(parent), before);
    } finally {
      if (!root) chmodSync(parent, 0o755);
    }
  });
});

describe('roadster merge: adapters that do not match the base', () => {
  test('an adapter made for another base model is warned about', async () => {
    const adapter = join(scratch, 'other-base-adapter');
    mkdirSync(adapter);
    copyFileSync(join(ADAPTER, 'adapter_model.safetensors'), join(adapter, 'adapter_model.safetensors'));
    const config = JSON.parse(readFileSync(join(ADAPTER, 'adapter_config.json'), 'utf8'));
    const otherBase = join(scratch, 'other-base');
    mkdirSync(otherBase);
    writeFileSync(join(otherBase, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(TINY_LLAMA, 'config.json'), 'utf8')), model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] }));
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: otherBase }));
    const r = await run('--model', MODEL, '--adapter', adapter, '--out', join(scratch, 'other-merged'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: .*adapter was made for .*other-base.* not .*tiny-llama/);
    assert.match(r.stderr, /warning: .*Qwen2ForCausalLM.*LlamaForCausalLM/);
  });

  test('an adapter without group_size says that 64 was assumed', async () => {
    const adapter = join(scratch, 'no-group-size');
    mkdirSync(adapter);
    copyFileSync(join(ADAPTER, 'adapter_model.safetensors'), join(adapter, 'adapter_model.safetensors'));
    const { group_size: _g, ...config } = JSON.parse(readFileSync(join(ADAPTER, 'adapter_config.json'), 'utf8'));
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify(config));
    const r = await run('--model', MODEL, '--adapter', adapter, '--out', join(scratch, 'no-group-size-merged'));
    // tiny-llama's v_proj has 32 outputs, which 64 does not divide
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /E_ADAPTER.*no group_size.*64 was assumed/);
  });
});

test('a symbolic link loop as --model is reported as one, not as a missing folder', async () => {
  const a = join(scratch, 'loop-a');
  const b = join(scratch, 'loop-b');
  symlinkSync(b, a);
  symlinkSync(a, b);
  const r = await run('--model', a, '--adapter', ADAPTER, '--out', join(scratch, 'loop-out'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /loop-a is a symbolic link loop \(ELOOP\)/);
  assert.ok(!existsSync(join(scratch, 'loop-out')));
});
