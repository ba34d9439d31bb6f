// Adapters per request: concurrent requests naming different adapters (RoAd, LoRA, the base) share decode
// batches and each gets exactly what it gets alone (greedy); vLLM's runtime management under --adapters-dir:
// load, unload, least-recently-used eviction, loading on demand by folder name, and refusals that change
// nothing (traversal, a symlink leading out, a corrupt file, an adapter of another base, a taken name).

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { GenerationEngine } from '../../src/generate/engine.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { writeRandomModel } from '../../src/models/random-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { LORA, ROAD, ROAD_SECOND, post, type Running, startServer } from './helpers.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-serve-adapters-'));
const DIR = join(scratch, 'adapters');
const OUTSIDE = join(scratch, 'outside');
let model: CausalLM;

function copyAdapter(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(join(from, f), join(to, f));
}

before(async () => {
  model = await CausalLM.fromFolder(TINY_LLAMA);
  copyAdapter(ROAD, join(DIR, 'road'));
  copyAdapter(ROAD_SECOND, join(DIR, 'road2'));
  copyAdapter(LORA, join(DIR, 'nested', 'lora'));
  copyAdapter(ROAD, join(DIR, 'corrupt'));
  writeFileSync(join(DIR, 'corrupt', 'adapter_model.safetensors'), Buffer.from('not a safetensors file'));
  // a RoAd adapter made for a model of hidden size 32: its vectors do not fit tiny-llama's 64
  const config = JSON.parse(readFileSync(join(TINY_LLAMA, 'config.json'), 'utf8'));
  writeRandomModel(join(scratch, 'narrow'), { ...config, hidden_size: 32, num_attention_heads: 2, num_key_value_heads: 1 });
  const narrow = PeftModel.getPeftModel(await CausalLM.fromFolder(join(scratch, 'narrow')), runtime, roadConfig({ variant: 'road_1', groupSize: 8, targetModules: ['q_proj', 'v_proj'] }));
  narrow.saveAdapter(join(DIR, 'otherbase'));
  copyAdapter(ROAD, join(OUTSIDE, 'road'));
  symlinkSync(join(OUTSIDE, 'road'), join(DIR, 'escape'));
});
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

describe('requests for different adapters at once', () => {
  test('share decode batches, and each equals the same request alone', async () => {
    const s = await startServer({ model, runtime, servedModelName: 'base', adapters: { road: ROAD, road2: ROAD_SECOND, lora: LORA }, engine: { maxBatch: 8 } });
    const reference = new GenerationEngine(model, runtime);
    try {
      reference.loadAdapter('road', ROAD);
      reference.loadAdapter('road2', ROAD_SECOND);
      reference.loadAdapter('lora', LORA);
      const jobs = [['road', [1, 5, 9, 14]], ['lora', [3, 7]], ['base', [2, 8, 8, 9, 10]], ['road2', [1, 5, 9, 14]], ['road', [100, 4]], ['lora', [1, 5, 9, 14]]] as const;
      const maxTokens = 10;
      const expected = await Promise.all(jobs.map(async ([m, p]) => (await reference.generate([{ promptIds: p, adapter: m === 'base' ? null : m, maxTokens, ignoreEos: true, sampling: { temperature: 0 } }]))[0].tokens));
      const before = s.server.engine.stats().steps;
      let mostAdapters = 0;
      const watch = setInterval(() => (mostAdapters = Math.max(mostAdapters, s.server.engine.stats().runningAdapters.length)), 1);
      const replies = await Promise.all(jobs.map(([m, p]) => s.client.completions.create({ model: m, prompt: [...p], max_tokens: maxTokens, temperature: 0, ignore_eos: true, return_token_ids: true } as never)));
      clearInterval(watch);
      const steps = s.server.engine.stats().steps - before;
      replies.forEach((r, i) => assert.deepEqual((r.choices[0] as unknown as { token_ids: number[] }).token_ids, expected[i], `request ${i} (${jobs[i][0]})`));
      const serial = jobs.length * (maxTokens - 1); // the first token of each comes from its prefill
      assert.ok(steps < serial / 2, `${steps} decode steps for ${jobs.length} concurrent requests; alone they take ${serial}`);
      assert.ok(mostAdapters >= 2, `at most ${mostAdapters} adapters ran at once`);
    } finally {
      await reference.close();
      await s.stop();
    }
  });
});

describe('load and unload', () => {
  let s: Running;
  const load = (lora_name: string, lora_path: string) => post(`${s.url}/v1/load_lora_adapter`, { lora_name, lora_path });
  const unload = (lora_name: string) => post(`${s.url}/v1/unload_lora_adapter`, { lora_name });
  const listed = async () => (await s.client.models.list()).data.map((m) => m.id);
  before(async () => {
    s = await startServer({ model, runtime, servedModelName: 'base', adaptersDir: DIR, engine: { maxLoadedAdapters: 2 } });
  });
  after(() => s.stop());

  test('without --adapters-dir, the endpoints say runtime loading is off', async () => {
    const off = await startServer({ model, runtime, servedModelName: 'base' });
    try {
      const r = await post(`${off.url}/v1/load_lora_adapter`, { lora_name: 'road', lora_path: join(DIR, 'road') });
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'adapter_management_disabled');
      assert.match(r.body.error.message, /--adapters-dir/);
    } finally {
      await off.stop();
    }
  });

  test('loads a RoAd folder (relative to the folder or absolute) and a LoRA one; requests then name them', async () => {
    const a = await load('a', 'road');
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body, "Success: LoRA adapter 'a' added successfully.");
    assert.equal((await load('l', join(DIR, 'nested', 'lora'))).status, 200);
    assert.deepEqual(await listed(), ['base', 'a', 'l']);
    const card = (await s.client.models.list()).data.find((m) => m.id === 'a') as unknown as { root: string; parent: string };
    assert.equal(card.parent, 'base');
    assert.equal(card.root, join(DIR, 'road'));
    const r = await s.client.completions.create({ model: 'l', prompt: [1, 2, 3], max_tokens: 3 });
    assert.equal(r.choices[0].finish_reason, 'length');
  });

  test('refusals leave the adapters as they were: traversal, symlink escape, outside, missing, corrupt, other base, taken name', async () => {
    const before = await listed();
    const cases: [string, string, RegExp][] = [
      ['t1', '../outside/road', /outside the adapters folder/],
      ['t2', join(OUTSIDE, 'road'), /outside the adapters folder/],
      ['t3', 'escape', /outside the adapters folder/],
      ['t4', 'nested/../../outside/road', /outside the adapters folder/],
      ['t5', 'missing', /does not exist/],
      ['t6', 'corrupt', /safetensors|corrupt|header/i],
      ['t7', 'otherbase', /shape|expected|size/i],
      ['a', 'road2', /already been loaded/],
      ['base', 'road2', /base model's name/],
    ];
    for (const [name, path, message] of cases) {
      const r = await load(name, path);
      assert.equal(r.status, 400, `${name} ${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, message, `${name} ${path}`);
      assert.deepEqual(await listed(), before, `${name} ${path} changed the adapters`);
    }
  });

  test('past --max-loaded-adapters, the least recently used adapter is evicted', async () => {
    await s.client.completions.create({ model: 'a', prompt: [1, 2], max_tokens: 1 }); // a is now newer than l
    const r = await load('b', 'road2');
    assert.equal(r.status, 200);
    assert.match(r.body, /evicted, least recently used: l/);
    assert.deepEqual(await listed(), ['base', 'a', 'b']);
  });

  test('unload; unknown names are 404; a folder of --adapters-dir loads on demand when a request names it', async () => {
    assert.equal((await unload('b')).status, 200);
    assert.deepEqual(await listed(), ['base', 'a']);
    const gone = await post(`${s.url}/v1/completions`, { model: 'b', prompt: [1], max_tokens: 1 });
    assert.equal(gone.status, 404);
    assert.equal((await unload('b')).status, 404);
    const onDemand = await s.client.completions.create({ model: 'road2', prompt: [1, 2], max_tokens: 2 });
    assert.equal(onDemand.model, 'road2');
    assert.ok((await listed()).includes('road2'));
    const escape = await post(`${s.url}/v1/completions`, { model: 'escape', prompt: [1], max_tokens: 1 });
    assert.equal(escape.status, 400);
  });
});

describe('an adapter recorded for another base model', () => {
  test('loads when its shapes fit, and is reported through onWarning', async () => {
    const recorded = join(DIR, 'recorded-elsewhere');
    copyAdapter(ROAD, recorded);
    const config = JSON.parse(readFileSync(join(recorded, 'adapter_config.json'), 'utf8'));
    writeFileSync(join(recorded, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: 'someone/another-model' }));
    const warnings: string[] = [];
    const s = await startServer({ model, runtime, servedModelName: 'base', adaptersDir: DIR, onWarning: (m) => warnings.push(m) });
    try {
      const r = await post(`${s.url}/v1/load_lora_adapter`, { lora_name: 'elsewhere', lora_path: 'recorded-elsewhere' });
      assert.equal(r.status, 200);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /adapter "elsewhere": .*someone\/another-model/);
    } finally {
      await s.stop();
    }
  });
});
