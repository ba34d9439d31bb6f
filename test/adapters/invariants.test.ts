// The one invariant suite every adapter kind runs (road_1, road_2, road_4 and LoRA) on tiny-llama: identity init
// leaves the logits unchanged; merged equals unmerged; a mixed batch equals per-row runs; save then load
// round-trips exactly; a gradient step changes only the adapter's parameters and lowers the loss. Then bad
// input, each failure checked for its code and message: configs, adapter folders that do not fit the model.

import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loraConfig } from '../../src/adapters/lora/config.ts';
import { type AdapterConfig } from '../../src/adapters/kinds.ts';
import { adapterConfigJson, parseAdapterConfig } from '../../src/adapters/peft-files.ts';
import { BASE_ADAPTER, PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import type { RoadVariant } from '../../src/adapters/road/math.ts';
import { RoadsterError } from '../../src/errors.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { assertAllClose, relativeError } from '../support/all-close.ts';
import { FIXTURES, TINY_LLAMA, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-invariants-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

/** One adapter kind under test: an identity-init config, a random one, and a second, different adapter. */
interface KindCase {
  readonly name: string;
  readonly identity: AdapterConfig;
  readonly random: AdapterConfig;
  readonly second: AdapterConfig;
}

// tiny-llama's out_features: q, o, down 64; k, v 32; gate, up 128. Groups of 8 and 16 divide them all.
const roadCase = (variant: RoadVariant): KindCase => ({
  name: variant,
  identity: roadConfig({ variant, groupSize: 8, targetModules: 'all-linear' }),
  random: roadConfig({ variant, groupSize: 8, targetModules: 'all-linear', initWeights: false }),
  second: roadConfig({ variant, groupSize: 16, targetModules: ['k_proj', 'o_proj', 'down_proj'], initWeights: false }),
});

const CASES: readonly KindCase[] = [
  roadCase('road_1'),
  roadCase('road_2'),
  roadCase('road_4'),
  {
    name: 'lora',
    identity: loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear' }),
    // init_lora_weights false: B is random too (nn.Linear's init), so the adapter is not the identity.
    random: loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', initLoraWeights: false }),
    second: loraConfig({ r: 2, loraAlpha: 4, useRslora: true, targetModules: ['k_proj', 'o_proj', 'down_proj'], initLoraWeights: false }),
  },
];

const lora = fixture('lora_llama_r4_a8_qv.json');
const ids: number[][] = lora.inputs.input_ids; // [2, 12]
const labels: number[][] = lora.inputs.labels;
const mixedIds: number[][] = lora.inputs.mixed_input_ids; // [4, 10]

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const logitsOf = (t: { logits: { data: unknown } }) => t.logits.data as Float32Array;

describe('adapter invariants on tiny-llama', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const baseLogits = logitsOf(await base.forward(runtime, { inputIds: ids }));

  for (const c of CASES) {
    describe(c.name, () => {
      test('identity init leaves the logits unchanged', async () => {
        const peft = PeftModel.getPeftModel(base, runtime, c.identity);
        const out = logitsOf(await peft.forward({ inputIds: ids }));
        assert.ok(maxAbsDiff(out, baseLogits) <= 1e-6, `max |Δ| ${maxAbsDiff(out, baseLogits)}`);
      });

      test('merged equals unmerged (random, non-identity parameters), and unmerge restores', async () => {
        const peft = PeftModel.getPeftModel(base, runtime, c.random, 'default', 7);
        const unmerged = logitsOf(await peft.forward({ inputIds: ids }));
        assert.ok(maxAbsDiff(unmerged, baseLogits) > 1e-2, 'the random adapter must change the logits');
        peft.mergeAdapter();
        const merged = logitsOf(await peft.forward({ inputIds: ids }));
        assert.ok(relativeError(merged, unmerged) <= 1e-5, `merged vs unmerged ${relativeError(merged, unmerged)}`);
        const unloaded = logitsOf(await peft.mergeAndUnload().forward(runtime, { inputIds: ids }));
        assert.ok(relativeError(unloaded, unmerged) <= 1e-5, `mergeAndUnload vs unmerged ${relativeError(unloaded, unmerged)}`);
        peft.unmergeAdapter();
        const back = logitsOf(await peft.forward({ inputIds: ids }));
        assert.ok(relativeError(back, unmerged) <= 1e-5);
      });

      test('a mixed batch (two adapters and __base__) equals per-row runs', async () => {
        const peft = PeftModel.getPeftModel(base, runtime, c.random, 'default', 3);
        peft.addAdapter('second', c.second, 4);
        const names = ['default', 'second', BASE_ADAPTER, 'default'];
        const mixed = await peft.forward({ inputIds: mixedIds, adapterNames: names });
        const [, t, v] = mixed.logits.shape;
        for (let i = 0; i < names.length; i++) {
          if (names[i] === BASE_ADAPTER) peft.disableAdapter();
          else peft.setAdapter(names[i]);
          const single = logitsOf(await peft.forward({ inputIds: [mixedIds[i]] }));
          peft.enableAdapters();
          assertAllClose(logitsOf(mixed).subarray(i * t * v, (i + 1) * t * v), single, { rtol: 1e-5, atol: 1e-5 }, `row ${i} (${names[i]})`);
        }
      });

      test('save then load round-trips exactly', async () => {
        const peft = PeftModel.getPeftModel(base, runtime, c.random, 'default', 5);
        const dir = join(scratch, `${c.name}-saved`);
        peft.saveAdapter(dir);
        const loaded = PeftModel.fromPretrained(base, runtime, dir);
        assert.deepEqual(adapterConfigJson(loaded.adapter('default').config), adapterConfigJson(c.random));
        const [p, q] = [peft.parameters('default'), loaded.parameters('default')];
        assert.deepEqual([...q.keys()], [...p.keys()]);
        for (const [path, params] of p) for (const [name, data] of Object.entries(params)) assert.deepEqual(q.get(path)![name], data, `${path}.${name}`);
        assert.deepEqual(logitsOf(await loaded.forward({ inputIds: ids })), logitsOf(await peft.forward({ inputIds: ids })));
      });

      test('a gradient step changes only the adapter parameters and lowers the loss', async () => {
        const peft = PeftModel.getPeftModel(base, runtime, c.random, 'default', 11);
        const weightsBefore = new Map([...base.weights].map(([k, w]) => [k, Float32Array.from(w.data)]));
        const paramsBefore = new Map([...peft.parameters('default')].map(([path, p]) => [path, Object.fromEntries(Object.entries(p).map(([k, a]) => [k, Float32Array.from(a)]))]));
        const { loss, grads } = await peft.lossAndGrads({ inputIds: ids, labels });
        const count = [...peft.parameters('default').values()].reduce((n, p) => n + Object.keys(p).length, 0);
        assert.equal(grads.size, count, 'one gradient per adapter parameter');
        let norm2 = 0;
        for (const g of grads.values()) for (const v of g) norm2 += v * v;
        assert.ok(norm2 > 0);
        const lr = (1e-3 * loss) / norm2; // first-order decrease: 0.1 % of the loss
        for (const [path, params] of peft.parameters('default')) {
          for (const [name, data] of Object.entries(params)) {
            // PeftModel names gradients `<module>.<param>.<adapter>`; PEFT puts the adapter after the first segment.
            const g = grads.get(`base_model.model.${path}.${name}.default`) ?? grads.get(`base_model.model.${path}.${name.replace(/^([^.]+)/, '$1.default')}`);
            assert.ok(g, `no gradient for ${path}.${name}`);
            for (let i = 0; i < data.length; i++) data[i] -= lr * g[i];
          }
        }
        const after = await peft.forward({ inputIds: ids, labels });
        assert.ok(after.loss! < loss, `loss ${loss} -> ${after.loss}`);
        for (const [k, w] of base.weights) assert.deepEqual(w.data, weightsBefore.get(k), `base weight ${k} changed`);
        let changed = 0;
        for (const [path, params] of peft.parameters('default')) {
          for (const [name, data] of Object.entries(params)) if (maxAbsDiff(data, paramsBefore.get(path)![name]) > 0) changed++;
        }
        assert.equal(changed, count, 'every adapter parameter moved');
      });
    });
  }

  test('RoAd and LoRA rows in one mixed batch equal per-row runs', async () => {
    const peft = PeftModel.getPeftModel(base, runtime, CASES[0].random, 'road', 21);
    peft.addAdapter('lora', CASES[3].random, 22);
    peft.addAdapter('lora2', CASES[3].second, 23);
    const names = ['lora', 'road', BASE_ADAPTER, 'lora2'];
    const mixed = await peft.forward({ inputIds: mixedIds, adapterNames: names });
    const [, t, v] = mixed.logits.shape;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === BASE_ADAPTER) peft.disableAdapter();
      else peft.setAdapter(names[i]);
      const single = logitsOf(await peft.forward({ inputIds: [mixedIds[i]] }));
      peft.enableAdapters();
      assertAllClose(logitsOf(mixed).subarray(i * t * v, (i + 1) * t * v), single, { rtol: 1e-5, atol: 1e-5 }, `row ${i} (${names[i]})`);
    }
  });
});

// ---- bad input ---------------------------------------------------------------------------------------------

function throwsAdapter(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RoadsterError, `expected a RoadsterError, got ${String(e)}`);
    assert.equal(e.code, 'E_ADAPTER', e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  });
}

/** A copy of a fixture adapter folder in scratch, with its config edited by `edit`. */
function adapterCopy(name: string, from: string, edit: (config: Record<string, unknown>) => void = () => {}): string {
  const dir = join(scratch, name);
  cpSync(join(FIXTURES, from, 'adapter'), dir, { recursive: true });
  const file = join(dir, 'adapter_config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  edit(config);
  writeFileSync(file, JSON.stringify(config));
  return dir;
}

const FOLDERS = [
  { kind: 'RoAd', from: 'llama_road1_g8_qv', shapeEdit: (c: Record<string, unknown>) => (c.variant = 'road_2'), shape: ['has shape [32]', 'needs [64]'] },
  { kind: 'LoRA', from: 'lora_llama_r4_a8_qv', shapeEdit: (c: Record<string, unknown>) => (c.r = 2), shape: ['has shape [4, 64]', 'needs [2, 64]'] },
];

describe('bad input is refused with E_ADAPTER and a clear message', async () => {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const sites = base.linearSites();
  const load = (dir: string) => PeftModel.fromPretrained(base, runtime, dir);

  test('RoAd: unknown variant, odd group size, group size not dividing out_features', () => {
    throwsAdapter(() => roadConfig({ variant: 'road_3' as RoadVariant }), 'unknown RoAd variant "road_3"', 'road_1, road_2, road_4');
    throwsAdapter(() => parseAdapterConfig({ peft_type: 'ROAD', variant: 'road_8', target_modules: ['q_proj'] }, 'cfg'), 'unknown RoAd variant');
    throwsAdapter(() => roadConfig({ groupSize: 7 }), 'group_size must be a positive even integer', '7');
    throwsAdapter(() => PeftModel.getPeftModel(base, runtime, roadConfig({ groupSize: 48 })), 'model.layers.0.self_attn.q_proj', 'group_size 48', 'out_features 64');
    assert.ok(sites.length > 0);
  });

  test('LoRA: fields that change the math and are not implemented', () => {
    const cfg = (extra: Record<string, unknown>) => () => parseAdapterConfig({ peft_type: 'LORA', r: 4, target_modules: ['q_proj'], ...extra }, 'cfg');
    throwsAdapter(cfg({ use_dora: true }), 'use_dora', 'DoRA');
    throwsAdapter(cfg({ rank_pattern: { q_proj: 8 } }), 'rank_pattern', 'per-module ranks');
    throwsAdapter(cfg({ alpha_pattern: { q_proj: 8 } }), 'alpha_pattern');
    throwsAdapter(cfg({ layers_to_transform: [0] }), 'layers_to_transform');
    throwsAdapter(cfg({ bias: 'all' }), 'bias "all"', 'use "none"');
    throwsAdapter(cfg({ fan_in_fan_out: true }), 'fan_in_fan_out');
    throwsAdapter(cfg({ init_lora_weights: 'pissa' }), 'pissa', 'base model');
    throwsAdapter(cfg({ r: 0 }), 'r must be a positive integer');
    throwsAdapter(() => loraConfig({ r: 2.5 }), 'r must be a positive integer');
    // Fields that do not change a trained adapter's math are ignored.
    const ok = parseAdapterConfig({ peft_type: 'LORA', r: 4, target_modules: ['q_proj'], megatron_config: null, loftq_config: {}, eva_config: null, qalora_group_size: 32, some_future_field: 1 }, 'cfg');
    assert.equal(ok.peftType, 'LORA');
  });

  for (const f of FOLDERS) {
    test(`${f.kind}: tensors of the wrong shape for the model`, () => {
      throwsAdapter(() => load(adapterCopy(`${f.kind}-shape`, f.from, f.shapeEdit)), ...f.shape, 'model.layers.0.self_attn.q_proj');
    });

    test(`${f.kind}: missing tensors`, () => {
      const dir = adapterCopy(`${f.kind}-missing`, f.from, (c) => (c.target_modules = ['q_proj', 'v_proj', 'k_proj']));
      throwsAdapter(() => load(dir), 'missing tensor', 'model.layers.0.self_attn.k_proj');
    });

    test(`${f.kind}: NaN in the adapter file`, () => {
      const dir = adapterCopy(`${f.kind}-nan`, f.from);
      const file = join(dir, 'adapter_model.safetensors');
      const bytes = readFileSync(file);
      const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
      bytes.writeFloatLE(Number.NaN, headerEnd + 4); // second value of the first tensor
      writeFileSync(file, bytes);
      throwsAdapter(() => load(dir), 'NaN at index 1', 'non-finite');
    });

    test(`${f.kind}: unknown peft_type`, () => {
      throwsAdapter(() => load(adapterCopy(`${f.kind}-type`, f.from, (c) => (c.peft_type = 'IA3'))), 'peft_type "IA3" is not supported', 'ROAD', 'LORA');
    });

    test(`${f.kind}: target_modules matching nothing`, () => {
      const dir = adapterCopy(`${f.kind}-targets`, f.from, (c) => (c.target_modules = ['qkv_proj']));
      throwsAdapter(() => load(dir), 'match no linear layer', 'qkv_proj');
    });
  }

  test('an adapter folder with extra tensors for modules that are not targets', () => {
    const dir = adapterCopy('LoRA-extra', 'lora_llama_r4_a8_qv', (c) => (c.target_modules = ['q_proj']));
    throwsAdapter(() => load(dir), 'match no wrapped module', 'v_proj');
    copyFileSync(join(FIXTURES, 'lora_llama_r4_a8_qv', 'adapter', 'adapter_config.json'), join(dir, 'adapter_config.json'));
    assert.ok(load(dir).adapterNames.includes('default'));
  });
});
