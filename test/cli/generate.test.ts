// `roadster generate` on the engine: a JSONL batch of requests whose rows use different adapters (RoAd, LoRA,
// none) gives PEFT 0.21's tokens and log-probabilities (generate_mixed_peft021.json), one JSON line per request
// in input order; bad lines are reported as file:line before anything runs; the context is checked before a
// token is printed; seeded sampling flags reproduce.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FIXTURES, TINY_LLAMA, fixture } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'roadster-cli-generate-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const ENV = { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'hub') };
const run = (...args: string[]) => runCliCaptured(args, ENV);

function jsonl(name: string, lines: readonly unknown[]): string {
  const file = join(scratch, name);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

describe('roadster generate --requests', () => {
  test('rows with RoAd, LoRA and no adapter in one batch give PEFT 0.21\'s tokens and log-probabilities', async () => {
    const fx = fixture('generate_mixed_peft021.json');
    const road = fx.cases.llama_road1_g8_qv.mixed;
    const lora = fx.cases.lora_llama_r4_a8_qv.mixed;
    // rows 0 and 1 of the RoAd case (default, second) and rows 0 and 2 of the LoRA case (default, base)
    const rows = [
      { ids: fx.prompts[0], adapter: 'road', expected: road, i: 0 },
      { ids: fx.prompts[1], adapter: 'road2', expected: road, i: 1 },
      { ids: fx.prompts[0], adapter: 'lora', expected: lora, i: 0 },
      { ids: fx.prompts[2], adapter: null, expected: lora, i: 2 },
    ];
    const file = jsonl('mixed.jsonl', rows.map((r) => ({ ids: r.ids, adapter: r.adapter, max_tokens: fx.max_new_tokens, temperature: 0, ignore_eos: true })));
    const r = await run(
      'generate', '--model', TINY_LLAMA, '--threads', '1', '--requests', file, '--json',
      '--adapter', `road=${FIXTURES}llama_road1_g8_qv/adapter`, '--adapter', `road2=${FIXTURES}llama_road1_g8_qv/adapter/second`,
      '--adapter', `lora=${FIXTURES}lora_llama_r4_a8_qv/adapter`,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(out.length, rows.length);
    out.forEach((o, k) => {
      const { expected, i } = rows[k];
      assert.equal(o.index, k);
      assert.deepEqual(o.tokens, expected.tokens[i], `request ${k}`);
      o.logprobs.forEach((lp: number, j: number) => assert.ok(Math.abs(lp - expected.token_logprobs[i][j]) < 1e-4, `request ${k} token ${j}`));
      assert.equal(o.finish_reason, 'length');
      assert.equal(o.text, null); // tiny-llama has no tokenizer
    });
  });

  test('bad lines are reported as file:line before anything is generated', async () => {
    const cases: [unknown[], RegExp][] = [
      [[{ ids: [1, 2] }, 'not json'], /bad\.jsonl:2: not valid JSON/],
      [[{ ids: [1, 2], temprature: 1 }], /bad\.jsonl:1: unknown field\(s\) "temprature"/],
      [[{ ids: [1, 2] }, { prompt: 'x', ids: [1] }], /bad\.jsonl:2: give exactly one of "ids", "prompt" and "messages"/],
      [[{ ids: [1, 2], max_tokens: 4 }, { ids: [1, 2, 3], max_tokens: 200 }], /bad\.jsonl:2: the prompt's 3 tokens plus max_tokens 200 exceed the context of 128 tokens/],
      [[{ ids: [1, 2], adapter: 'nope' }], /bad\.jsonl:1: no adapter named "nope"/],
      [[{ ids: [1, 2], top_p: 1.5 }], /bad\.jsonl:1: .*topP/],
    ];
    for (const [lines, message] of cases) {
      const r = await run('generate', '--model', TINY_LLAMA, '--threads', '1', '--requests', jsonl('bad.jsonl', lines));
      assert.equal(r.code, 2, `${message}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    const text = await run('generate', '--model', TINY_LLAMA, '--requests', jsonl('text.jsonl', [{ prompt: 'hello' }]));
    assert.equal(text.code, 1);
    assert.match(text.stderr, /E_TOKENIZER.*No tokenizer\.json in .*tiny-llama/);
    const missing = await run('generate', '--model', TINY_LLAMA, '--requests', join(scratch, 'missing.jsonl'));
    assert.match(missing.stderr, /cannot read --requests/);
  });
});

describe('roadster generate (one prompt)', () => {
  test('the context is checked before any token is printed', async () => {
    const r = await run('generate', '--model', TINY_LLAMA, '--ids', '1,2,3', '--max-new-tokens', '126', '--threads', '1');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--ids: the prompt's 3 tokens plus max_tokens 126 exceed the context of 128 tokens; .*lower max_tokens to 125/);
  });

  test('seeded sampling reproduces; --json reports logprobs and the alternatives; an adapter changes the output', async () => {
    const args = ['generate', '--model', TINY_LLAMA, '--ids', '5,6,7', '--max-new-tokens', '12', '--threads', '1', '--json', '--ignore-eos'];
    const sample = ['--temperature', '0.9', '--top-p', '0.95', '--seed', '7', '--logprobs', '2'];
    const [a, b] = [await run(...args, ...sample), await run(...args, ...sample)];
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const ja = JSON.parse(a.stdout);
    assert.equal(ja.tokens.length, 12);
    assert.equal(ja.seed, 7);
    assert.ok(ja.top_logprobs.every((t: unknown[]) => t.length === 2));
    const other = JSON.parse((await run(...args, '--temperature', '0.9', '--top-p', '0.95', '--seed', '8')).stdout);
    assert.notDeepEqual(other.tokens, ja.tokens);
    const base = JSON.parse((await run(...args)).stdout);
    const adapted = JSON.parse((await run(...args, '--adapter', `${FIXTURES}llama_road1_g8_qv/adapter`)).stdout);
    assert.equal(adapted.adapter, 'adapter');
    assert.notDeepEqual(adapted.tokens, base.tokens);
    const bad = await run(...args, '--temperature', '-1');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /temperature/);
  });
});

describe('roadster bench generate', () => {
  test('prints one result per method and batch, with the fields the issue names (methods alternating over --rounds)', async () => {
    const r = await run('bench', 'generate', '--model', TINY_LLAMA, '--batches', '1,4', '--adapters', '1,4', '--new', '3', '--prompt', '5', '--rounds', '2', '--contexts', '8,40', '--threads', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(
      json.results.map((x: { method: string; batch: number; adapters: number }) => `${x.method}/${x.batch}/${x.adapters}`),
      ['base/1/0', 'base/4/0', 'road/1/1', 'road/4/4', 'lora/1/1', 'lora/4/4', 'merged/1/0', 'merged/4/0'],
    );
    for (const x of json.results) {
      for (const k of ['prefillTokensPerSecond', 'decodeTokensPerSecond', 'stepMsP50', 'stepMsP99', 'peakRssMB']) assert.ok(x[k] > 0, `${x.method} ${k}`);
    }
    assert.deepEqual(json.contexts.map((c: { context: number }) => c.context), [8, 40]);
  });
});
