// `roadster compose` in process: a RoAd fixture adapter composed with itself at weights 0.5 and 0.5 (θ halves
// add back up, α^0.5 twice multiply back) fits the model and reports the product; a wrong weight count and
// --disjoint on overlapping adapters are refused.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inspectAdapter } from '../../src/adapters/inspect.ts';
import { FIXTURES, TINY_LLAMA } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const ADAPTER = `${FIXTURES}llama_road1_g8_qv/adapter`;
const scratch = mkdtempSync(join(tmpdir(), 'roadster-compose-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('compose writes a PEFT folder and its report; refusals are usage or adapter errors', async () => {
  const out = join(scratch, 'c');
  const run = await runCliCaptured(['compose', '--adapter', ADAPTER, '--adapter', `${ADAPTER}/`, '--weights', '1,1', '--model', TINY_LLAMA, '--out', out, '--json'], {});
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.method, 'road-product');
  assert.equal(report.variant, 'road_1');
  assert.equal(report.disjoint, false);
  assert.match(report.note, /commute/);
  assert.equal(inspectAdapter(out).peftType, 'ROAD');
  const bad = await runCliCaptured(['compose', '--adapter', ADAPTER, '--adapter', ADAPTER, '--weights', '1', '--out', join(out, 'x')], {});
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--weights has 1 value\(s\) but 2 --adapter folder\(s\)/);
  const overlap = await runCliCaptured(['compose', '--adapter', ADAPTER, '--adapter', ADAPTER, '--disjoint', '--out', join(out, 'y')], {});
  assert.equal(overlap.code, 1);
  assert.match(overlap.stderr, /error \[E_ADAPTER\]: .*disjoint adapters were asked for/);
});
