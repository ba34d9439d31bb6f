// `roadster merge` and `roadster inspect` on the PEFT fixture adapter, in process through runCli.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { FIXTURES, TINY_LLAMA, fixture, flat } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'roadster-cli-adapters-'));
const runtime = new Runtime({ threads: 1 });
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});
const ADAPTER = join(FIXTURES, 'llama_road1_g8_qv', 'adapter');

const run = (...args: string[]) => runCliCaptured(args, { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'cache') });

test('merge writes a model whose logits are PEFT merge_and_unload logits', async () => {
  const out = join(scratch, 'merged');
  const r = await run('merge', '--model', TINY_LLAMA, '--adapter', ADAPTER, '--out', out, '--safe-merge', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).mergedModules, 4);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'roadster-merge.json']);
  const fx = fixture('llama_road1_g8_qv.json');
  const model = await CausalLM.fromFolder(out);
  const { logits } = await model.forward(runtime, { inputIds: fx.inputs.input_ids });
  const [b, t, v] = logits.shape;
  const first: number[] = [];
  for (let i = 0; i < b; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < v; k++) first.push(Number(logits.data[(i * t + j) * v + k]));
  assert.ok(relativeError(first, flat(fx.merge_and_unload.logits.first_positions)) <= 1e-5);
  // An existing, non-empty output folder is refused without --force, and nothing is written.
  const again = await run('merge', '--model', TINY_LLAMA, '--adapter', ADAPTER, '--out', out);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists and is not empty/);
  assert.ok(!readdirSync(scratch).some((n) => n.includes('.tmp-')));
});

test('merge of an adapter that does not fit the model fails cleanly', async () => {
  const bad = join(scratch, 'bad-adapter');
  mkdirSync(bad);
  writeFileSync(join(bad, 'adapter_config.json'), JSON.stringify({ peft_type: 'ROAD', variant: 'road_9', group_size: 8, target_modules: ['q_proj'] }));
  const r = await run('merge', '--model', TINY_LLAMA, '--adapter', bad, '--out', join(scratch, 'never'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error \[E_ADAPTER\]: .*unknown RoAd variant "road_9"/);
  assert.ok(!existsSync(join(scratch, 'never')));
});

test('inspect prints the config, parameter count, share of the model and per-module statistics', async () => {
  const r = await run('inspect', ADAPTER, '--model', TINY_LLAMA, '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.peftType, 'ROAD');
  assert.equal(report.config.variant, 'road_1');
  assert.equal(report.trainableParameters, 2 * (32 + 16) * 2); // θ and α for q (64/2) and v (32/2) in 2 layers
  assert.ok(report.trainablePercent > 0 && report.trainablePercent < 1);
  assert.equal(report.modules.length, 4);
  assert.ok(report.modules[0].params.road_theta.std > 0);
  const text = await run('inspect', ADAPTER);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /trainable parameters: 192/);
  assert.match(text.stdout, /model\.layers\.0\.self_attn\.q_proj\s+road_alpha/);
});
