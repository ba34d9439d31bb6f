// Loading checkpoints as transformers' from_pretrained does: BF16 and F16 weights load to exactly the logits
// of float32 weights rounded to that dtype; a sharded F32 checkpoint (folder and Hub cache) loads to identical
// logits; corrupt or mismatched inputs fail with errors that name the file, the tensor and both shapes.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RoadsterError } from '../../src/errors.ts';
import { parseModelConfig } from '../../src/io/config/index.ts';
import { INDEX_FILE_NAME, writeSafetensors, writeShardedCheckpoint } from '../../src/io/safetensors/index.ts';
import { AutoModelForCausalLM } from '../../src/models/auto.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import type { Weight } from '../../src/models/load-weights.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { type NamedTensor, tinyLlama, writeConfig, writePythonCache } from '../support/model-folders.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-loading-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const INPUT = { inputIds: [[3, 17, 42, 99, 128, 255, 7], [200, 1, 64, 5, 9, 33, 80]] };
const COMMIT = '89abcdef0123456789abcdef0123456789abcdef';

/** bf16 rounding of a float32 value, round-to-nearest-even on the bit pattern (written here, not the library's). */
function roundBf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16) << 16;
  return f[0];
}

/** f16 rounding of a (finite, in-range) float32 value: round x / ulp to nearest even, in float64 (exact). */
function roundF16(x: number): number {
  if (x === 0) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14); // subnormals share exponent -14
  const ulp = 2 ** (e - 10);
  const q = x / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q)) === 0.5) r = 2 * Math.round(q / 2); // ties to even
  return r * ulp;
}

function modelFrom(configJson: Record<string, unknown>, tensors: readonly NamedTensor[], round: (x: number) => number = (x) => x): CausalLM {
  const weights = new Map<string, Weight>(tensors.map((t) => [t.name, { shape: t.shape, data: t.data.map(round) }]));
  return new CausalLM(parseModelConfig(configJson), weights);
}

async function logits(model: CausalLM): Promise<Float32Array> {
  return (await model.forward(runtime, INPUT)).logits.data as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function assertRejectsWith(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected a RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

describe('checkpoint dtypes and layouts', () => {
  const { configJson, tensors } = tinyLlama();

  for (const [dtype, torchDtype, round] of [['BF16', 'bfloat16', roundBf16], ['F16', 'float16', roundF16]] as const) {
    test(`${dtype} weights load to the logits of float32 weights rounded to ${dtype}`, async () => {
      const dir = join(scratch, `tiny-llama-${dtype}`);
      writeConfig(dir, { ...configJson, torch_dtype: torchDtype });
      writeSafetensors(join(dir, 'model.safetensors'), tensors.map((t) => ({ ...t, dtype })), { format: 'pt' });
      const loaded = await AutoModelForCausalLM.fromPretrained(dir);
      for (const t of tensors) {
        const w = loaded.weights.get(t.name);
        if (!w) continue; // tensors the model does not use
        assert.deepEqual(w.data, t.data.map(round), `${t.name} is the ${dtype} rounding of the float32 value`);
      }
      const expected = await logits(modelFrom(configJson, tensors, round));
      const actual = await logits(loaded);
      assert.ok(maxAbsDiff(actual, expected) <= 1e-6, `max |diff| ${maxAbsDiff(actual, expected)}`);
      assert.ok(maxAbsDiff(actual, await logits(modelFrom(configJson, tensors))) > 1e-4, `${dtype} rounding changes the logits`);
    });
  }

  test('a sharded F32 checkpoint loads to identical logits, from a folder and from a Hub cache', async () => {
    const dir = join(scratch, 'tiny-llama-sharded');
    writeConfig(dir, configJson);
    const written = writeShardedCheckpoint(dir, tensors.map((t) => ({ ...t, dtype: 'F32' as const })), 40_000);
    assert.ok(written.files.length >= 3, `${written.files.length} shards`);
    const expected = await logits(await CausalLM.fromFolder(TINY_LLAMA));
    assert.deepEqual(await logits(await AutoModelForCausalLM.fromPretrained(dir)), expected);

    const cacheDir = join(scratch, 'hub-sharded');
    const files: Record<string, Uint8Array> = { 'config.json': readFileSync(join(dir, 'config.json')), [INDEX_FILE_NAME]: readFileSync(written.indexFile!) };
    for (const f of written.files) files[f.slice(dir.length + 1)] = readFileSync(f);
    writePythonCache(cacheDir, 'test-org/tiny-llama-sharded', COMMIT, files);
    const fromHub = await AutoModelForCausalLM.fromPretrained('test-org/tiny-llama-sharded', { cacheDir, offline: true });
    assert.equal(fromHub.source, `test-org/tiny-llama-sharded@${COMMIT}`);
    assert.deepEqual(await logits(fromHub), expected);
  });

  test('a sharded checkpoint downloads from the Hub (a fake fetch) with progress, then loads offline', async () => {
    const dir = join(scratch, 'tiny-llama-sharded-hub');
    writeConfig(dir, configJson);
    const written = writeShardedCheckpoint(dir, tensors.map((t) => ({ ...t, dtype: 'F32' as const })), 40_000);
    const files = new Map<string, Uint8Array>([['config.json', readFileSync(join(dir, 'config.json'))], [INDEX_FILE_NAME, readFileSync(written.indexFile!)]]);
    for (const f of written.files) files.set(f.slice(dir.length + 1), readFileSync(f));
    const calls: string[] = [];
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
      const file = decodeURIComponent(url.pathname.replace(/^\/test-org\/hub-sharded\/resolve\/[^/]+\//, ''));
      const bytes = files.get(file);
      if (bytes === undefined) return new Response(null, { status: 404, headers: { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT } });
      const headers = { 'X-Repo-Commit': COMMIT, ETag: `"${sha(bytes)}"`, 'Content-Length': String(bytes.length) };
      return init?.method === 'HEAD' ? new Response(null, { status: 200, headers }) : new Response(new Uint8Array(bytes), { status: 200, headers });
    }) as typeof fetch;
    const cacheDir = join(scratch, 'hub-download');
    const progress = new Map<string, number>();
    const model = await AutoModelForCausalLM.fromPretrained('test-org/hub-sharded', {
      cacheDir, fetch: fakeFetch, onProgress: (p) => progress.set(p.file, p.bytesDone),
    });
    const expected = await logits(await CausalLM.fromFolder(TINY_LLAMA));
    assert.deepEqual(await logits(model), expected);
    for (const [file, bytes] of files) assert.equal(progress.get(file), bytes.length, `progress of ${file}`);
    assert.ok(calls.includes('HEAD /test-org/hub-sharded/resolve/main/model.safetensors') === false, 'files after the first are pinned to the commit');
    assert.ok(calls.includes(`HEAD /test-org/hub-sharded/resolve/${COMMIT}/model.safetensors`), 'model.safetensors is tried first');
    assert.ok(!calls.some((c) => c.startsWith('GET') && c.endsWith('/model.safetensors')));
    const offline = await AutoModelForCausalLM.fromPretrained('test-org/hub-sharded', { cacheDir, offline: true });
    assert.deepEqual(await logits(offline), expected);
  });

  test('a single-file checkpoint loads from a Hub cache, with generation_config.json', async () => {
    const cacheDir = join(scratch, 'hub-single');
    writePythonCache(cacheDir, 'test-org/tiny-llama', COMMIT, {
      'config.json': readFileSync(join(TINY_LLAMA, 'config.json')),
      'generation_config.json': readFileSync(join(TINY_LLAMA, 'generation_config.json')),
      'model.safetensors': readFileSync(join(TINY_LLAMA, 'model.safetensors')),
    });
    const model = await AutoModelForCausalLM.fromPretrained('test-org/tiny-llama', { cacheDir, offline: true, revision: 'main' });
    assert.deepEqual(model.generationConfig?.eosTokenIds, [2]);
    assert.deepEqual(await logits(model), await logits(await CausalLM.fromFolder(TINY_LLAMA)));
  });
});

describe('corrupt and mismatched checkpoints', () => {
  const { configJson, tensors } = tinyLlama();

  /** A tiny-llama folder with its config and the given tensors (F32). */
  function folder(name: string, config: Record<string, unknown>, list: readonly NamedTensor[]): string {
    const dir = join(scratch, name);
    writeConfig(dir, config);
    writeSafetensors(join(dir, 'model.safetensors'), list.map((t) => ({ ...t, dtype: 'F32' as const })), { format: 'pt' });
    return dir;
  }

  test('a truncated safetensors file', async () => {
    const dir = join(scratch, 'truncated');
    writeConfig(dir, configJson);
    const file = join(dir, 'model.safetensors');
    copyFileSync(join(TINY_LLAMA, 'model.safetensors'), file);
    truncateSync(file, Math.floor(readFileSync(file).byteLength / 2));
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained(dir), 'E_SAFETENSORS', file);
  });

  test('a header length beyond the end of the file', async () => {
    const dir = join(scratch, 'header-beyond');
    writeConfig(dir, configJson);
    const bytes = new Uint8Array(64);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    await assertRejectsWith(CausalLM.fromFolder(dir), 'E_SAFETENSORS', join(dir, 'model.safetensors'), 'header of 1000 bytes', 'only 56 bytes');
  });

  test('a missing tensor is named', async () => {
    const missing = 'model.layers.1.mlp.down_proj.weight';
    const dir = folder('missing-tensor', configJson, tensors.filter((t) => t.name !== missing));
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained(dir), 'E_WEIGHTS', missing, 'missing tensors');
  });

  test('a tensor whose shape disagrees with config.json names both shapes', async () => {
    const name = 'model.layers.0.mlp.up_proj.weight';
    const dir = folder('wrong-shape', configJson, tensors.map((t) => (t.name === name ? { ...t, shape: [64, 128] } : t)));
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained(dir), 'E_WEIGHTS', name, '[64, 128]', '[128, 64]');
    const small = folder('wrong-config', { ...configJson, intermediate_size: 96 }, tensors);
    await assertRejectsWith(CausalLM.fromFolder(small), 'E_WEIGHTS', 'model.layers.0.mlp.gate_proj.weight', '[128, 64]', '[96, 64]');
  });

  test('an unknown model_type lists the supported types', async () => {
    const dir = folder('gpt2-type', { ...configJson, model_type: 'gpt2' }, tensors);
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained(dir), 'E_CONFIG', 'model_type', '"gpt2"', '"llama"', '"qwen2"', '"mistral"');
  });

  test('a folder without weights, or that does not exist', async () => {
    const dir = join(scratch, 'no-weights');
    writeConfig(dir, configJson);
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained(dir), 'E_NOT_FOUND', dir, 'model.safetensors', INDEX_FILE_NAME);
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained(join(scratch, 'absent', 'folder')), 'E_NOT_FOUND', 'No folder');
  });

  test('a Hub id that is not cached, offline, names the file and the cache folder', async () => {
    const cacheDir = join(scratch, 'hub-empty');
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained('test-org/not-cached', { cacheDir, offline: true }), 'E_NOT_FOUND',
      'config.json', 'test-org/not-cached', 'offline mode is on', join(cacheDir, 'models--test-org--not-cached'));
    writePythonCache(cacheDir, 'test-org/config-only', COMMIT, { 'config.json': JSON.stringify(configJson) });
    await assertRejectsWith(AutoModelForCausalLM.fromPretrained('test-org/config-only', { cacheDir, offline: true }), 'E_NOT_FOUND',
      'model.safetensors', INDEX_FILE_NAME, join(cacheDir, 'models--test-org--config-only', 'snapshots', COMMIT), 'offline');
  });
});
