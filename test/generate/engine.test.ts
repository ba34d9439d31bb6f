// The generation engine against references: greedy decoding with the KV cache equals full-sequence greedy
// decoding and transformers' greedy tokens (generate_llama_greedy.json), PEFT 0.21's greedy generation of mixed
// adapter batches with the chosen tokens' log-probabilities (generate_mixed_peft021.json); RoAd, LoRA and base
// rows in one batch equal each row alone; log-probabilities equal the log-softmax of a full forward pass; results
// do not depend on arrival order or batch company (greedy and seeded sampling); cancelling frees the row; bad
// requests fail before any work.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RoadsterError } from '../../src/errors.ts';
import { GenerationEngine } from '../../src/generate/engine.ts';
import { greedyGenerate } from '../../src/generate/greedy.ts';
import type { GenerationRequest, GenerationResult } from '../../src/generate/request.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { writeRandomModel } from '../../src/models/random-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { FIXTURES, TINY_LLAMA, TINY_QWEN2, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-engine-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const ROAD = `${FIXTURES}llama_road1_g8_qv/adapter`;
const ROAD_SECOND = `${FIXTURES}llama_road1_g8_qv/adapter/second`;
const LORA = `${FIXTURES}lora_llama_r4_a8_qv/adapter`;
const LORA_SECOND = `${FIXTURES}lora_llama_r4_a8_qv/adapter/second`;
const GREEDY = { temperature: 0 };

function close(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `${what}[${i}]: ${v} vs ${expected[i]} (tolerance ${tol})`));
}

function logSoftmaxAt(logits: Float32Array, offset: number, v: number, token: number): number {
  let m = -Infinity;
  for (let k = 0; k < v; k++) m = Math.max(m, logits[offset + k]);
  let s = 0;
  for (let k = 0; k < v; k++) s += Math.exp(logits[offset + k] - m);
  return logits[offset + token] - m - Math.log(s);
}

describe('greedy decoding with the KV cache', () => {
  const fx = fixture('generate_llama_greedy.json');
  const maxTokens = fx.meta.generate_kwargs.max_new_tokens as number;

  test('equals transformers (base and RoAd adapter), each prompt alone and all at once', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxBatch: 4 });
    engine.loadAdapter('road', `${FIXTURES}${fx.meta.adapter_dir.replace('golden/', '')}`);
    for (const [run, adapter] of [['base', null], ['road_adapter_llama_road1_g8_qv', 'road']] as const) {
      const expected = fx.runs[run].alone.map((r: { new_tokens: number[] }) => r.new_tokens);
      for (const [i, prompt] of fx.prompts.entries()) {
        const [alone] = await engine.generate([{ promptIds: prompt, adapter, maxTokens, sampling: GREEDY }]);
        assert.deepEqual(alone.tokens, expected[i], `${run} prompt ${i} alone`);
        assert.equal(alone.finishReason, 'length');
      }
      const together = await engine.generate(fx.prompts.map((p: number[]) => ({ promptIds: p, adapter, maxTokens, sampling: GREEDY })));
      assert.deepEqual(together.map((r) => r.tokens), fx.runs[run].batch_left_padded.new_tokens, `${run} batch`);
    }
  });

  test('equals full-sequence greedy decoding on Qwen2 (biases, tied head) and on Mistral (sliding window)', async () => {
    const mistralDir = join(scratch, 'tiny-mistral');
    writeRandomModel(
      mistralDir,
      {
        architectures: ['MistralForCausalLM'], model_type: 'mistral', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
        num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 256, max_position_embeddings: 128,
        rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 4, tie_word_embeddings: false, initializer_range: 0.2,
      },
      { seed: 7, dtype: 'F32' },
    );
    const prompts = [[5, 9, 200, 31, 7, 88, 1, 140, 3], [77, 12], [250, 4, 19, 60, 61]];
    for (const dir of [TINY_QWEN2, mistralDir]) {
      const model = await CausalLM.fromFolder(dir);
      const expected = await greedyGenerate(model, runtime, prompts, { maxNewTokens: 20 });
      const engine = new GenerationEngine(model, runtime, { maxBatch: 3, eosTokenIds: [] });
      const got = await engine.generate(prompts.map((p) => ({ promptIds: p, maxTokens: 20, sampling: GREEDY })));
      assert.deepEqual(got.map((r) => r.tokens), expected, dir);
    }
  });
});

describe('mixed-adapter batches against PEFT 0.21 (generate_mixed_peft021.json)', () => {
  const fx = fixture('generate_mixed_peft021.json');
  for (const [caseName, dirs] of [
    ['llama_road1_g8_qv', [ROAD, ROAD_SECOND]],
    ['lora_llama_r4_a8_qv', [LORA, LORA_SECOND]],
  ] as const) {
    test(`${caseName}: base, mixed and all-default batches give PEFT's tokens and log-probabilities`, async () => {
      const model = await CausalLM.fromFolder(TINY_LLAMA);
      const engine = new GenerationEngine(model, runtime, { maxBatch: 4, eosTokenIds: [] });
      engine.loadAdapter('default', dirs[0]);
      engine.loadAdapter('second', dirs[1]);
      for (const run of ['base', 'mixed', 'default'] as const) {
        const expected = fx.cases[caseName][run];
        const names: (string | null)[] = expected.adapter_names ?? fx.prompts.map(() => null);
        const got = await engine.generate(
          fx.prompts.map((p: number[], i: number) => ({ promptIds: p, adapter: names[i], maxTokens: fx.max_new_tokens, sampling: GREEDY })),
        );
        got.forEach((r, i) => {
          assert.deepEqual(r.tokens, expected.tokens[i], `${run} row ${i} tokens`);
          close(r.logprobs, expected.token_logprobs[i], 1e-4, `${run} row ${i} logprobs`);
        });
      }
    });
  }

  test('RoAd, LoRA and base rows in one batch equal each row alone', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxBatch: 8, eosTokenIds: [] });
    engine.loadAdapter('road', ROAD);
    engine.loadAdapter('road2', ROAD_SECOND);
    engine.loadAdapter('lora', LORA);
    const rows: GenerationRequest[] = [
      { promptIds: [3, 1, 4, 1, 5], adapter: 'road' },
      { promptIds: [200, 100], adapter: 'lora' },
      { promptIds: [9, 8, 7, 6, 5, 4, 3, 2], adapter: null },
      { promptIds: [42, 42, 42], adapter: 'road2' },
      { promptIds: [17, 4, 90, 11], adapter: 'lora' },
    ].map((r) => ({ ...r, maxTokens: 12, sampling: { ...GREEDY, logprobs: 3 } }));
    const together = await engine.generate(rows);
    for (const [i, r] of rows.entries()) {
      const [alone] = await engine.generate([r]);
      assert.deepEqual(together[i].tokens, alone.tokens, `row ${i} tokens`);
      close(together[i].logprobs, alone.logprobs, 1e-5, `row ${i} logprobs`);
      assert.deepEqual(together[i].topLogprobs.map((t) => t.map((x) => x.token)), alone.topLogprobs.map((t) => t.map((x) => x.token)));
    }
    // and the batch differs from the base model where rows have adapters
    const base = await engine.generate(rows.map((r) => ({ ...r, adapter: null })));
    assert.notDeepEqual(base[0].tokens, together[0].tokens);
    assert.notDeepEqual(base[1].tokens, together[1].tokens);
  });
});

describe('log-probabilities and sampling', () => {
  test('logprobs equal the log-softmax of a full forward pass; top alternatives are the most likely tokens', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { eosTokenIds: [] });
    const prompt = [12, 99, 3, 250, 41];
    const [r] = await engine.generate([{ promptIds: prompt, maxTokens: 10, sampling: { temperature: 0.8, seed: 11, logprobs: 5 } }]);
    const ids = [...prompt, ...r.tokens];
    const { logits } = await model.forward(runtime, { inputIds: [ids] });
    const v = model.config.vocabSize;
    const data = logits.data as Float32Array;
    r.tokens.forEach((token, j) => {
      const at = (prompt.length - 1 + j) * v;
      const expected = logSoftmaxAt(data, at, v, token);
      assert.ok(Math.abs(r.logprobs[j] - expected) < 1e-4, `token ${j}: ${r.logprobs[j]} vs ${expected}`);
      const order = Array.from({ length: v }, (_, k) => k).sort((a, b) => data[at + b] - data[at + a]);
      assert.deepEqual(r.topLogprobs[j].map((t) => t.token), order.slice(0, 5), `token ${j} top 5`);
    });
  });

  test('results do not depend on arrival order or on which requests share the batch (greedy and seeded)', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxBatch: 3, eosTokenIds: [] });
    engine.loadAdapter('road', ROAD);
    const requests: GenerationRequest[] = [
      { promptIds: [5, 6, 7], maxTokens: 14, sampling: { temperature: 1, seed: 1 } },
      { promptIds: [100, 3, 3, 9, 1], adapter: 'road', maxTokens: 9, sampling: GREEDY },
      { promptIds: [8], maxTokens: 20, sampling: { temperature: 0.7, topP: 0.9, seed: 2 } },
      { promptIds: [44, 45, 46, 47], adapter: 'road', maxTokens: 6, sampling: { temperature: 1.2, topK: 20, seed: 3 } },
      { promptIds: [9, 9], maxTokens: 11, sampling: { temperature: 0.5, seed: 4, repetitionPenalty: 1.3 } },
    ];
    const alone: GenerationResult[] = [];
    for (const r of requests) alone.push(...(await engine.generate([r])));
    const all = await engine.generate(requests); // 3 rows at a time: the others join as rows free up
    const reversed = (await engine.generate([...requests].reverse())).reverse();
    // staggered: each request joins after the previous one produced its second token
    const staggered: Promise<GenerationResult>[] = [];
    const join = (i: number) => {
      let seen = 0;
      staggered[i] = engine.submit({
        ...requests[i],
        onToken: () => {
          if (++seen === 2 && i + 1 < requests.length) join(i + 1);
        },
      }).result;
    };
    join(0);
    await engine.idle();
    const late = await Promise.all(staggered);
    for (const [i] of requests.entries()) {
      for (const [what, got] of [['batched', all], ['reversed', reversed], ['staggered', late]] as const) {
        assert.deepEqual(got[i].tokens, alone[i].tokens, `request ${i} ${what}`);
      }
    }
    assert.equal(engine.stats().running, 0);
  });
});

describe('cancellation, limits and bad input', () => {
  test('cancelling frees the row and the cache at once', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxBatch: 2, eosTokenIds: [] });
    const steps: number[] = [];
    const long = engine.submit({ promptIds: [1, 2, 3], maxTokens: 100, sampling: GREEDY, onToken: () => steps.push(engine.stats().running) });
    const other = engine.submit({ promptIds: [4, 5], maxTokens: 30, sampling: GREEDY });
    while (steps.length < 3) await new Promise((r) => setImmediate(r));
    long.cancel();
    const r = await long.result;
    assert.equal(r.finishReason, 'cancelled');
    assert.ok(r.tokens.length >= 3 && r.tokens.length < 100);
    assert.equal(engine.stats().running, 1, 'the cancelled row is gone while the other runs');
    const o = await other.result;
    assert.equal(o.finishReason, 'length');
    assert.equal(o.tokens.length, 30);
    const controller = new AbortController();
    const aborted = engine.submit({ promptIds: [7], maxTokens: 50, signal: controller.signal });
    controller.abort();
    assert.equal((await aborted.result).finishReason, 'cancelled');
    await engine.idle();
    assert.deepEqual([engine.stats().running, engine.stats().waiting, engine.stats().cachedTokens], [0, 0, 0]);
  });

  test('admission is bounded by rows and cached tokens; a full queue is E_OVERLOADED', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxBatch: 3, maxQueue: 2, maxCachedTokens: 40, eosTokenIds: [] });
    const seen: number[] = [];
    const submit = (i: number) =>
      engine.submit({ promptIds: [i + 1, 2], maxTokens: 15, sampling: GREEDY, onToken: () => seen.push(engine.stats().running) });
    const handles = [submit(0), submit(1)];
    while (seen.length === 0) await new Promise((r) => setImmediate(r));
    handles.push(submit(2), submit(3)); // a row is free, but 3 × 17 cached tokens would exceed 40: they wait
    assert.equal(engine.stats().waiting, 2);
    assert.throws(() => submit(4), (e: RoadsterError) => e.code === 'E_OVERLOADED' && /queue is full \(2 waiting/.test(e.message));
    const results = await Promise.all(handles.map((h) => h.result));
    assert.ok(results.every((r) => r.tokens.length === 15));
    assert.ok(Math.max(...seen) <= 2, `at most 2 running rows, saw ${Math.max(...seen)}`);
  });

  test('a prefill batch holds at most maxPrefillTokens padded tokens; later requests join in the next iterations', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const prefills: number[] = [];
    const engine = new GenerationEngine(model, runtime, { maxBatch: 8, maxPrefillTokens: 20, eosTokenIds: [], onStep: (s) => s.kind === 'prefill' && prefills.push(s.rows * s.positions) });
    const prompts = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [4, 5], [6, 7, 8], [9], [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51]];
    const together = await engine.generate(prompts.map((p) => ({ promptIds: p, maxTokens: 6, sampling: GREEDY })));
    assert.ok(prefills.length >= 3, `${prefills.length} prefills`);
    assert.ok(prefills.every((n, i) => n <= 20 || i === prefills.length - 1), `padded tokens per prefill: ${prefills.join(', ')}`); // the 22-token prompt goes alone
    for (const [i, p] of prompts.entries()) {
      const [alone] = await engine.generate([{ promptIds: p, maxTokens: 6, sampling: GREEDY }]);
      assert.deepEqual(together[i].tokens, alone.tokens, `prompt ${i}`);
    }
  });

  test('requests that keep arriving while rows decode join one prefill', async () => {
    // A server's clients arrive over several event-loop turns (accepted, then read): here one submission per
    // macrotask. Between steps the engine yields for as long as submissions keep coming, so they share a prefill.
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const prefills: number[] = [];
    const engine = new GenerationEngine(model, runtime, { maxBatch: 16, prefillDelaySteps: 0, eosTokenIds: [], onStep: (s) => s.kind === 'prefill' && prefills.push(s.rows) });
    const first = engine.generate([{ promptIds: [1, 2, 3], maxTokens: 24, sampling: GREEDY }]);
    await new Promise((r) => setTimeout(r, 0));
    const later: Promise<GenerationResult[]>[] = [];
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setImmediate(r));
      later.push(engine.generate([{ promptIds: [4 + i, 5], maxTokens: 4, sampling: GREEDY }]));
    }
    await Promise.all([first, ...later]);
    assert.deepEqual(prefills, [1, 12], `prefill rows: ${prefills.join(', ')}`);
  });

  test('bad requests fail before any work with a message that says what to fix', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxModelLen: 64 });
    const bad: [Partial<GenerationRequest>, RegExp][] = [
      [{ adapter: 'nope' }, /no adapter named "nope"/],
      [{ promptIds: [] }, /prompt is empty/],
      [{ promptIds: [1, 999] }, /token id 999 \(position 1\) is outside the model's vocabulary \[0, 256\)/],
      [{ maxTokens: 60, promptIds: [1, 2, 3, 4, 5] }, /exceed the context of 64 tokens.*lower max_tokens to 59/],
      [{ sampling: { temperature: -1 } }, /temperature/],
      [{ sampling: { topP: 0 } }, /topP/i],
      [{ stop: ['x'] }, /stop strings need a tokenizer/],
    ];
    for (const [req, message] of bad) {
      assert.throws(() => engine.submit({ promptIds: [1, 2], maxTokens: 4, ...req }), (e: RoadsterError) => e.code === 'E_USAGE' && message.test(e.message), String(message));
    }
    assert.equal(engine.stats().steps, 0);
    assert.equal(engine.stats().promptTokens, 0);
  });

  test('adapters load and unload while the engine runs; LRU eviction; a failed load changes nothing', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const engine = new GenerationEngine(model, runtime, { maxLoadedAdapters: 2, eosTokenIds: [] });
    engine.loadAdapter('a', ROAD);
    engine.loadAdapter('b', LORA);
    const running = engine.submit({ promptIds: [1, 2, 3], adapter: 'a', maxTokens: 20, sampling: GREEDY });
    engine.adapters.use('b');
    assert.throws(() => engine.unloadAdapter('a'), /in use/);
    const loaded = engine.loadAdapter('c', ROAD_SECOND); // 'a' is in use, so 'b' goes although used later
    assert.deepEqual(loaded.evicted, ['b']);
    assert.deepEqual(engine.adapters.names.sort(), ['a', 'c']);
    const broken = join(scratch, 'broken');
    mkdirSync(broken);
    copyFileSync(join(ROAD, 'adapter_config.json'), join(broken, 'adapter_config.json'));
    writeFileSync(join(broken, 'adapter_model.safetensors'), 'not a safetensors file');
    assert.throws(() => engine.loadAdapter('d', broken), RoadsterError);
    assert.deepEqual(engine.adapters.names.sort(), ['a', 'c']);
    await running.result;
    engine.unloadAdapter('a');
    assert.deepEqual(engine.adapters.names, ['c']);
  });
});
