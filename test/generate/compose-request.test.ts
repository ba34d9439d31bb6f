// Request-time composition (issue 15 item 3): a request naming "a+b" decodes, token for token, what the saved
// composed adapter (roadster compose's folder) decodes, in a batch with other rows; LoRA "a+b" equals its cat
// composition; RoAd with LoRA is refused with the reason; reloading a part recomposes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { composeAdapters } from '../../src/adapters/compose.ts';
import { readAdapterFolder, writeAdapterFolder } from '../../src/adapters/peft-files.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { GenerationEngine } from '../../src/generate/engine.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { FIXTURES, TINY_LLAMA } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-compose-engine-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const ROAD = `${FIXTURES}llama_road1_g8_qv/adapter`;
const ROAD_SECOND = `${FIXTURES}llama_road1_g8_qv/adapter/second`;
const LORA = `${FIXTURES}lora_llama_r4_a8_qv/adapter`;
const LORA_SECOND = `${FIXTURES}lora_llama_r4_a8_qv/adapter/second`;
const GREEDY = { temperature: 0 };

async function savedComposition(model: CausalLM, dirs: readonly string[]): Promise<string> {
  const sites = model.linearSites();
  const entries = dirs.map((dir, i) => ({ entry: { name: `x${i}`, ...readAdapterFolder(dir, sites) } }));
  const c = composeAdapters(entries);
  const out = mkdtempSync(join(scratch, 'composed-'));
  writeAdapterFolder(out, c.config, c.params, (p) => sites.find((s) => s.path === p)!);
  return out;
}

/** A random road_4 adapter of group size 8 on q and v (the fixture's second adapter has group size 16). */
function randomRoad4(model: CausalLM): string {
  const dir = mkdtempSync(join(scratch, 'road4-'));
  PeftModel.getPeftModel(model, runtime, roadConfig({ variant: 'road_4', groupSize: 8, initWeights: false }), 'default', 5).saveAdapter(dir);
  return dir;
}

test('"a+b" decodes what the saved composed adapter decodes, in a mixed batch', async () => {
  const model = await CausalLM.fromFolder(TINY_LLAMA);
  const engine = new GenerationEngine(model, runtime, { maxBatch: 8, eosTokenIds: [], maxLoadedAdapters: 12 });
  const B = randomRoad4(model);
  engine.loadAdapter('a', ROAD);
  engine.loadAdapter('b', B);
  engine.loadAdapter('g16', ROAD_SECOND);
  engine.loadAdapter('la', LORA);
  engine.loadAdapter('lb', LORA_SECOND);
  engine.loadAdapter('saved', await savedComposition(model, [ROAD, B]));
  engine.loadAdapter('lsaved', await savedComposition(model, [LORA, LORA_SECOND]));
  const prompts = [[3, 1, 4, 1, 5], [42, 42, 42], [17, 4, 90, 11]];
  const run = (adapter: string | null) => engine.generate(prompts.map((promptIds) => ({ promptIds, adapter, maxTokens: 12, sampling: GREEDY })));
  const [composed, saved, a] = [await run('a+b'), await run('saved'), await run('a')];
  assert.deepEqual(composed.map((r) => r.tokens), saved.map((r) => r.tokens));
  assert.notDeepEqual(composed.map((r) => r.tokens), a.map((r) => r.tokens));
  const mixed = await engine.generate([
    { promptIds: prompts[0], adapter: 'a+b', maxTokens: 12, sampling: GREEDY },
    { promptIds: prompts[1], adapter: 'la+lb', maxTokens: 12, sampling: GREEDY },
    { promptIds: prompts[2], adapter: null, maxTokens: 12, sampling: GREEDY },
  ]);
  assert.deepEqual(mixed[0].tokens, saved[0].tokens);
  assert.deepEqual(mixed[1].tokens, (await engine.generate([{ promptIds: prompts[1], adapter: 'lsaved', maxTokens: 12, sampling: GREEDY }]))[0].tokens);
  assert.throws(() => engine.submit({ promptIds: [1, 2], adapter: 'a+la', maxTokens: 2 }), { code: 'E_USAGE', message: /"a\+la" cannot be composed: .*mix ROAD and LORA/ });
  assert.throws(() => engine.submit({ promptIds: [1, 2], adapter: 'a+g16', maxTokens: 2 }), { code: 'E_USAGE', message: /group size 16\) rotates outputs 0 and 8/ });
  assert.throws(() => engine.submit({ promptIds: [1, 2], adapter: 'a+nope', maxTokens: 2 }), { code: 'E_USAGE', message: /no adapter named "nope"/ });
  // b reloaded with other weights: "a+b" is composed again
  engine.unloadAdapter('b');
  engine.loadAdapter('b', ROAD);
  const again = await run('a+b');
  const aa = await run('a+a');
  assert.deepEqual(again.map((r) => r.tokens), aa.map((r) => r.tokens));
});
