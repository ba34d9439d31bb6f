// The generation graphs with q/k/v and gate/up fused into one projection each (traceGenerationStep `fuse`, the
// engine's default) against the unfused graphs that the PEFT fixtures check: a mixed batch of RoAd rows (three
// variants, group sizes 8 to 64, one adapter on q and v only, one whose group size does not divide k and v), LoRA
// rows (ranks 2 to 4, one on up_proj only) and base rows gives the same logits, keys and values in the prefill
// graph (tables gathered by slot) and the decode graph (entries fed per row), on Llama, on Qwen2 (q/k/v biases,
// tied head) and on a Llama whose fused qkv width a group size does not divide, in float32 and with int8 frozen
// weights; the engine decodes the same tokens either way.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AdapterEntry, SiteParams } from '../../src/adapters/kind.ts';
import { type AdapterConfig, kindOf } from '../../src/adapters/kinds.ts';
import { loraConfig } from '../../src/adapters/lora/config.ts';
import { RowInputs, batchTables, mixedIndexFeeds, mixedLinear, mixedPlan, mixedTableFeeds } from '../../src/adapters/mixed-batch.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { selectSites } from '../../src/adapters/target-modules.ts';
import { GenerationEngine } from '../../src/generate/engine.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { CausalLM, INPUT_NAMES } from '../../src/models/causal-lm.ts';
import { KV_NAMES, PAST_BIAS_NAMES, traceGenerationStep } from '../../src/models/generation-graph.ts';
import { writeRandomModel } from '../../src/models/random-model.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const int8 = new Runtime({ threads: 1, quantizeWeights: 'int8' });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-fused-'));
after(async () => {
  await runtime.release();
  await int8.release();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * q 96, k and v 32 (one KV head of 32), gate and up 64: RoAd's group size 96 divides q but not the fused qkv
 * (160), so its rotation cannot be one reshaped swap over the fused output.
 */
const ODD_QKV = join(scratch, 'odd-qkv');
writeRandomModel(
  ODD_QKV,
  {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 96, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 3, num_key_value_heads: 1, head_dim: 32, vocab_size: 256, max_position_embeddings: 64,
    rms_norm_eps: 1e-6, rope_theta: 10000.0, tie_word_embeddings: false, initializer_range: 0.2,
  },
  { seed: 11, dtype: 'F32' },
);

/** Random (non-identity) adapters of the model, built in memory. */
function adapters(model: CausalLM): AdapterEntry<AdapterConfig>[] {
  const configs: [string, AdapterConfig][] = model.config.hiddenSize === 96 ? [
    ['road1-g96-q', roadConfig({ variant: 'road_1', groupSize: 96, targetModules: ['q_proj', 'o_proj'], initWeights: false })],
    ['road2-g32-all', roadConfig({ variant: 'road_2', groupSize: 32, targetModules: 'all-linear', initWeights: false })],
    ['road4-g16-kv', roadConfig({ variant: 'road_4', groupSize: 16, targetModules: ['k_proj', 'v_proj', 'gate_proj'], initWeights: false })],
    ['road1-g8-qv', roadConfig({ variant: 'road_1', groupSize: 8, targetModules: ['q_proj', 'v_proj'], initWeights: false })],
    ['lora-r4-qv', loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false })],
    ['lora-r2-all', loraConfig({ r: 2, loraAlpha: 4, targetModules: 'all-linear', initLoraWeights: false })],
    ['lora-r3-up', loraConfig({ r: 3, loraAlpha: 6, targetModules: ['up_proj'], initLoraWeights: false })],
  ] : [
    ['road1-g8-all', roadConfig({ variant: 'road_1', groupSize: 8, targetModules: 'all-linear', initWeights: false })],
    ['road2-g16-qv', roadConfig({ variant: 'road_2', groupSize: 16, targetModules: ['q_proj', 'v_proj'], initWeights: false })],
    // 64 divides q (64) and gate/up (128) but not k and v (32): the fused qkv rotation swaps within q's groups only
    ['road4-g64-q-mlp', roadConfig({ variant: 'road_4', groupSize: 64, targetModules: ['q_proj', 'o_proj', 'gate_proj', 'up_proj'], initWeights: false })],
    ['road1-g32-kv-down', roadConfig({ variant: 'road_1', groupSize: 32, targetModules: ['k_proj', 'v_proj', 'down_proj'], initWeights: false })],
    ['lora-r4-qv', loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false })],
    ['lora-r2-all', loraConfig({ r: 2, loraAlpha: 4, targetModules: 'all-linear', initLoraWeights: false })],
    ['lora-r3-up', loraConfig({ r: 3, loraAlpha: 6, useRslora: true, targetModules: ['up_proj'], initLoraWeights: false })],
  ];
  return configs.map(([name, config], k) => {
    const kind = kindOf(config);
    const params = new Map<string, SiteParams>();
    for (const site of selectSites(config.targetModules, model.linearSites(), name)) {
      kind.checkSite(config, site);
      params.set(site.path, kind.initParams(config, site, 100 * k + site.layer * 7 + site.path.length));
    }
    return { name, config, params };
  });
}

function maxDiff(a: HostTensor, b: HostTensor): { diff: number; scale: number } {
  assert.deepEqual(a.shape, b.shape);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(Number(a.data[i]) - Number(b.data[i])));
    scale = Math.max(scale, Math.abs(Number(b.data[i])));
  }
  return { diff, scale };
}

function assertClose(actual: HostTensor, expected: HostTensor, tol: number, what: string): void {
  const { diff, scale } = maxDiff(actual, expected);
  assert.ok(diff <= tol * Math.max(1, scale), `${what}: max |fused - unfused| = ${diff} (values up to ${scale}, tolerance ${tol})`);
}

/** Prefill then one decode step of `rows` (each an adapter or null), traced fused or not. */
async function step(model: CausalLM, rt: Runtime, rows: readonly (AdapterEntry<AdapterConfig> | null)[], prompts: number[][], fuse: boolean, past?: Record<string, HostTensor>) {
  const { tables, slots } = batchTables(rows);
  const plan = mixedPlan(fuse ? model.fusedLinearSites() : model.linearSites(), tables);
  const trace = (withCache: boolean) => {
    const b = new GraphBuilder();
    return b.build(traceGenerationStep(model, b, { withCache, fuse, linear: mixedLinear(b, plan, { rows: withCache ? 'fed' : 'gather' }) }));
  };
  const n = rows.length;
  const t = prompts[0].length;
  const prefill = await (await rt.compile(trace(false))).run({
    ...model.feeds({ inputIds: prompts, attentionMask: prompts.map((p) => p.map(() => 1)) }),
    ...mixedTableFeeds(plan, 'float32'),
    ...mixedIndexFeeds(plan, slots),
  });
  // the decode step reads the given cache (the unfused prefill's), so it is compared on equal inputs
  const cache = past ?? prefill;
  const rowInputs = new RowInputs(plan, 'float32', n);
  slots.forEach((s, i) => rowInputs.set(i, s));
  const feeds: Record<string, HostTensor> = {
    [INPUT_NAMES.inputIds]: { dtype: 'int64', shape: [n, 1], data: BigInt64Array.from(prompts.map((p) => BigInt((p[0] * 7 + 3) % 256))) },
    [INPUT_NAMES.positionIds]: { dtype: 'int64', shape: [n, 1], data: new BigInt64Array(n).fill(BigInt(t)) },
    [INPUT_NAMES.attentionBias]: { dtype: 'float32', shape: [n, 1, 1, 1], data: new Float32Array(n) },
    [PAST_BIAS_NAMES.attention]: { dtype: 'float32', shape: [n, 1, 1, t], data: new Float32Array(n * t) },
    ...rowInputs.feeds(n),
  };
  for (let l = 0; l < model.config.numHiddenLayers; l++) {
    feeds[KV_NAMES.pastKeys(l)] = cache[KV_NAMES.keys(l)];
    feeds[KV_NAMES.pastValues(l)] = cache[KV_NAMES.values(l)];
  }
  const decode = await (await rt.compile(trace(true))).run(feeds);
  return { prefill, decode, sites: plan.sites.size };
}

describe('fused q/k/v and gate/up projections in the generation graphs', () => {
  for (const [name, dir] of [['Llama', TINY_LLAMA], ['Qwen2 (q/k/v biases)', TINY_QWEN2], ['Llama with q 96, k and v 32', ODD_QKV]] as const) {
    test(`${name}: a mixed RoAd/LoRA/base batch gives the unfused graphs' logits, keys and values`, async () => {
      const model = await CausalLM.fromFolder(dir);
      const list = adapters(model);
      const rows = [list[0], null, list[1], list[2], list[4], list[3], list[5], null, list[6], list[1]];
      const prompts = rows.map((_, i) => [1 + i, 40 + 3 * i, 200 - i, 17, (i * 31) % 256]);
      for (const [rt, tol] of [[runtime, 2e-5], [int8, 1e-4]] as const) {
        const plain = await step(model, rt, rows, prompts, false);
        const fused = await step(model, rt, rows, prompts, true, plain.prefill);
        const what = `${name}${rt === int8 ? ' int8' : ''}`;
        assert.equal(plain.sites, 7 * model.config.numHiddenLayers);
        assert.equal(fused.sites, 4 * model.config.numHiddenLayers);
        assertClose(fused.prefill.logits, plain.prefill.logits, tol, `${what} prefill logits`);
        assertClose(fused.prefill.logsumexp, plain.prefill.logsumexp, tol, `${what} prefill logsumexp`);
        for (let l = 0; l < model.config.numHiddenLayers; l++) {
          assertClose(fused.prefill[KV_NAMES.keys(l)], plain.prefill[KV_NAMES.keys(l)], tol, `${what} prefill keys.${l}`);
          assertClose(fused.prefill[KV_NAMES.values(l)], plain.prefill[KV_NAMES.values(l)], tol, `${what} prefill values.${l}`);
        }
        assertClose(fused.decode.logits, plain.decode.logits, tol, `${what} decode logits`);
        for (let l = 0; l < model.config.numHiddenLayers; l++) assertClose(fused.decode[KV_NAMES.keys(l)], plain.decode[KV_NAMES.keys(l)], tol, `${what} decode keys.${l}`);
      }
      // the adapters are not the identity: every adapted row differs from the base model on its prompt
      const base = await step(model, runtime, rows.map(() => null), prompts, true);
      const fused = await step(model, runtime, rows, prompts, true);
      const v = model.config.vocabSize;
      rows.forEach((r, i) => {
        const row = (x: HostTensor) => ({ dtype: x.dtype, shape: [v], data: x.data.subarray(i * v, (i + 1) * v) }) as HostTensor;
        const { diff } = maxDiff(row(fused.decode.logits), row(base.decode.logits));
        if (r === null) assert.ok(diff <= 1e-5, `base row ${i}`);
        else assert.ok(diff > 1e-3, `row ${i} (${r.name}) differs from the base model`);
      });
    });
  }

  test('the engine decodes the same tokens and log-probabilities fused and unfused', async () => {
    const model = await CausalLM.fromFolder(TINY_QWEN2);
    const list = adapters(model);
    const run = async (fuseProjections: boolean) => {
      const engine = new GenerationEngine(model, runtime, { maxBatch: 8, maxLoadedAdapters: list.length, eosTokenIds: [], fuseProjections });
      for (const entry of list) engine.adapters.add(entry);
      const names = [null, ...list.map((e) => e.name)];
      return engine.generate(names.map((adapter, i) => ({ promptIds: [5 + i, 9, 100 + 2 * i], adapter, maxTokens: 6, sampling: { temperature: 0 } })));
    };
    const [plain, fused] = [await run(false), await run(true)];
    fused.forEach((r, i) => {
      assert.deepEqual(r.tokens, plain[i].tokens, `row ${i} tokens`);
      r.logprobs.forEach((p, k) => assert.ok(Math.abs(p - plain[i].logprobs[k]) <= 1e-4, `row ${i} logprob ${k}: ${p} vs ${plain[i].logprobs[k]}`));
    });
  });
});
