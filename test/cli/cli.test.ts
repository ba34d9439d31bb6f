// The `roadster` command: spawned from its sources as a process (JSON output of `bench matmul`,
// greedy ids of `generate`, the error format and exit codes), and in process through `runCli` for the cheaper
// checks (usage errors, `preset write` refusing a non-empty folder, streamed text of `generate --prompt`).
// The Hub is never contacted: HF_HUB_OFFLINE=1 and an empty cache in a temporary folder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { greedyGenerate } from '../../src/generate/greedy.ts';
import { AutoModelForCausalLM, AutoTokenizer } from '../../src/models/auto.ts';
import { writeRandomModel } from '../../src/models/random-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA, fixture } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// the sources through tsx, so the test sees the code as it is (bin/roadster.js runs the build; the package test
// runs that)
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const GPT2 = fileURLToPath(new URL('../fixtures/tokenizers/gpt2/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'roadster-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const ENV = { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'hub-cache'), HF_TOKEN: '' };

function roadster(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const runInProcess = (...args: string[]) => runCliCaptured(args, ENV);

describe('roadster (spawned)', () => {
  test('bench matmul --json prints the machine and one result per case and thread count', () => {
    const r = roadster('bench', 'matmul', '--iters', '2', '--warmup', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as {
      machine: { cpus: number; model: string };
      quantize: string;
      results: { case: { m: number; k: number; n: number; transB: boolean }; threads: number; medianMs: number; gflops: number }[];
    };
    assert.ok(Number.isInteger(json.machine.cpus) && json.machine.cpus >= 1);
    assert.equal(typeof json.machine.model, 'string');
    assert.equal(json.quantize, 'none');
    const q = roadster('bench', 'matmul', '--iters', '1', '--warmup', '0', '--threads', '1', '--quantize', 'int8', '--json');
    assert.equal(q.status, 0, q.stderr);
    const qJson = JSON.parse(q.stdout) as { quantize: string; results: { gflops: number }[] };
    assert.equal(qJson.quantize, 'int8');
    assert.ok(qJson.results.length === 4 && qJson.results.every((x) => x.gflops > 0));
    const threads = [...new Set(json.results.map((x) => x.threads))];
    assert.deepEqual(threads, json.machine.cpus === 1 ? [1] : [1, json.machine.cpus]);
    assert.equal(json.results.length, 4 * threads.length);
    for (const x of json.results) {
      assert.ok(x.case.m > 0 && x.case.k > 0 && x.case.n > 0 && typeof x.case.transB === 'boolean');
      assert.ok(x.medianMs > 0 && x.gflops > 0, JSON.stringify(x));
      assert.ok(Math.abs(x.gflops - (2 * x.case.m * x.case.k * x.case.n) / (x.medianMs * 1e6)) < 1e-6 * x.gflops);
    }
  });

  test('generate --ids prints the greedy token ids', () => {
    const r = roadster('generate', '--model', 'test/fixtures/peft/models/tiny-llama', '--ids', '1,5,9', '--max-new-tokens', '4');
    assert.equal(r.status, 0, r.stderr);
    const ids = r.stdout.trim().split(',').map(Number);
    assert.equal(ids.length, 4, r.stdout);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 256), r.stdout);

    // a fixture prompt: the ids transformers generated
    const fx = fixture<{ prompts: number[][]; runs: { base: { alone: { new_tokens: number[] }[] } } }>('generate_llama_greedy.json');
    const again = roadster('generate', '--model', TINY_LLAMA, '--ids', fx.prompts[0].join(','), '--max-new-tokens', '6', '--threads', '1');
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, `${fx.runs.base.alone[0].new_tokens.slice(0, 6).join(',')}\n`);

    // int8 weights: a valid run of the same shape (the numbers may differ from float32)
    const q = roadster('generate', '--model', TINY_LLAMA, '--ids', fx.prompts[0].join(','), '--max-new-tokens', '6', '--threads', '1', '--quantize', 'int8');
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stdout.trim().split(',').length, 6, q.stdout);
  });

  test('a missing model folder exits 1 with error [E_NOT_FOUND]', () => {
    const r = roadster('generate', '--model', './no/such/model-folder', '--ids', '1,2');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error \[E_NOT_FOUND\]: .*no\/such\/model-folder/m);
    assert.equal(r.stdout, '');
  });

  test('bench cli-startup --json times --version, --help and inspect --help beside bare node', () => {
    const r = roadster('bench', 'cli-startup', '--runs', '1', '--json');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { runs: number; command: string[]; nodeBaseline: { medianMs: number }; cases: { args: string[]; medianMs: number }[] };
    assert.equal(json.runs, 1);
    assert.equal(json.command.at(-1), MAIN);
    assert.ok(json.nodeBaseline.medianMs > 0);
    assert.deepEqual(json.cases.map((c) => c.args.join(' ')), ['--version', '--help', 'inspect --help']);
    assert.ok(json.cases.every((c) => c.medianMs > 0));
  });
});

describe('roadster (in process)', () => {
  test('usage errors exit 2', async () => {
    const bad = await runInProcess('generate', '--model', TINY_LLAMA, '--ids', 'one,two');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--ids/);
    const both = await runInProcess('generate', '--model', TINY_LLAMA, '--ids', '1', '--prompt', 'hi');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^error \[E_USAGE\]: give exactly one of --prompt/m);
    const range = await runInProcess('generate', '--model', TINY_LLAMA, '--ids', '1,300');
    assert.equal(range.code, 2);
    assert.match(range.stderr, /token id 300 \(position 1\) is outside/);
    assert.equal((await runInProcess('no-such-command')).code, 2);
    assert.equal((await runInProcess('bench', 'forward', '--preset', 'gpt-5')).code, 2);
    const quant = await runInProcess('bench', 'train', '--preset', 'smollm2-135m', '--quantize', 'int4');
    assert.equal(quant.code, 2);
    assert.match(quant.stderr, /--quantize.*int4.*none, int8, int8-all/s);
    const help = await runInProcess('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /generate/);
  });

  test('--version prints the package version; output has no ANSI codes with NO_COLOR or without a terminal', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) assert.deepEqual(await runInProcess(flag), { code: 0, stdout: `${version}\n`, stderr: '' });
    const noColor = await runCliCaptured(['train', '--help'], { ...ENV, NO_COLOR: '1' }, { tty: true });
    const piped = await runCliCaptured(['train', '--no-such-flag'], ENV);
    assert.equal(noColor.code, 0);
    assert.equal(piped.code, 2);
    for (const text of [noColor.stdout, piped.stderr]) assert.doesNotMatch(text, /\x1b\[/);
  });

  test('preset write refuses a non-empty folder without --force', async () => {
    const out = join(scratch, 'occupied');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    const r = await runInProcess('preset', 'write', '--preset', 'smollm2-135m', '--out', out);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error \[E_USAGE\]: --out .* is not empty/m);
  });

  test('generate --prompt streams the text of the greedy tokens', async () => {
    // a tiny random llama over GPT-2's vocabulary, with GPT-2's tokenizer
    const dir = join(scratch, 'tiny-gpt2-vocab');
    writeRandomModel(dir, {
      model_type: 'llama', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
      num_key_value_heads: 1, vocab_size: 50257, max_position_embeddings: 64, initializer_range: 0.5,
      bos_token_id: 50256, eos_token_id: 50256,
    }, { seed: 3, dtype: 'F32' });
    copyFileSync(join(GPT2, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    copyFileSync(join(GPT2, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    const r = await runInProcess('generate', '--model', dir, '--prompt', 'Hello world', '--max-new-tokens', '5', '--threads', '1');
    assert.equal(r.code, 0, r.stderr);

    const model = await AutoModelForCausalLM.fromPretrained(dir);
    const tokenizer = await AutoTokenizer.fromPretrained(dir);
    const runtime = new Runtime({ threads: 1 });
    try {
      const [ids] = await greedyGenerate(model, runtime, [tokenizer.encode('Hello world')], { maxNewTokens: 5, eosTokenIds: [50256] });
      const expected = tokenizer.decode(ids.filter((id) => id !== 50256), { skipSpecialTokens: true });
      assert.equal(r.stdout, `${expected}\n`);
      assert.ok(ids.length > 0);
    } finally {
      await runtime.release();
    }
  });
});
