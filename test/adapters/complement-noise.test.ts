// Complement noise (subspace training under noise on the frozen pairs, frozen-noise.ts): the draws touch frozen
// entries only, with the asked spread, as a function of the seed; a gradient with noise is the gradient of the
// model whose frozen entries carry the draws, and the entries come back bit-exact; a trained run keeps every
// entry outside its pairs at the identity, differs from a run without noise, and resumes bit-exact; the CLI's
// flag is parsed and refused where it has no meaning.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { frozenNoiseDraws } from '../../src/adapters/frozen-noise.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { entryPair, parsePairSelection, selectedPairs } from '../../src/adapters/road/pairs.ts';
import { parseComplementNoise, restrictRoadPairs } from '../../src/adapters/subspace.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../../src/train/trainer.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { toyBatch as batch, toySource as source } from '../support/toy-batches.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-complement-noise-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const NOISE = { theta: 0.3, alpha: 0.1 };

async function restricted(noise: { theta: number; alpha: number } | null): Promise<PeftModel> {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_4', groupSize: 8, targetModules: ['q_proj', 'down_proj'] }), 'default', 3);
  restrictRoadPairs(peft, 'default', parsePairSelection('0/2'), noise);
  return peft;
}

const copy = (peft: PeftModel) => new Map([...peft.namedParameters('default')].map(([k, v]) => [k, Float32Array.from(v)]));

test('frozenNoiseDraws: frozen entries only, N(0, σ²) per parameter, a function of the seed', () => {
  const n = 20000;
  const mask = Uint8Array.from({ length: n }, (_, i) => i % 2);
  const masks = new Map([
    ['x.road_theta.a', mask],
    ['x.road_alpha.a', mask],
  ]);
  const noise = { label: 'test', sigma: (p: string) => (p.includes('theta') ? 0.3 : 0.1) };
  const draws = frozenNoiseDraws(masks, noise, 7);
  for (const [param, sigma] of [['x.road_theta.a', 0.3], ['x.road_alpha.a', 0.1]] as const) {
    const d = draws.get(param)!;
    const frozen = [...d].filter((_, i) => mask[i] === 0);
    assert.ok([...d].every((v, i) => mask[i] === 0 || v === 0), 'trainable entries get nothing');
    const mean = frozen.reduce((a, v) => a + v, 0) / frozen.length;
    const sd = Math.sqrt(frozen.reduce((a, v) => a + (v - mean) ** 2, 0) / frozen.length);
    assert.ok(Math.abs(mean) < 4 * (sigma / Math.sqrt(frozen.length)), `${param}: mean ${mean}`);
    assert.ok(Math.abs(sd / sigma - 1) < 0.03, `${param}: sd ${sd}, asked ${sigma}`);
  }
  assert.deepEqual(frozenNoiseDraws(masks, noise, 7), draws, 'the same seed draws the same');
  assert.notDeepEqual(frozenNoiseDraws(masks, noise, 8).get('x.road_theta.a'), draws.get('x.road_theta.a'));
  assert.notDeepEqual(draws.get('x.road_theta.a')!.map((v) => v / 0.3), draws.get('x.road_alpha.a')!.map((v) => v / 0.1), 'each parameter has its own stream');
  assert.ok(frozenNoiseDraws(masks, { label: 'off', sigma: () => 0 }, 7).get('x.road_theta.a')!.every((v) => v === 0));
  assert.throws(() => frozenNoiseDraws(masks, { label: 'bad', sigma: () => -1 }, 7), { code: 'E_USAGE', message: />= 0/ });
});

test('a gradient under complement noise is the gradient of the model whose frozen entries carry the draws; the entries come back bit-exact', async () => {
  const noisy = await restricted(NOISE);
  const before = copy(noisy);
  const seed = 12345;
  const withNoise = await noisy.lossAndGrads(batch(0), { noiseSeed: seed });
  assert.deepEqual(copy(noisy), before, 'every entry back to its exact value');

  // the same draws added by hand to a model without noise
  const plain = await restricted(null);
  const { masks, noise } = noisy.trainableMask('default')!;
  assert.match(noisy.trainableMask('default')!.label, /road pairs 0\/2, complement noise θ 0.3, α 0.1/);
  const draws = frozenNoiseDraws(masks, noise!, (await import('../../src/seeded-random.ts')).mixSeed(seed, 0));
  for (const [param, p] of plain.namedParameters('default')) {
    const d = draws.get(param)!;
    for (let i = 0; i < p.length; i++) p[i] += d[i];
  }
  const byHand = await plain.lossAndGrads(batch(0), { noiseSeed: null });
  assert.equal(withNoise.loss, byHand.loss);
  assert.deepEqual(withNoise.grads, byHand.grads);

  const clean = await noisy.lossAndGrads(batch(0), { noiseSeed: null });
  assert.notEqual(clean.loss, withNoise.loss, 'noiseSeed null runs without the noise');
  await assert.rejects(noisy.lossAndGrads(batch(0)), { code: 'E_USAGE', message: /complement noise θ 0.3, α 0.1\): pass noiseSeed/ });
  assert.throws(() => restrictRoadPairs(plain, 'default', parsePairSelection('0/2'), { theta: -0.1, alpha: 0 }), { code: 'E_USAGE', message: />= 0/ });
});

test('training under complement noise: the other pairs stay the identity, the run differs from one without noise, and resume is bit-exact', async () => {
  /** Four steps with a checkpoint every two; `crashAt` throws out of the run after that step (the run's crash). */
  const run = async (noise: typeof NOISE | null, out: string, options: { crashAt?: number; resume?: boolean } = {}) => {
    const peft = await restricted(noise);
    const crash = { onStep: (r: { step: number }) => { if (r.step === options.crashAt) throw new Error('crash'); } };
    const trainer = new Trainer(peft, 'default', source, null, { ...DEFAULT_TRAIN_CONFIG, lr: 0.05, weightDecay: 0.1, maxSteps: 4, saveEvery: 2, outDir: out }, crash);
    if (options.resume) assert.equal(trainer.resume(), true);
    if (options.crashAt === undefined) await trainer.run();
    else await assert.rejects(trainer.run(), /crash/);
    return peft;
  };
  const noisy = await run(NOISE, join(scratch, 'noisy'));
  const chosen = selectedPairs(parsePairSelection('0/2'), 8);
  for (const [name, values] of noisy.namedParameters('default')) {
    const identity = name.includes('road_theta') ? 0 : 1;
    values.forEach((v, e) => {
      if (!chosen[entryPair('road_4', 8, e)]) assert.equal(v, identity, `${name}[${e}] outside the pairs`);
    });
  }
  const plain = await run(null, join(scratch, 'plain'));
  assert.notDeepEqual(copy(noisy), copy(plain), 'the noise changes what the pairs learn');

  const split = join(scratch, 'split');
  await run(NOISE, split, { crashAt: 3 });
  const resumed = await run(NOISE, split, { resume: true });
  assert.deepEqual(copy(resumed), copy(noisy), 'stopped at step 2 and resumed: the same adapter as one run');

  // a checkpoint made without the noise is not resumed with it
  const other = join(scratch, 'other');
  await run(null, other, { crashAt: 3 });
  const peft = await restricted(NOISE);
  const trainer = new Trainer(peft, 'default', source, null, { ...DEFAULT_TRAIN_CONFIG, lr: 0.05, weightDecay: 0.1, maxSteps: 4, saveEvery: 2, outDir: other });
  assert.throws(() => trainer.resume(), { code: 'E_CHECKPOINT', message: /other settings/ });
});

test('--complement-noise: one spread or θ,α; only with --road-pairs and RoAd; bad values say what to write', async () => {
  assert.deepEqual(parseComplementNoise('0.2'), { theta: 0.2, alpha: 0.2 });
  assert.deepEqual(parseComplementNoise('0.3, 0.1'), { theta: 0.3, alpha: 0.1 });
  for (const bad of ['-0.1', 'a', '0.1,0.2,0.3', '', '0.1,']) assert.throws(() => parseComplementNoise(bad), { code: 'E_USAGE', message: /e\.g\. 0\.2/ }, bad);
  const { resolveSettings } = await import('../../src/cli/train/settings.ts');
  const flags = { model: 'm', data: 'd', out: 'o', groupSize: 8 };
  const adapter = resolveSettings({ ...flags, roadPairs: '0/2', complementNoise: '0.2' }).adapter;
  assert.deepEqual(adapter.method === 'road' ? adapter.complementNoise : null, { theta: 0.2, alpha: 0.2 });
  assert.throws(() => resolveSettings({ ...flags, complementNoise: '0.2' }), { code: 'E_USAGE', message: /--complement-noise only applies with --road-pairs/ });
  assert.throws(() => resolveSettings({ model: 'm', data: 'd', out: 'o', method: 'lora', complementNoise: '0.2' }), { code: 'E_USAGE', message: /--complement-noise only applies to --method road/ });
});
