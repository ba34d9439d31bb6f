// `roadster interpret` in process on the tiny Llama (token ids, no tokenizer): a swap of all coordinates of every
// attention and MLP output at the last token predicts what the source predicts (same last token); zero-ablation
// runs without a source; flag errors are usage errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIXTURES, TINY_LLAMA } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const ADAPTER = `${FIXTURES}llama_road1_g8_qv/adapter`;
const sites = [0, 1].flatMap((l) => ['--site', `model.layers.${l}.self_attn.o_proj`, '--site', `model.layers.${l}.mlp.down_proj`]);

test('interpret: interchange, ablation and bad flags', async () => {
  const run = await runCliCaptured(['interpret', '--model', TINY_LLAMA, '--adapter', ADAPTER, ...sites, '--base-ids', '5,9,17,33,7', '--source-ids', '100,2,3,7', '--json'], {});
  assert.equal(run.code, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  assert.deepEqual(r.intervened.map((p: { token: number }) => p.token), r.source.map((p: { token: number }) => p.token));
  assert.ok(Math.abs(r.intervened[0].probability - r.source[0].probability) < 1e-4);
  const zero = await runCliCaptured(['interpret', '--model', TINY_LLAMA, '--adapter', ADAPTER, '--site', 'model.layers.1.self_attn.q_proj', '--pairs', '0/2', '--ablate', 'zero', '--base-ids', '5,9,17', '--top', '2'], {});
  assert.equal(zero.code, 0, zero.stderr);
  assert.match(zero.stdout, /intervened base:\n +\d+\.\d%/);
  const bad = await runCliCaptured(['interpret', '--model', TINY_LLAMA, '--site', 'model.layers.0.mlp.down_proj', '--pairs', '0/2', '--base-ids', '1,2', '--source-ids', '3'], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--pairs needs a group size/);
});
