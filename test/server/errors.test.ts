// Bad requests each get their status and an OpenAI-shaped error ({"error": {message, type, param, code}}) from
// the one error handler, and the server keeps serving: unknown model 404, unsupported parameters 400 naming
// them (their no-op values accepted), wrong types, malformed JSON, out-of-range values, a prompt longer than the
// context, text without a tokenizer, auth 401, an oversized body 413, an unknown route 404.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { ROAD, loadTextModel, post, type Running, startServer, writeTextModel } from './helpers.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-serve-errors-'));
let s: Running;
let keyed: Running;
let noTokenizer: Running;

before(async () => {
  const { model, tokenizer } = await loadTextModel(writeTextModel(join(scratch, 'model')));
  s = await startServer({ model, tokenizer, runtime, servedModelName: 'tiny', adapters: { road: ROAD } });
  keyed = await startServer({ model, tokenizer, runtime, servedModelName: 'tiny', apiKey: 'sesame', bodyLimit: 2048 }, 'sesame');
  noTokenizer = await startServer({ model: await CausalLM.fromFolder(TINY_LLAMA), runtime, servedModelName: 'ids-only' });
});
after(async () => {
  await Promise.all([s.stop(), keyed.stop(), noTokenizer.stop()]);
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

/** Asserts OpenAI's error shape and returns the error object. */
function openAiError(body: any, status: number, res: { status: number }): { message: string; type: string; param: string | null; code: unknown } {
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

const completions = (r: Running, body: unknown, headers: Record<string, string> = {}) => post(`${r.url}/v1/completions`, body, headers);

describe('errors', () => {
  test('an unknown model is a 404 (the openai client raises NotFoundError)', async () => {
    await assert.rejects(s.client.completions.create({ model: 'nope', prompt: 'hi', max_tokens: 2 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.param, 'model');
      assert.match(e.message, /`nope` does not exist/);
      return true;
    });
  });

  test('unsupported parameters are a 400 that names them; their no-op values are accepted', async () => {
    for (const [field, value] of [['tools', [{ type: 'function', function: { name: 'f' } }]], ['response_format', { type: 'json_object' }], ['logit_bias', { 5: 10 }], ['best_of', 2], ['echo', true], ['suffix', 'x'], ['frobnicate', 1]] as const) {
      const res = await completions(s, { model: 'tiny', prompt: 'hi', max_tokens: 2, [field]: value });
      const e = openAiError(res.body, 400, res);
      assert.equal(e.param, field);
      assert.equal(e.code, 'unsupported_parameter');
      assert.match(e.message, new RegExp(`Unsupported parameter: ${field}\\b`));
    }
    const two = await post(`${s.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], tools: [{}], logit_bias: { 1: 1 } });
    assert.match(openAiError(two.body, 400, two).message, /Unsupported parameters: tools, logit_bias/);
    const ok = await completions(s, { model: 'tiny', prompt: 'hi', max_tokens: 2, logit_bias: {}, best_of: 1, echo: false, user: 'u1', seed: null });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('wrong types, malformed JSON, a non-object body and out-of-range values are 400 naming the field', async () => {
    const cases: [unknown, string | null][] = [
      [{ prompt: 'hi', max_tokens: '5' }, 'max_tokens'],
      [{ prompt: 'hi', max_tokens: 0 }, 'max_tokens'],
      [{ prompt: 'hi', n: 65 }, 'n'],
      [{ prompt: 'hi', temperature: -1 }, 'temperature'],
      [{ prompt: 'hi', top_p: 0 }, 'top_p'],
      [{ prompt: 'hi', presence_penalty: 3 }, 'presence_penalty'],
      [{ prompt: 'hi', logprobs: 21 }, 'logprobs'],
      [{ prompt: [] }, 'prompt'],
      [{ max_tokens: 2 }, 'prompt'],
      [{ prompt: 'hi', stream_options: { include_usage: true } }, 'stream_options'],
      ['{"prompt": "hi",', null],
      ['[1, 2]', null],
    ];
    for (const [body, param] of cases) {
      const res = await completions(s, body);
      const e = openAiError(res.body, 400, res);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, param, `${JSON.stringify(body)}: ${e.message}`);
    }
    const chat = await post(`${s.url}/v1/chat/completions`, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] });
    assert.match(openAiError(chat.body, 400, chat).message, /image_url/);
  });

  test('a prompt longer than the context, and text without a tokenizer, are 400s that say what to do', async () => {
    const long = await completions(s, { prompt: 'x'.repeat(200), max_tokens: 4 });
    assert.match(openAiError(long.body, 400, long).message, /exceed the context of 128 tokens/);
    const text = await completions(noTokenizer, { prompt: 'hi' });
    assert.match(openAiError(text.body, 400, text).message, /needs a tokenizer/);
    const chat = await post(`${noTokenizer.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    assert.match(openAiError(chat.body, 400, chat).message, /needs a tokenizer/);
    const ids = await completions(noTokenizer, { prompt: [1, 5, 9], max_tokens: 3, return_token_ids: true });
    assert.equal(ids.status, 200);
    assert.equal(ids.body.choices[0].token_ids.length, 3);
  });

  test('with an API key, /v1 needs the bearer token (401 otherwise); /health and /metrics stay open', async () => {
    const wrong = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'guess', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
    const missing = await completions(keyed, { prompt: 'hi' });
    assert.match(openAiError(missing.body, 401, missing).message, /Missing API key/);
    assert.equal((await keyed.client.models.list()).data[0].id, 'tiny');
    assert.equal((await fetch(`${keyed.url}/health`)).status, 200);
    assert.equal((await fetch(`${keyed.url}/metrics`)).status, 200);
  });

  test('a body over the limit is a 413; an unknown route a 404; the server goes on serving', async () => {
    const big = await completions(keyed, { prompt: 'x'.repeat(4096) }, { authorization: 'Bearer sesame' });
    assert.equal(openAiError(big.body, 413, big).code, 'request_too_large');
    const nowhere = await post(`${s.url}/v1/embeddings`, { input: 'x' });
    openAiError(nowhere.body, 404, nowhere);
    const r = await s.client.completions.create({ model: 'road', prompt: 'hi', max_tokens: 2 });
    assert.equal(r.choices.length, 1);
  });
});
