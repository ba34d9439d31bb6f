// Subspace-restricted RoAd training (issue 15 item 1): a run with --road-pairs changes no θ/α entry outside its
// pairs (bit-exact, with weight decay on), changes entries inside, saves a plain PEFT folder that loads, and
// `inspect` reports the pairs it uses; the selection parser refuses what does not exist.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inspectAdapter } from '../../src/adapters/inspect.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { type RoadVariant } from '../../src/adapters/road/math.ts';
import { entryPair, parsePairSelection, selectedPairs } from '../../src/adapters/road/pairs.ts';
import { restrictRoadPairs } from '../../src/adapters/subspace.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../../src/train/trainer.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { toyBatch as batch, toySource as source } from '../support/toy-batches.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-subspace-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

for (const variant of ['road_1', 'road_2', 'road_4'] as RoadVariant[]) {
  test(`${variant}: pairs 1/2 train, every other entry stays bit-exact identity (weight decay on)`, async () => {
    const base = await CausalLM.fromFolder(TINY_LLAMA);
    const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant, groupSize: 8, targetModules: ['q_proj', 'down_proj'], initWeights: false }), 'default', 3);
    const trainable = restrictRoadPairs(peft, 'default', parsePairSelection('1/2'));
    const total = [...peft.parameters('default').values()].reduce((a, p) => a + p.road_theta.length * 2, 0);
    assert.equal(trainable, total / 2);
    assert.equal(peft.trainableParameters().trainable, total / 2);
    const before = new Map([...peft.namedParameters('default')].map(([k, v]) => [k, Float32Array.from(v)]));
    const out = mkdtempSync(join(scratch, 'run-'));
    const trainer = new Trainer(peft, 'default', source, null, { ...DEFAULT_TRAIN_CONFIG, lr: 0.05, weightDecay: 0.1, maxSteps: 3, outDir: out });
    await trainer.run();
    const chosen = selectedPairs(parsePairSelection('1/2'), 8); // pairs 2, 3 of 0-3
    let moved = 0;
    for (const [name, after] of peft.namedParameters('default')) {
      const was = before.get(name)!;
      const identity = name.includes('road_theta') ? 0 : 1;
      for (let e = 0; e < after.length; e++) {
        if (chosen[entryPair(variant, 8, e)]) {
          if (after[e] !== was[e]) moved++;
        } else {
          assert.equal(after[e], identity, `${name}[${e}] outside the pairs`);
        }
      }
    }
    assert.ok(moved > total / 4, `entries inside the pairs train (${moved} moved)`);
    // a plain PEFT folder: loads without the mask, and inspect reads back the pairs
    const again = PeftModel.fromPretrained(base, runtime, out);
    assert.equal(again.trainableParameters().trainable, total);
    const report = inspectAdapter(out, base);
    assert.equal(report.roadPairs?.used, '2-3');
    assert.equal(report.roadPairs?.share, '1/2');
  });
}

test('pair selections: shares, ranges, and the errors that say what to fix', () => {
  assert.deepEqual(selectedPairs(parsePairSelection('0/2'), 8), [true, true, false, false]);
  assert.deepEqual(selectedPairs(parsePairSelection('0-1, 3'), 8), [true, true, false, true]);
  assert.deepEqual(selectedPairs(parsePairSelection('2/3'), 16), [false, false, false, false, false, true, true, true]);
  assert.throws(() => parsePairSelection('2/2'), { code: 'E_USAGE', message: /0 <= i < n/ });
  assert.throws(() => parsePairSelection('a-b'), { code: 'E_USAGE', message: /share i\/n/ });
  assert.throws(() => selectedPairs(parsePairSelection('0-4'), 8), { code: 'E_USAGE', message: /pair 4 does not exist; group size 8 has pairs 0-3/ });
  assert.throws(() => selectedPairs(parsePairSelection('0/8'), 8), { code: 'E_USAGE', message: /too few for 8 shares/ });
});

test('train settings: --road-pairs is checked against the group size before anything loads, and only for RoAd', async () => {
  const { resolveSettings } = await import('../../src/cli/train/settings.ts');
  const flags = { model: 'm', data: 'd', out: 'o', groupSize: 8 };
  assert.equal((resolveSettings({ ...flags, roadPairs: '1/2' }).adapter as { pairs: string | null }).pairs, '1/2');
  assert.throws(() => resolveSettings({ ...flags, roadPairs: '0-5' }), { code: 'E_USAGE', message: /pair 5 does not exist/ });
  assert.throws(() => resolveSettings({ model: 'm', data: 'd', out: 'o', method: 'lora', roadPairs: '0/2' }), { code: 'E_USAGE', message: /--road-pairs only applies to --method road/ });
});
