// Operations: /metrics names and values (vLLM's gauges while a request runs, counters and histograms after),
// the bounded queue (429 with Retry-After), a client that disconnects (its row is freed at once, streaming or
// not), and the drain (new requests 503, the request in flight completes, then the listener closes). The
// engine's graph runs are slowed by a sleep so that requests last long enough to be watched.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { ROAD, openStream, post, slowRuntime, startServer, waitFor } from './helpers.ts';

const runtime = new Runtime({ threads: 1 });
const slow = slowRuntime(runtime, 10);
let model: CausalLM;
before(async () => {
  model = await CausalLM.fromFolder(TINY_LLAMA);
});
after(() => runtime.release());

/** The value of one sample line of the exposition text (labels as written), or null. */
function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}} `) || (labels === '' && l.startsWith(`${name}{`)));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const LONG = { model: 'road', prompt: [1, 5, 9], max_tokens: 100, ignore_eos: true, temperature: 0, return_token_ids: true };

describe('operations', () => {
  test('/metrics: vLLM\'s gauges while a request runs; counters and histograms move', async () => {
    const s = await startServer({ model, runtime: slow, servedModelName: 'base', adapters: { road: ROAD } });
    try {
      const scrape = async () => (await fetch(`${s.url}/metrics`)).text();
      const before = await scrape();
      for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info', 'vllm:prompt_tokens_total',
        'vllm:generation_tokens_total', 'vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds', 'vllm:request_success_total', 'roadster_adapter_requests_total']) {
        assert.match(before, new RegExp(`# TYPE ${name} `), name);
      }
      const abort = new AbortController();
      const stream = await openStream(s.url, LONG, abort.signal);
      const during = await scrape();
      assert.equal(sample(during, 'vllm:num_requests_running', 'model_name="base"'), 1);
      assert.equal(sample(during, 'vllm:num_requests_waiting', 'model_name="base"'), 0);
      const usage = sample(during, 'vllm:kv_cache_usage_perc', 'model_name="base"')!;
      assert.ok(usage > 0 && usage <= 1, `kv cache usage ${usage}`);
      assert.match(during, /vllm:lora_requests_info\{running_lora_adapters="road",waiting_lora_adapters="",max_lora="8"\} \d/);
      abort.abort();
      await stream.rest().catch(() => {});
      await s.client.completions.create({ model: 'road', prompt: [1, 2, 3], max_tokens: 4, temperature: 0, ignore_eos: true } as never);
      const after = await scrape();
      assert.ok(sample(after, 'vllm:prompt_tokens_total', 'model_name="base"')! >= 6);
      assert.ok(sample(after, 'vllm:generation_tokens_total', 'model_name="base"')! >= 5);
      assert.equal(sample(after, 'roadster_adapter_requests_total', 'adapter="road"'), 2);
      assert.equal(sample(after, 'vllm:request_success_total', 'model_name="base",finished_reason="length"'), 1);
      assert.equal(sample(after, 'vllm:request_success_total', 'model_name="base",finished_reason="abort"'), 1);
      assert.ok(sample(after, 'vllm:time_to_first_token_seconds_count', 'model_name="base"')! >= 2);
      assert.ok(sample(after, 'vllm:inter_token_latency_seconds_count', 'model_name="base"')! >= 3);
      assert.equal(sample(after, 'vllm:num_requests_running', 'model_name="base"'), 0);
    } finally {
      await s.stop();
    }
  });

  test('a full queue answers 429 with Retry-After; the queued requests still complete', async () => {
    const s = await startServer({ model, runtime: slow, servedModelName: 'base', adapters: { road: ROAD }, engine: { maxBatch: 1, maxQueue: 1 } });
    try {
      const running = await openStream(s.url, { ...LONG, max_tokens: 30 });
      const queued = s.client.completions.create({ ...LONG, max_tokens: 2 } as never);
      await waitFor(() => s.server.engine.stats().waiting === 1, 'a waiting request');
      const refused = await post(`${s.url}/v1/completions`, LONG);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.equal(refused.body.error.type, 'rate_limit_exceeded');
      await assert.rejects(s.client.completions.create(LONG as never), (e: unknown) => e instanceof OpenAI.RateLimitError);
      assert.match(await running.rest(), /data: \[DONE\]/);
      assert.equal((await queued).choices[0].finish_reason, 'length');
    } finally {
      await s.stop();
    }
  });

  test('a client that disconnects cancels its request and frees its row, streaming or not', async () => {
    const s = await startServer({ model, runtime: slow, servedModelName: 'base', adapters: { road: ROAD } });
    try {
      const engine = s.server.engine;
      const abort = new AbortController();
      const stream = await openStream(s.url, LONG, abort.signal);
      assert.equal(engine.stats().running, 1);
      abort.abort();
      await stream.rest().catch(() => {});
      await waitFor(() => engine.stats().running === 0, 'the streaming row to be freed', 2000);
      const generated = engine.stats().generatedTokens;
      assert.ok(generated < 50, `${generated} tokens generated of 100`);

      const plain = new AbortController();
      const reply = fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(LONG), signal: plain.signal });
      await waitFor(() => engine.stats().running === 1, 'the plain request to run');
      plain.abort();
      await reply.catch(() => {});
      await waitFor(() => engine.stats().running === 0, 'the plain row to be freed', 2000);
      assert.ok(engine.stats().generatedTokens - generated < 50);
      // and the server goes on serving
      const r = await s.client.completions.create({ model: 'road', prompt: [1, 2], max_tokens: 2 });
      assert.equal(r.choices.length, 1);
    } finally {
      await s.stop();
    }
  });

  test('drain: new requests get 503, the request in flight completes, then the listener closes', async () => {
    const s = await startServer({ model, runtime: slow, servedModelName: 'base', adapters: { road: ROAD } });
    const stream = await openStream(s.url, { ...LONG, max_tokens: 40 });
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    const drained = s.server.drain(10_000);
    const refused = await post(`${s.url}/v1/completions`, LONG);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'server_shutting_down');
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal((await fetch(`${s.url}/health`)).status, 503);
    const text = stream.first + (await stream.rest());
    assert.match(text, /"finish_reason":"length"/);
    assert.match(text, /data: \[DONE\]\n\n$/);
    assert.equal(await drained, true);
    await assert.rejects(fetch(`${s.url}/health`));
  });

  test('drain past its deadline cancels what still runs', async () => {
    const s = await startServer({ model, runtime: slow, servedModelName: 'base', adapters: { road: ROAD } });
    const stream = await openStream(s.url, LONG);
    assert.equal(await s.server.drain(50), false);
    const text = stream.first + (await stream.rest());
    assert.match(text, /"finish_reason":"abort"/);
    assert.match(text, /data: \[DONE\]\n\n$/);
  });
});
