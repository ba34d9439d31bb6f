// The OpenAI API as the official `openai` client sees it, on tiny-llama with a byte-level tokenizer and the RoAd
// and LoRA fixture adapters: the models list, completions for each prompt form, chat through the template,
// streaming (with usage) equal to the non-streamed reply, logprobs in both shapes, n with seeds, stop strings;
// every reply's tokens equal the engine's own greedy tokens for the same request alone.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GenerationEngine } from '../../src/generate/engine.ts';
import type { Tokenizer } from '../../src/io/tokenizer/index.ts';
import type { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { LORA, ROAD, loadTextModel, post, type Running, startServer, writeTextModel } from './helpers.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-serve-api-'));
let model: CausalLM;
let tokenizer: Tokenizer;
let s: Running;
let reference: GenerationEngine;

before(async () => {
  ({ model, tokenizer } = await loadTextModel(writeTextModel(join(scratch, 'model'))));
  s = await startServer({ model, tokenizer, runtime, servedModelName: 'tiny', modelSource: join(scratch, 'model'), adapters: { road: ROAD, lora: LORA } });
  reference = new GenerationEngine(model, runtime, { tokenizer });
  reference.loadAdapter('road', ROAD);
  reference.loadAdapter('lora', LORA);
});
after(async () => {
  await s.stop();
  await reference.close();
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

/** The engine's greedy tokens for one prompt alone. */
async function alone(promptIds: readonly number[], adapter: string | null, maxTokens: number, extra: object = {}): Promise<number[]> {
  const [r] = await reference.generate([{ promptIds, adapter, maxTokens, sampling: { temperature: 0 }, ...extra }]);
  return r.tokens;
}

describe('models', () => {
  test('GET /v1/models lists the base and each adapter, with parent and root as vLLM reports them', async () => {
    const list = await s.client.models.list();
    const byId = new Map(list.data.map((m) => [m.id, m as unknown as Record<string, unknown>]));
    assert.deepEqual([...byId.keys()], ['tiny', 'road', 'lora']);
    assert.equal(byId.get('tiny')!.parent, null);
    assert.equal(byId.get('tiny')!.root, join(scratch, 'model'));
    assert.equal(byId.get('road')!.parent, 'tiny');
    assert.equal(byId.get('road')!.root, ROAD);
    assert.equal(byId.get('lora')!.object, 'model');
    assert.equal(byId.get('lora')!.max_model_len, 128);
  });
});

describe('completions', () => {
  test('a text prompt on each model gives the engine\'s greedy tokens, with usage and finish_reason', async () => {
    const ids = tokenizer.encode('The fox');
    for (const m of ['tiny', 'road', 'lora']) {
      const r = await s.client.completions.create({ model: m, prompt: 'The fox', max_tokens: 6, temperature: 0, ignore_eos: true, return_token_ids: true } as never);
      const expected = await alone(ids, m === 'tiny' ? null : m, 6, { ignoreEos: true });
      const choice = r.choices[0] as unknown as { token_ids: number[]; text: string; finish_reason: string };
      assert.deepEqual(choice.token_ids, expected, m);
      assert.equal(choice.text, tokenizer.decode(expected, { skipSpecialTokens: true }));
      assert.equal(choice.finish_reason, 'length');
      assert.equal(r.object, 'text_completion');
      assert.match(r.id, /^cmpl-[0-9a-f]{32}$/);
      assert.deepEqual(r.usage, { prompt_tokens: ids.length, completion_tokens: 6, total_tokens: ids.length + 6 });
    }
  });

  test('prompts as a list of strings, token ids, and lists of token ids: one choice each, in order', async () => {
    const a = tokenizer.encode('ab');
    const b = tokenizer.encode('xyz');
    const strings = await s.client.completions.create({ model: 'road', prompt: ['ab', 'xyz'], max_tokens: 4, temperature: 0, ignore_eos: true } as never);
    const ids = await s.client.completions.create({ model: 'road', prompt: [a, b], max_tokens: 4, temperature: 0, ignore_eos: true } as never);
    const single = await s.client.completions.create({ model: 'road', prompt: b, max_tokens: 4, temperature: 0, ignore_eos: true } as never);
    const texts = await Promise.all([a, b].map(async (p) => tokenizer.decode(await alone(p, 'road', 4, { ignoreEos: true }), { skipSpecialTokens: true })));
    assert.deepEqual(strings.choices.map((c) => [c.index, c.text]), [[0, texts[0]], [1, texts[1]]]);
    assert.deepEqual(ids.choices.map((c) => c.text), texts);
    assert.deepEqual(single.choices.map((c) => c.text), [texts[1]]);
    assert.equal(strings.usage!.prompt_tokens, a.length + b.length);
    assert.equal(strings.usage!.completion_tokens, 8);
  });

  test('logprobs: k gives tokens, token_logprobs, top_logprobs (k best and the chosen one) and text_offset', async () => {
    const r = await s.client.completions.create({ model: 'lora', prompt: 'The', max_tokens: 5, temperature: 0, logprobs: 3, ignore_eos: true } as never);
    const lp = r.choices[0].logprobs!;
    assert.equal(lp.tokens!.length, 5);
    assert.equal(lp.token_logprobs!.length, 5);
    assert.equal(lp.top_logprobs!.length, 5);
    let offset = 0;
    lp.tokens!.forEach((t, i) => {
      assert.equal(lp.text_offset![i], offset);
      offset += t.length;
      const top = lp.top_logprobs![i];
      assert.ok(Object.keys(top).length >= 3 && Object.keys(top).length <= 4, JSON.stringify(top));
      // greedy: the chosen token is the most likely one
      assert.equal(Math.max(...Object.values(top)), lp.token_logprobs![i]);
      assert.ok(lp.token_logprobs![i] <= 0);
    });
  });

  test('n choices; with a seed, choice i samples as seed + i', async () => {
    const r = await s.client.completions.create({ model: 'road', prompt: 'ab', max_tokens: 6, n: 3, seed: 41, temperature: 1, return_token_ids: true } as never);
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    const one = await s.client.completions.create({ model: 'road', prompt: 'ab', max_tokens: 6, seed: 42, temperature: 1, return_token_ids: true } as never);
    const ids = (c: unknown) => (c as { token_ids: number[] }).token_ids;
    assert.deepEqual(ids(r.choices[1]), ids(one.choices[0]));
    assert.equal(r.usage!.completion_tokens, r.choices.reduce((n, c) => n + ids(c).length, 0));
  });

  test('stop strings end the text before them, finish_reason "stop"', async () => {
    const full = await s.client.completions.create({ model: 'tiny', prompt: 'The fox', max_tokens: 12, temperature: 0, ignore_eos: true } as never);
    const text = full.choices[0].text;
    const cut = [...text].findIndex((ch, i) => i > 0 && /[ -~]/.test(ch));
    assert.ok(cut > 0, `no printable character after the first in ${JSON.stringify(text)}`);
    const stop = [...text][cut];
    const r = await s.client.completions.create({ model: 'tiny', prompt: 'The fox', max_tokens: 12, temperature: 0, ignore_eos: true, stop: [stop] } as never);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
  });

  test('streaming sends the same text as one reply, then a usage chunk and [DONE]', async () => {
    const body = { model: 'road', prompt: 'The fox', max_tokens: 8, temperature: 0, ignore_eos: true };
    const whole = await s.client.completions.create(body as never);
    const stream = await s.client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } } as never);
    let text = '';
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const chunk of stream as unknown as AsyncIterable<{ choices: { text: string; finish_reason: string | null }[]; usage: unknown; object: string }>) {
      assert.equal(chunk.object, 'text_completion');
      for (const c of chunk.choices) {
        text += c.text;
        finish = c.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, whole.choices[0].text);
    assert.equal(finish, 'length');
    assert.deepEqual(usage, whole.usage);
    const raw = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
    assert.match(raw.headers.get('content-type')!, /^text\/event-stream/);
    const events = (await raw.text()).split('\n\n').filter((e) => e !== '');
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.ok(events.slice(0, -1).every((e) => e.startsWith('data: {')));
  });
});

describe('chat completions', () => {
  const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hi' }];

  test('the chat template renders the messages; the reply is the engine\'s greedy continuation', async () => {
    const prompt = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: true });
    const r = await s.client.chat.completions.create({ model: 'road', messages, max_tokens: 6, temperature: 0, ignore_eos: true } as never);
    const expected = await alone(prompt, 'road', 6, { ignoreEos: true });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, tokenizer.decode(expected, { skipSpecialTokens: true }));
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.deepEqual(r.usage, { prompt_tokens: prompt.length, completion_tokens: 6, total_tokens: prompt.length + 6 });
    // max_completion_tokens is the newer name of max_tokens; text content parts are joined
    const parts = await s.client.chat.completions.create({
      model: 'road', messages: [messages[0], { role: 'user', content: [{ type: 'text', text: 'Hi' }] }], max_completion_tokens: 6, temperature: 0, ignore_eos: true,
    } as never);
    assert.equal(parts.choices[0].message.content, r.choices[0].message.content);
  });

  test('logprobs: true with top_logprobs gives content[{token, logprob, bytes, top_logprobs}]', async () => {
    const r = await s.client.chat.completions.create({ model: 'lora', messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2, ignore_eos: true } as never);
    const content = r.choices[0].logprobs!.content!;
    assert.equal(content.length, 4);
    for (const e of content) {
      assert.equal(typeof e.token, 'string');
      // a piece of a UTF-8 character is spelled bytes:\xNN (OpenAI's form), with its raw byte
      const expected = e.token.startsWith('bytes:') ? e.token.slice(6).split('\\x').slice(1).map((h) => parseInt(h, 16)) : [...Buffer.from(e.token, 'utf8')];
      assert.deepEqual(e.bytes, expected, e.token);
      assert.equal(e.top_logprobs.length, 2);
      assert.equal(e.top_logprobs[0].logprob, e.logprob);
    }
    const plain = await s.client.chat.completions.create({ model: 'lora', messages, max_tokens: 2, temperature: 0 } as never);
    assert.equal(plain.choices[0].logprobs, null);
  });

  test('streaming: a role delta, content deltas, finish_reason, usage, [DONE]', async () => {
    const body = { model: 'lora', messages, max_tokens: 6, temperature: 0, ignore_eos: true, n: 2 };
    const whole = await s.client.chat.completions.create(body as never);
    const stream = await s.client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } } as never);
    const text = ['', ''];
    const roles: string[] = [];
    const finishes: string[] = [];
    let usage: unknown = null;
    for await (const chunk of stream as unknown as AsyncIterable<{ object: string; choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null }[]; usage: unknown }>) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      for (const c of chunk.choices) {
        if (c.delta.role) roles.push(c.delta.role);
        text[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finishes.push(c.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.deepEqual(roles, ['assistant', 'assistant']);
    assert.deepEqual(finishes, ['length', 'length']);
    assert.deepEqual(text, whole.choices.map((c) => c.message.content)); // greedy: both choices alike
    assert.deepEqual(usage, whole.usage);
  });
});
