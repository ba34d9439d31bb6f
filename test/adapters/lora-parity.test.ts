// LoRA parity with HF PEFT on lora_llama_r4_a8_qv (tiny-llama, r 4, lora_alpha 8 on q_proj/v_proj; second
// adapter r 8 on v_proj/o_proj): config, loaded parameters, the layer probe, logits, losses, full gradients
// (float32 and float64), the second adapter, the mixed batch, saved files (byte-identical safetensors),
// reload, merged weights and merged logits, unmerge.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { applyLoraTraced } from '../../src/adapters/lora/graph.ts';
import { LORA_A, LORA_B } from '../../src/adapters/lora/kind.ts';
import { addDelta } from '../../src/adapters/lora/math.ts';
import { readAdapterConfig } from '../../src/adapters/peft-files.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { assertAllClose, relativeError } from '../support/all-close.ts';
import { FIXTURES, TINY_LLAMA, fixture, flat } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-lora-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

function positions(logits: HostTensor, which: 'first' | 'last', n = 4): number[] {
  const [b, t, v] = logits.shape;
  const out: number[] = [];
  for (let i = 0; i < b; i++) {
    const js = which === 'first' ? [...Array(n).keys()] : [t - 1];
    for (const j of js) for (let k = 0; k < v; k++) out.push(Number(logits.data[(i * t + j) * v + k]));
  }
  return out;
}

const relClose = (a: number, b: number, tol: number) => Math.abs(a - b) / Math.abs(b) <= tol;

/** PeftModel names a gradient `<module>.lora_A.weight.<adapter>`; PEFT's parameter is `<module>.lora_A.<adapter>.weight`. */
const peftName = (name: string) => name.replace(/\.(lora_[AB])\.weight\.([^.]+)$/, '.$1.$2.weight');

describe('LoRA parity: lora_llama_r4_a8_qv', async () => {
  const fx = fixture('lora_llama_r4_a8_qv.json');
  const adapterDir = join(FIXTURES, 'lora_llama_r4_a8_qv', 'adapter');
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const ids: number[][] = fx.inputs.input_ids;

  test('adapter_config.json parses into the LoRA config', () => {
    const config = readAdapterConfig(adapterDir);
    assert.equal(config.peftType, 'LORA');
    if (config.peftType !== 'LORA') return;
    assert.deepEqual([config.r, config.loraAlpha, config.loraDropout, config.useRslora, config.initLoraWeights, config.bias], [4, 8, 0, false, true, 'none']);
    assert.deepEqual(config.targetModules, { kind: 'names', names: ['v_proj', 'q_proj'] });
    const second = readAdapterConfig(join(adapterDir, 'second'));
    assert.ok(second.peftType === 'LORA' && second.r === 8 && second.loraAlpha === 8);
  });

  test('loaded parameters equal the fixture values', () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    const keys = Object.keys(fx.adapter_default.params);
    assert.equal([...peft.parameters('default').values()].flatMap((p) => Object.keys(p)).length, keys.length);
    for (const key of keys) {
      const m = /^base_model\.model\.(.+)\.(lora_[AB])\.default\.weight$/.exec(key)!;
      assert.deepEqual([...peft.parameters('default').get(m[1])![`${m[2]}.weight`]], flat(fx.adapter_default.params[key]).map(Math.fround), key);
    }
  });

  test('layer probe: y_base + scaling · (x Aᵀ) Bᵀ', async () => {
    const probe = fx.adapter_default.layer_probe;
    const [r, n] = [probe.lora_A.length, probe.lora_A[0].length];
    const d = probe.lora_B.length;
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['B', 'T', n]);
    const y = b.input('y', 'float32', ['B', 'T', d]);
    const out = applyLoraTraced(x, y, b.input('A', 'float32', [r, n]), b.input('Bm', 'float32', [d, r]), probe.scaling);
    const compiled = await runtime.compile(b.build({ out }));
    const f32 = (v: unknown, shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(flat(v)) });
    const res = await compiled.run({ x: f32(probe.x, [1, 3, n]), y: f32(probe.y_base, [1, 3, d]), A: f32(probe.lora_A, [r, n]), Bm: f32(probe.lora_B, [d, r]) });
    assertAllClose(res.out.data as Float32Array, flat(probe.y_lora), { rtol: 1e-5, atol: 1e-6 }, 'y_lora');
  });

  test('logits, loss and masked loss (float32)', async () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    const out = await peft.forward({ inputIds: ids, labels: fx.inputs.labels });
    assert.ok(relativeError(positions(out.logits, 'first'), flat(fx.adapter_default.logits.first_positions)) <= 1e-5);
    assert.ok(relativeError(positions(out.logits, 'last'), flat(fx.adapter_default.logits.last_position)) <= 1e-5);
    assert.ok(relClose(out.loss!, fx.adapter_default.loss, 1e-5), `loss ${out.loss} vs ${fx.adapter_default.loss}`);
    const masked = await peft.forward({ inputIds: ids, labels: fx.inputs.labels_masked });
    assert.ok(relClose(masked.loss!, fx.adapter_default.loss_masked, 1e-5), `masked loss ${masked.loss} vs ${fx.adapter_default.loss_masked}`);
  });

  test('full gradients of every lora_A / lora_B (float32, <= 1e-4 of max |grad|)', async () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    const { loss, grads } = await peft.lossAndGrads({ inputIds: ids, labels: fx.inputs.labels });
    assert.ok(relClose(loss, fx.adapter_default.loss, 1e-5));
    const ref = fx.adapter_default.grads;
    assert.deepEqual([...grads.keys()].map(peftName).sort(), Object.keys(ref).sort());
    for (const [name, g] of grads) {
      const e = relativeError(g, flat(ref[peftName(name)].full));
      assert.ok(e <= 1e-4, `${name}: ${e}`);
    }
    // Masked labels: the fixture keeps the sum and the first 8 entries of each gradient.
    const masked = await peft.lossAndGrads({ inputIds: ids, labels: fx.inputs.labels_masked });
    for (const [name, g] of masked.grads) {
      const r = fx.adapter_default.grads_loss_masked[peftName(name)];
      assert.ok(relativeError(g.subarray(0, r.first.length), r.first) <= 1e-4, `${name} (masked) first`);
      let sum = 0;
      for (const v of g) sum += v;
      assert.ok(Math.abs(sum - r.sum) <= 1e-5 * r.abs_sum, `${name} (masked) sum ${sum} vs ${r.sum}`);
    }
  });

  test('float64 loss, logits and gradients (<= 1e-9)', async () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    const out = await peft.forward({ inputIds: ids, labels: fx.inputs.labels }, { dtype: 'float64' });
    assert.ok(relClose(out.loss!, fx.float64.adapter_loss, 1e-9), `${out.loss} vs ${fx.float64.adapter_loss}`);
    assert.ok(relativeError(positions(out.logits, 'first'), flat(fx.float64.adapter_logits_first_positions)) <= 1e-9);
    assert.ok(relativeError(positions(out.logits, 'last'), flat(fx.float64.adapter_logits_last_position)) <= 1e-9);
    const masked = await peft.forward({ inputIds: ids, labels: fx.inputs.labels_masked }, { dtype: 'float64' });
    assert.ok(relClose(masked.loss!, fx.float64.adapter_loss_masked, 1e-9));
    const { grads } = await peft.lossAndGrads({ inputIds: ids, labels: fx.inputs.labels }, { dtype: 'float64' });
    assert.equal(grads.size, Object.keys(fx.float64.adapter_grads_full).length);
    for (const [name, g] of grads) {
      const e = relativeError(g, flat(fx.float64.adapter_grads_full[peftName(name)]));
      assert.ok(e <= 1e-9, `${name}: ${e}`);
    }
  });

  test('second adapter, and a mixed batch equal to per-row runs and to PEFT', async () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    peft.loadAdapter(join(adapterDir, 'second'), 'second');
    peft.setAdapter('second');
    const second = await peft.forward({ inputIds: ids, labels: fx.inputs.labels });
    assert.ok(relativeError(positions(second.logits, 'first'), flat(fx.adapter_second.logits.first_positions)) <= 1e-5);
    assert.ok(relativeError(positions(second.logits, 'last'), flat(fx.adapter_second.logits.last_position)) <= 1e-5);
    assert.ok(relClose(second.loss!, fx.adapter_second.loss, 1e-5));

    const mix = fx.mixed_batch;
    const mixed = await peft.forward({ inputIds: mix.input_ids, adapterNames: mix.adapter_names });
    assert.ok(relativeError(positions(mixed.logits, 'first'), flat(mix.logits_first_positions)) <= 1e-5);
    assert.ok(relativeError(positions(mixed.logits, 'last'), flat(mix.logits_last_position)) <= 1e-5);
    const [, t, v] = mixed.logits.shape;
    for (let i = 0; i < mix.adapter_names.length; i++) {
      const name = mix.adapter_names[i];
      if (name === '__base__') peft.disableAdapter();
      else peft.setAdapter(name);
      const single = await peft.forward({ inputIds: [mix.input_ids[i]] });
      peft.enableAdapters();
      assertAllClose(single.logits.data as Float32Array, (mixed.logits.data as Float32Array).subarray(i * t * v, (i + 1) * t * v), { rtol: 1e-5, atol: 1e-5 }, `row ${i}`);
    }
  });

  test('saved adapter files are byte-identical to PEFT, and reload to the same logits', async () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    peft.loadAdapter(join(adapterDir, 'second'), 'second');
    const out = join(scratch, 'saved');
    peft.savePretrained(out);
    for (const [name, sub] of [['default', ''], ['second', 'second']] as const) {
      const saved = fx.saved_adapters[name];
      const bytes = readFileSync(join(out, sub, 'adapter_model.safetensors'));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), saved.sha256, `${name} safetensors sha256`);
      const config = JSON.parse(readFileSync(join(out, sub, 'adapter_config.json'), 'utf8'));
      const expected = { ...saved['adapter_config.json'] };
      assert.deepEqual({ ...config, target_modules: [...config.target_modules].sort() }, { ...expected, target_modules: [...expected.target_modules].sort() });
    }
    const reloaded = PeftModel.fromPretrained(base, runtime, out);
    reloaded.loadAdapter(join(out, 'second'), 'second');
    const a = await peft.forward({ inputIds: ids });
    const b = await reloaded.forward({ inputIds: ids });
    assert.deepEqual(b.logits.data, a.logits.data);
    const mix = fx.mixed_batch;
    const ma = await peft.forward({ inputIds: mix.input_ids, adapterNames: mix.adapter_names });
    const mb = await reloaded.forward({ inputIds: mix.input_ids, adapterNames: mix.adapter_names });
    assert.deepEqual(mb.logits.data, ma.logits.data);
  });

  test('merge: weights, merged logits, unmerge, and a saved merged model', async () => {
    const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
    const unmerged = await peft.forward({ inputIds: ids, labels: fx.inputs.labels });
    const mu = fx.merge_and_unload;
    const merged = peft.mergeAndUnload({ safeMerge: true });
    assertAllClose(merged.weights.get(`${mu.layer}.weight`)!.data, flat(mu.weight_merged), { rtol: 1e-6, atol: 1e-7 }, 'merged weight');
    for (const [name, stats] of Object.entries(mu.all_merged_weight_stats as Record<string, { sum: number; abs_sum: number }>)) {
      const w = merged.weights.get(name)!.data;
      let [sum, abs] = [0, 0];
      for (const v of w) (sum += v), (abs += Math.abs(v));
      assert.ok(Math.abs(sum - stats.sum) <= 1e-6 * stats.abs_sum && relClose(abs, stats.abs_sum, 1e-6), `${name}: sum ${sum} vs ${stats.sum}`);
    }
    const m = await merged.forward(runtime, { inputIds: ids, labels: fx.inputs.labels });
    assert.ok(relativeError(positions(m.logits, 'first'), flat(mu.logits.first_positions)) <= 1e-5);
    assert.ok(relativeError(m.logits.data as Float32Array, unmerged.logits.data as Float32Array) <= 1e-5);
    assert.ok(relClose(m.loss!, mu.loss, 1e-5));
    const dir = join(scratch, 'merged');
    peft.saveMergedModel(dir);
    const fromDisk = await CausalLM.fromFolder(dir);
    const again = await fromDisk.forward(runtime, { inputIds: ids });
    assert.deepEqual(again.logits.data, m.logits.data);
    peft.unmergeAdapter();
    const back = await peft.forward({ inputIds: ids });
    assert.ok(relativeError(back.logits.data as Float32Array, unmerged.logits.data as Float32Array) <= 1e-5);
  });

  test('addDelta: W + scaling · B A against the fixture, and its inverse', () => {
    const mu = fx.merge_and_unload;
    const key = `base_model.model.${mu.layer}`;
    const a = Float32Array.from(flat(fx.adapter_default.params[`${key}.lora_A.default.weight`]));
    const b = Float32Array.from(flat(fx.adapter_default.params[`${key}.lora_B.default.weight`]));
    const w = Float32Array.from(flat(mu.weight_before));
    const merged = addDelta(w, a, b, 4, mu.scaling, 1);
    assertAllClose(merged, flat(mu.weight_merged), { rtol: 1e-6, atol: 1e-7 }, 'merged');
    assertAllClose(addDelta(merged, a, b, 4, mu.scaling, -1), w, { rtol: 1e-6, atol: 1e-7 }, 'unmerged');
    assert.deepEqual([LORA_A, LORA_B], ['lora_A.weight', 'lora_B.weight']);
  });
});
