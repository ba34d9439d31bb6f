// The compose demo's IIA (src/demo/compose-iia.ts) on the constructed model whose answer is known: only pair 0 of
// group 4 of layer 1's down_proj reaches the logits. Swapping pairs 0/2 (pairs 0 and 1 of every group of 8) moves
// every base to its source's class, swapping pairs 1/2 moves none, and per layer only layer 1 carries the answer.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { subspaceIia } from '../../src/demo/compose-iia.ts';
import { captureOutputs, lastTokenPredictions } from '../../src/interpret/index.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { onePairModel } from '../support/one-pair-model.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

test('subspaceIia: the pairs that carry the answer flip every base, the complement none, and only in the layer that reads them', async () => {
  const peft = new PeftModel(await onePairModel(), runtime);
  const candidates = [10, 20];
  const prompts = Array.from({ length: 40 }, (_, i) => Array.from({ length: 3 + (i % 4) }, (_, t) => (i * 37 + t * 11 + 1) % 256));
  const labels = lastTokenPredictions((await captureOutputs(peft, prompts, [])).logits, prompts.map((p) => p.length), candidates);
  assert.ok(labels.includes(0) && labels.includes(1), 'the constructed model predicts both classes');
  const sites = [0, 1].map((l) => `model.layers.${l}.mlp.down_proj`);
  const r = await subspaceIia(peft, { prompts, labels, classNames: ['ham', 'spam'], candidates }, {
    model: 'constructed', groupSize: 8, subspace: '0/2', complement: '1/2', baseClass: 'ham', sourceClass: 'spam', sites, pairs: 16, randomDraws: 2, seed: 0, padId: 0,
  });
  assert.equal(r.examples, Math.min(16, labels.filter((l) => l === 0).length));
  assert.equal(r.flipRate, 1);
  assert.equal(r.complement, 0);
  assert.equal(r.random.draws.length, 2);
  assert.deepEqual(r.layers.map((l) => [l.layer, l.sites, l.flipRate, l.complement]), [[0, 1, 0, 0], [1, 1, 1, 0]]);
  assert.deepEqual(r.layers[0].random.draws, [0, 0], 'layer 0 writes nothing that reaches the logits');
});
