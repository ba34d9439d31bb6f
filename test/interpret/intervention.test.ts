// Interchange interventions, ablations and IIA (issue 15 item 4), in float64 on the tiny Llama: a source equal to
// the base changes nothing; the site outputs after a swap are DII's b + Rᵀ(R s − R b), computed by hand; swapping
// every attention and MLP output at the last token gives the source's last-token logits (same last token);
// zero-ablating all coordinates equals zeroing the module's weights; resetting all pairs of an identity adapter
// changes nothing; IIA on a constructed model whose answer is known.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { parsePairSelection } from '../../src/adapters/road/pairs.ts';
import { withoutPairs } from '../../src/adapters/subspace.ts';
import { ablate, captureOutputs, interchange, interchangeAccuracy, lastTokenPredictions, meanOutputs, padRows, pairCoordinates } from '../../src/interpret/index.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import type { Weight } from '../../src/models/load-weights.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { onePairModel } from '../support/one-pair-model.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());
const F64 = { dtype: 'float64' as const };
const BASE = [[5, 9, 17, 33, 7], [40, 41, 42]];
const SOURCE = [[100, 2, 3, 7], [8, 8, 8, 8, 8, 42]];
const data = (t: { data: unknown }) => Float64Array.from(t.data as Float64Array);

async function adapted(): Promise<PeftModel> {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  return PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: 'all-linear', initWeights: false }), 'default', 4);
}

test('a source equal to the base changes nothing; the swapped outputs are b + Rᵀ(R s − R b)', async () => {
  const peft = await adapted();
  const site = 'model.layers.0.mlp.down_proj';
  const coords = pairCoordinates(64, 8, [true, false, true, false]);
  const clean = await captureOutputs(peft, BASE, [site], F64);
  const same = await interchange(peft, { base: BASE, source: BASE, sites: [{ path: site, coordinates: coords }], positions: { kind: 'last' } }, F64);
  assert.ok(relativeError(data(same.logits), data(clean.logits)) <= 1e-12);

  const src = await captureOutputs(peft, SOURCE, [site], F64);
  const swapped = await interchange(peft, { base: BASE, source: SOURCE, sites: [{ path: site, coordinates: coords }], positions: { kind: 'aligned', pairs: [[0, 1], [2, 2]] } }, F64);
  const [t, ts, d] = [clean.t, src.t, 64];
  const b = clean.outputs.get(site)!;
  const s = src.outputs.get(site)!;
  const want = Float64Array.from(b);
  for (let r = 0; r < 2; r++) {
    for (const [p, q] of [[0, 1], [2, 2]]) for (const k of coords) want[(r * t + p) * d + k] = b[(r * t + p) * d + k] + (s[(r * ts + q) * d + k] - b[(r * t + p) * d + k]);
  }
  assert.ok(relativeError(swapped.outputs.get(site)!, want) <= 1e-12);
  assert.ok(relativeError(data(swapped.logits), data(clean.logits)) > 1e-6, 'the swap changes the logits');
});

test('swapping every attention and MLP output at the last token gives the source\'s last-token logits', async () => {
  const peft = await adapted();
  const sites = [0, 1].flatMap((l) => [{ path: `model.layers.${l}.self_attn.o_proj` }, { path: `model.layers.${l}.mlp.down_proj` }]);
  const { logits } = await interchange(peft, { base: BASE, source: SOURCE, sites, positions: { kind: 'last' } }, F64);
  const source = await captureOutputs(peft, SOURCE, [], F64);
  const v = 256;
  const last = (x: Float64Array, t: number, r: number, n: number) => x.subarray((r * t + n - 1) * v, (r * t + n) * v);
  const [tb, ts] = [padRows(BASE).inputIds[0].length, source.t];
  for (let r = 0; r < 2; r++) {
    // the residual stream at the last token is its embedding (the same token) plus these outputs
    assert.ok(relativeError(last(data(logits), tb, r, BASE[r].length), last(data(source.logits), ts, r, SOURCE[r].length)) <= 1e-9, `row ${r}`);
  }
});

test('zero-ablation of all coordinates equals a zeroed module; mean-ablation uses the means; all pairs of an identity adapter reset change nothing', async () => {
  const peft = await adapted();
  const site = 'model.layers.1.self_attn.v_proj';
  const ablated = await ablate(peft, BASE, [{ path: site }], { kind: 'zero' }, 'all', F64);
  const zeroed = peft.base.withWeights(new Map<string, Weight>([[`${site}.weight`, { shape: [32, 64], data: new Float32Array(32 * 64) }]]));
  const z = PeftModel.getPeftModel(zeroed, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: 'all-linear', initWeights: false }), 'default', 4);
  assert.ok(relativeError(data(ablated.logits), data((await z.forward(padRows(BASE), F64)).logits)) <= 1e-12);
  const means = await meanOutputs(peft, SOURCE, [site], 'all', F64);
  const meaned = await ablate(peft, BASE, [{ path: site, coordinates: [3, 7] }], { kind: 'mean', means }, 'last', F64);
  assert.equal(meaned.outputs.get(site)![(0 * 5 + 4) * 32 + 7], means.get(site)![7]);

  const identity = PeftModel.getPeftModel(peft.base, runtime, roadConfig({ variant: 'road_4', groupSize: 8, targetModules: 'all-linear' }), 'id');
  const before = await identity.forward(padRows(BASE), F64);
  const entry = identity.adapter('id');
  identity.addAdapterFromParams('reset', entry.config, withoutPairs(entry.config as never, entry.params, parsePairSelection('0/1')));
  identity.setAdapter('reset');
  assert.deepEqual(data((await identity.forward(padRows(BASE), F64)).logits), data(before.logits));
});

test('IIA on a constructed model: only pair 0 of group 4 of the last down_proj reaches the logits', async () => {
  const peft = new PeftModel(await onePairModel(), runtime);
  const candidates = [10, 20, 30, 40];
  const rows = Array.from({ length: 24 }, (_, i) => Array.from({ length: 3 + (i % 4) }, (_, t) => (i * 37 + t * 11 + 1) % 256));
  const clean = lastTokenPredictions((await captureOutputs(peft, rows, [])).logits, rows.map((r) => r.length), candidates);
  assert.ok(new Set(clean).size > 1, 'the constructed model predicts more than one class');
  const examples = rows.map((base, i) => ({ base, source: rows[(i + 5) % rows.length], expected: clean[(i + 5) % rows.length] }));
  const site = 'model.layers.1.mlp.down_proj';
  const pair0 = await interchangeAccuracy(peft, examples, { sites: [{ path: site, coordinates: pairCoordinates(64, 8, [true, false, false, false]) }], candidates });
  assert.equal(pair0.iia, 1);
  const pair1 = await interchangeAccuracy(peft, examples, { sites: [{ path: site, coordinates: pairCoordinates(64, 8, [false, true, false, false]) }], candidates });
  const agree = examples.filter((e, i) => e.expected === clean[i]).length / examples.length;
  assert.equal(pair1.iia, agree);
  assert.ok(pair1.iia < 1);
});

test('bad sites and positions are usage errors', async () => {
  const peft = await adapted();
  await assert.rejects(interchange(peft, { base: BASE, source: SOURCE, sites: [{ path: 'model.layers.9.mlp.down_proj' }], positions: { kind: 'last' } }), { code: 'E_USAGE', message: /no module "model\.layers\.9\.mlp\.down_proj"/ });
  await assert.rejects(interchange(peft, { base: BASE, source: SOURCE, sites: [{ path: 'model.layers.0.mlp.down_proj', coordinates: [64] }], positions: { kind: 'last' } }), { code: 'E_USAGE', message: /coordinate 64 is outside its 64 outputs/ });
  await assert.rejects(interchange(peft, { base: BASE, source: SOURCE, sites: [{ path: 'model.layers.0.mlp.down_proj' }], positions: { kind: 'aligned', pairs: [[4, 4]] } }), { code: 'E_USAGE', message: /fall outside/ });
  await assert.rejects(interchange(peft, { base: BASE, source: SOURCE.slice(1), sites: [], positions: { kind: 'last' } }), { code: 'E_USAGE' });
});
