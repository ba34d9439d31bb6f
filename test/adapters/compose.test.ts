// Adapter composition (issue 15 item 2): RoAd products against the adapters applied in turn (PeftModel with both
// active, float64 logits), the saved folder in PEFT's layout, the road_layer_unit cases composed into road_4,
// weighted blends, group sizes, and LoRA's PEFT combinations; bad input is refused with the reason.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { composeAdapters, composedSites } from '../../src/adapters/compose.ts';
import type { AdapterEntry, SiteParams } from '../../src/adapters/kind.ts';
import type { AdapterConfig } from '../../src/adapters/kinds.ts';
import { loraConfig } from '../../src/adapters/lora/config.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { readAdapterFolderUnchecked, writeAdapterFolder } from '../../src/adapters/peft-files.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { type RoadVariant, denseR, roadColumns } from '../../src/adapters/road/math.ts';
import { parsePairSelection } from '../../src/adapters/road/pairs.ts';
import { restrictRoadPairs } from '../../src/adapters/subspace.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());
const ids = [[3, 14, 15, 92, 65, 35, 89, 79]];

async function logits(peft: PeftModel, active: string | string[]): Promise<Float64Array> {
  peft.setAdapter(active);
  return (await peft.forward({ inputIds: ids }, { dtype: 'float64' })).logits.data as Float64Array;
}

const input = (peft: PeftModel, name: string, weight?: number) => ({ entry: peft.adapter(name), weight });

test('disjoint pairs: the product equals both adapters in turn (float64), in either order, and saves as a PEFT folder', async (t) => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_4', groupSize: 8, targetModules: ['q_proj', 'v_proj'], initWeights: false }), 'a', 1);
  peft.addAdapter('b', roadConfig({ variant: 'road_2', groupSize: 8, targetModules: ['v_proj', 'down_proj'], initWeights: false }), 2);
  restrictRoadPairs(peft, 'a', parsePairSelection('0/2'));
  restrictRoadPairs(peft, 'b', parsePairSelection('1/2'));
  const ab = composeAdapters([input(peft, 'a'), input(peft, 'b')], { requireDisjoint: true });
  const ba = composeAdapters([input(peft, 'b'), input(peft, 'a')]);
  assert.equal(ab.report.disjoint, true);
  assert.equal(ab.report.variant, 'road_4');
  assert.deepEqual(ab.config.targetModules, { kind: 'names', names: ['q_proj', 'v_proj', 'down_proj'] });
  peft.addAdapterFromParams('ab', ab.config, ab.params);
  peft.addAdapterFromParams('ba', ba.config, ba.params);
  const inTurn = await logits(peft, ['a', 'b']);
  assert.ok(relativeError(await logits(peft, 'ab'), inTurn) <= 1e-9);
  assert.ok(relativeError(await logits(peft, 'ba'), inTurn) <= 1e-9);
  assert.ok(relativeError(await logits(peft, 'a'), inTurn) > 1e-4, 'b changes the output');
  // the saved folder: PEFT's keys and shapes (the loader checks them against the model), bit-exact copies
  const dir = mkdtempSync(join(tmpdir(), 'roadster-compose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeAdapterFolder(dir, ab.config, ab.params, (p) => composedSites(ab.config, ab.params).get(p)!);
  peft.loadAdapter(dir, 'loaded');
  assert.ok(relativeError(await logits(peft, 'loaded'), inTurn) <= 1e-9);
  assert.deepEqual(readAdapterFolderUnchecked(dir).config, { ...ab.config, inferenceMode: true });
});

test('overlapping pairs: the product is the stated order, exact in float64; road_1 products stay road_1 and commute', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: ['q_proj', 'o_proj'], initWeights: false }), 'a', 3);
  peft.addAdapter('b', roadConfig({ variant: 'road_4', groupSize: 8, targetModules: ['o_proj'], initWeights: false }), 4);
  const ab = composeAdapters([input(peft, 'a'), input(peft, 'b')]);
  assert.equal(ab.report.disjoint, false);
  assert.match(ab.report.note, /applies a, then b in this order/);
  assert.throws(() => composeAdapters([input(peft, 'a'), input(peft, 'b')], { requireDisjoint: true }), { code: 'E_ADAPTER', message: /disjoint adapters were asked for/ });
  peft.addAdapterFromParams('ab', ab.config, ab.params);
  assert.ok(relativeError(await logits(peft, 'ab'), await logits(peft, ['a', 'b'])) <= 1e-9);
  assert.ok(relativeError(await logits(peft, 'ab'), await logits(peft, ['b', 'a'])) > 1e-6, 'the order matters here');

  peft.addAdapter('r1', roadConfig({ variant: 'road_1', groupSize: 8, targetModules: ['q_proj'], initWeights: false }), 5);
  peft.addAdapter('r2', roadConfig({ variant: 'road_1', groupSize: 8, targetModules: ['q_proj', 'k_proj'], initWeights: false }), 6);
  const rr = composeAdapters([input(peft, 'r1'), input(peft, 'r2')]);
  assert.equal(rr.report.variant, 'road_1');
  assert.match(rr.report.note, /commute/);
  peft.addAdapterFromParams('rr', rr.config, rr.params);
  assert.ok(relativeError(await logits(peft, 'rr'), await logits(peft, ['r2', 'r1'])) <= 1e-9);
});

interface UnitCase {
  variant: RoadVariant;
  group_size: number;
  out_features: number;
  theta: number[];
  alpha: number[];
}

test('every road_layer_unit case composed with a second adapter into road_4 reproduces the product of the dense R', () => {
  const cases = fixture<{ cases: UnitCase[] }>('road_layer_unit.json').cases;
  for (const c of cases) {
    const path = 'model.layers.0.self_attn.q_proj';
    const entry = (name: string, theta: number[], alpha: number[]): AdapterEntry<AdapterConfig> => ({
      name,
      config: roadConfig({ variant: c.variant, groupSize: c.group_size, targetModules: ['q_proj'] }),
      params: new Map<string, SiteParams>([[path, { road_theta: Float64Array.from(theta), road_alpha: Float64Array.from(alpha) }]]),
    });
    const first = entry('first', c.theta, c.alpha);
    const second = entry('second', [...c.theta].reverse().map((t) => t * 0.7), [...c.alpha].reverse());
    const out = composeAdapters([{ entry: first }, { entry: second }], { variant: 'road_4' });
    const cols = (e: { variant: RoadVariant; groupSize: number }, p: SiteParams) => roadColumns(e.variant, e.groupSize, p.road_theta, p.road_alpha);
    const d = c.out_features;
    const r1 = cols(first.config as never, first.params.get(path)!);
    const r2 = cols(second.config as never, second.params.get(path)!);
    const rc = cols(out.config as never, out.params.get(path)!);
    const [m1, m2, mc] = [denseR(c.group_size, r1.c, r1.s), denseR(c.group_size, r2.c, r2.s), denseR(c.group_size, rc.c, rc.s)];
    let worst = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let p = 0;
        for (let k = 0; k < d; k++) p += m2[i * d + k] * m1[k * d + j];
        worst = Math.max(worst, Math.abs(p - mc[i * d + j]));
      }
    }
    assert.ok(worst <= 1e-12, `${c.variant} G${c.group_size}: |R_c - R2 R1| = ${worst}`);
  }
});

test('weights blend in angle and log-scale; group sizes compose where the pairs agree and are refused where they cross', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_1', groupSize: 8, targetModules: ['q_proj'], initWeights: false }), 'a', 7);
  for (const p of peft.parameters('a').values()) p.road_alpha.forEach((v, i, arr) => (arr[i] = Math.abs(v) + 0.1));
  const halves = composeAdapters([input(peft, 'a', 0.5), input(peft, 'a', 0.5)]);
  for (const [path, p] of peft.parameters('a')) {
    const got = halves.params.get(path)!;
    assert.ok(relativeError(got.road_theta as Float64Array, Float64Array.from(p.road_theta)) <= 1e-12);
    assert.ok(relativeError(got.road_alpha as Float64Array, Float64Array.from(p.road_alpha)) <= 1e-12);
  }
  // a group-16 adapter that only scales (θ = 0) is diagonal, so it fits group 8's pairs; a rotating one does not
  peft.addAdapter('scale16', roadConfig({ variant: 'road_2', groupSize: 16, targetModules: ['q_proj'], initWeights: false }), 8);
  for (const p of peft.parameters('scale16').values()) p.road_theta.fill(0);
  const mixed = composeAdapters([input(peft, 'a'), input(peft, 'scale16')]);
  assert.equal(mixed.report.groupSize, 8);
  peft.addAdapterFromParams('mixed', mixed.config, mixed.params);
  assert.ok(relativeError(await logits(peft, 'mixed'), await logits(peft, ['a', 'scale16'])) <= 1e-9);
  peft.addAdapter('rot16', roadConfig({ variant: 'road_2', groupSize: 16, targetModules: ['q_proj'], initWeights: false }), 9);
  assert.throws(() => composeAdapters([input(peft, 'a'), input(peft, 'rot16')]), { code: 'E_ADAPTER', message: /in group size 8, adapter "rot16" \(group size 16\) rotates outputs \d+ and \d+ of model\.layers\.0\.self_attn\.q_proj/ });
  assert.throws(() => composeAdapters([input(peft, 'a'), input(peft, 'rot16')], { variant: 'road_1' }), { code: 'E_ADAPTER' });
  // negative scales cannot be blended as α^w
  for (const p of peft.parameters('rot16').values()) p.road_alpha[0] = -1;
  assert.throws(() => composeAdapters([input(peft, 'rot16', 0.5)]), { code: 'E_ADAPTER', message: /α\^w, but α\[0\] = -1 is not positive/ });
});

test('bad input: methods mixed, other bases, no adapter', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ groupSize: 8, baseModelNameOrPath: 'x/one' }), 'a');
  peft.addAdapter('b', roadConfig({ groupSize: 8, baseModelNameOrPath: 'x/two' }));
  peft.addAdapter('l', loraConfig({ r: 2 }));
  assert.throws(() => composeAdapters([input(peft, 'a'), input(peft, 'l')]), { code: 'E_ADAPTER', message: /mix ROAD and LORA/ });
  assert.throws(() => composeAdapters([input(peft, 'a'), input(peft, 'b')]), { code: 'E_ADAPTER', message: /different base models \(x\/one, x\/two\)/ });
  assert.throws(() => composeAdapters([]), { code: 'E_USAGE' });
});

test('LoRA: PEFT cat gives the weighted sum of the updates, linear sums the factors (cross terms)', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, loraConfig({ r: 2, loraAlpha: 4, targetModules: ['q_proj'], initLoraWeights: false }), 'a', 1);
  peft.addAdapter('b', loraConfig({ r: 2, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false }), 2);
  peft.addAdapter('c', loraConfig({ r: 3, loraAlpha: 3, targetModules: ['q_proj'], initLoraWeights: false }), 3);
  const delta = (p: SiteParams, r: number, scaling: number) => {
    const [a, b] = [p['lora_A.weight'], p['lora_B.weight']];
    const n = a.length / r;
    const d = b.length / r;
    const out = new Float64Array(d * n);
    for (let i = 0; i < d; i++) for (let k = 0; k < r; k++) for (let j = 0; j < n; j++) out[i * n + j] += scaling * b[i * r + k] * a[k * n + j];
    return out;
  };
  const q = 'model.layers.0.self_attn.q_proj';
  const cat = composeAdapters([input(peft, 'a', 0.3), input(peft, 'c', 0.7)], { combination: 'cat' });
  assert.equal(cat.report.r, 5);
  const want = delta(peft.parameters('a').get(q)!, 2, 0.3 * 2).map((v, i) => v + delta(peft.parameters('c').get(q)!, 3, 0.7)[i]);
  assert.ok(relativeError(delta(cat.params.get(q)!, 5, 1), want) <= 1e-12);
  const lin = composeAdapters([input(peft, 'a', 0.3), input(peft, 'b', 0.7)], { combination: 'linear' });
  assert.equal(lin.report.exact, false);
  const [pa, pb] = [peft.parameters('a').get(q)!, peft.parameters('b').get(q)!];
  const [wa, wb] = [Math.sqrt(0.3 * 2), Math.sqrt(0.7 * 4)];
  const mixed = { 'lora_A.weight': pa['lora_A.weight'].map((v, i) => wa * v + wb * pb['lora_A.weight'][i]), 'lora_B.weight': pb['lora_B.weight'].map((v, i) => wb * v + wa * pa['lora_B.weight'][i]) };
  assert.ok(relativeError(delta(lin.params.get(q)!, 2, 1), delta(mixed, 2, 1)) <= 1e-6);
  assert.throws(() => composeAdapters([input(peft, 'a'), input(peft, 'c')], { combination: 'linear' }), { code: 'E_ADAPTER', message: /equal ranks/ });
});
