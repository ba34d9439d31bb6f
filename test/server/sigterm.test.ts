// `roadster serve` as a process: it prints one line with its URL when it accepts requests, and SIGTERM during a
// streaming request drains: a new request gets 503, the streamed response completes (every token, [DONE]),
// and the process exits 0.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ROAD, openStream, post } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BASE = `${ROOT}models/roadster-base`;

test('SIGTERM drains: the request in flight completes, new ones get 503, exit code 0', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--model', BASE, '--port', '0', '--threads', '1', '--drain-timeout', '60'], {
    cwd: ROOT,
    env: { ...process.env, HF_HUB_OFFLINE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL line in 60 s; stderr: ${stderr}`)), 60_000);
      child.stderr.on('data', () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) (clearTimeout(timer), resolve(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
    });
    assert.equal(stderr.split('\n').filter((l) => l.includes('listening on')).length, 1);
    assert.equal((await fetch(`${url}/health`)).status, 200);
    const maxTokens = 300;
    const stream = await openStream(url, { model: BASE, prompt: 'Once upon a time', max_tokens: maxTokens, ignore_eos: true, temperature: 0, return_token_ids: true, stream_options: { include_usage: true } });
    child.kill('SIGTERM');
    while (!stderr.includes('draining')) await new Promise((r) => setTimeout(r, 5));
    const refused = await post(`${url}/v1/completions`, { model: BASE, prompt: 'hi' });
    assert.equal(refused.status, 503, JSON.stringify(refused.body) + stderr);
    const text = stream.first + (await stream.rest());
    const events = text.split('\n\n').filter((e) => e !== '');
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    assert.equal(chunks.at(-1).usage.completion_tokens, maxTokens);
    assert.equal(chunks.flatMap((c) => c.choices.flatMap((ch: { token_ids?: number[] }) => ch.token_ids ?? [])).length, maxTokens);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM, draining .* for the 1 in flight\)/); // the stream was still running
    assert.match(stderr, /stopped\n/);
  } finally {
    child.kill('SIGKILL');
  }
});
