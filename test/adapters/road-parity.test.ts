// RoAd parity with HF PEFT on the fixture cases: logits, losses, full gradients (float32 and float64),
// the second adapter, mixed-adapter batches, saved files (byte-identical safetensors), reload, merged weights
// and merged logits.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { assertAllClose, relativeError } from '../support/all-close.ts';
import { FIXTURES, TINY_LLAMA, TINY_QWEN2, fixture, flat } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-road-'));
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

const cases = [
  { file: 'llama_road1_g8_qv.json', dir: 'llama_road1_g8_qv', model: TINY_LLAMA },
  { file: 'qwen2_road4_g8_qv.json', dir: 'qwen2_road4_g8_qv', model: TINY_QWEN2 },
];

for (const c of cases) {
  describe(`RoAd parity: ${c.dir}`, async () => {
    const fx = fixture(c.file);
    const adapterDir = join(FIXTURES, c.dir, 'adapter');
    const base = await CausalLM.fromFolder(c.model);
    const ids: number[][] = fx.inputs.input_ids;

    test('loaded parameters equal the fixture values', () => {
      const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
      for (const [key, values] of Object.entries(fx.adapter_default.params as Record<string, number[]>)) {
        const m = /^base_model\.model\.(.+)\.(road_theta|road_alpha)\.default$/.exec(key)!;
        assert.deepEqual([...peft.parameters('default').get(m[1])![m[2]]], values.map(Math.fround), key);
      }
    });

    test('logits, loss and masked loss (float32)', async () => {
      const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
      const out = await peft.forward({ inputIds: ids, labels: fx.inputs.labels });
      assert.ok(relativeError(positions(out.logits, 'first'), flat(fx.adapter_default.logits.first_positions)) <= 1e-5);
      assert.ok(relativeError(positions(out.logits, 'last'), flat(fx.adapter_default.logits.last_position)) <= 1e-5);
      assert.ok(relClose(out.loss!, fx.adapter_default.loss, 1e-5), `loss ${out.loss} vs ${fx.adapter_default.loss}`);
      const masked = await peft.forward({ inputIds: ids, labels: fx.inputs.labels_masked });
      assert.ok(relClose(masked.loss!, fx.adapter_default.loss_masked, 1e-5));
    });

    test('full gradients of every road_theta / road_alpha (float32, <= 1e-4 of max |grad|)', async () => {
      const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
      for (const [labels, ref] of [[fx.inputs.labels, fx.adapter_default.grads], [fx.inputs.labels_masked, fx.adapter_default.grads_loss_masked]] as const) {
        const { loss, grads } = await peft.lossAndGrads({ inputIds: ids, labels });
        assert.ok(Number.isFinite(loss));
        assert.deepEqual([...grads.keys()].sort(), Object.keys(ref).sort());
        for (const [name, g] of grads) assert.ok(relativeError(g, ref[name].full) <= 1e-4, `${name}: ${relativeError(g, ref[name].full)}`);
      }
    });

    test('float64 loss, logits and gradients (<= 1e-9)', async () => {
      const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
      const out = await peft.forward({ inputIds: ids, labels: fx.inputs.labels }, { dtype: 'float64' });
      assert.ok(relClose(out.loss!, fx.float64.adapter_loss, 1e-9), `${out.loss} vs ${fx.float64.adapter_loss}`);
      assert.ok(relativeError(positions(out.logits, 'first'), flat(fx.float64.adapter_logits_first_positions)) <= 1e-9);
      const { grads } = await peft.lossAndGrads({ inputIds: ids, labels: fx.inputs.labels }, { dtype: 'float64' });
      for (const [name, g] of grads) {
        const e = relativeError(g, fx.float64.adapter_grads_full[name]);
        assert.ok(e <= 1e-9, `${name}: ${e}`);
      }
    });

    test('second adapter, and a mixed batch equal to per-row runs and to PEFT', async () => {
      const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
      peft.loadAdapter(join(adapterDir, 'second'), 'second');
      peft.setAdapter('second');
      const second = await peft.forward({ inputIds: ids, labels: fx.inputs.labels });
      assert.ok(relativeError(positions(second.logits, 'first'), flat(fx.adapter_second.logits.first_positions)) <= 1e-5);
      assert.ok(relClose(second.loss!, fx.adapter_second.loss, 1e-5));

      const mix = fx.mixed_batch;
      const mixed = await peft.forward({ inputIds: mix.input_ids, adapterNames: mix.adapter_names });
      assert.ok(relativeError(positions(mixed.logits, 'first'), flat(mix.logits_first_positions)) <= 1e-5);
      assert.ok(relativeError(positions(mixed.logits, 'last'), flat(mix.logits_last_position)) <= 1e-5);
      // Each row equals that adapter alone.
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
      const out = join(scratch, `${c.dir}-saved`);
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
      const a = await peft.forward({ inputIds: ids });
      const b = await reloaded.forward({ inputIds: ids });
      assert.deepEqual(b.logits.data, a.logits.data);
    });

    test('merge: weights, merged logits, unmerge, and a saved merged model', async () => {
      const peft = PeftModel.fromPretrained(base, runtime, adapterDir);
      const unmerged = await peft.forward({ inputIds: ids, labels: fx.inputs.labels });
      const mu = fx.merge_and_unload;
      const merged = peft.mergeAndUnload({ safeMerge: true });
      assertAllClose(merged.weights.get(`${mu.layer}.weight`)!.data, flat(mu.weight_merged), { rtol: 1e-5, atol: 1e-6 }, 'merged weight');
      const m = await merged.forward(runtime, { inputIds: ids, labels: fx.inputs.labels });
      assert.ok(relativeError(positions(m.logits, 'first'), flat(mu.logits.first_positions)) <= 1e-5);
      assert.ok(relativeError(m.logits.data as Float32Array, unmerged.logits.data as Float32Array) <= 1e-5);
      assert.ok(relClose(m.loss!, mu.loss, 1e-5));
      const dir = join(scratch, `${c.dir}-merged`);
      peft.saveMergedModel(dir);
      const fromDisk = await CausalLM.fromFolder(dir);
      const again = await fromDisk.forward(runtime, { inputIds: ids });
      assert.deepEqual(again.logits.data, m.logits.data);
      peft.unmergeAdapter();
      const back = await peft.forward({ inputIds: ids });
      assert.ok(relativeError(back.logits.data as Float32Array, unmerged.logits.data as Float32Array) <= 1e-5);
    });
  });
}
