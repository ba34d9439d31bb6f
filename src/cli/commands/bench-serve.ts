// `roadster bench serve`: starts `roadster serve` as a child process on 127.0.0.1 (port 0), then drives it from
// this process with --concurrency clients until --requests streaming completions (greedy, EOS ignored, mixed
// adapters in turn) have returned. Reports requests/s, output tokens/s, time to first token and inter-token
// latency (p50, p99, measured by the clients), the server's RSS before and after the load (its /metrics), and
// checks every response: status 200, well-formed events ending in [DONE], --max-tokens token ids, usage equal to
// them, and (unless --no-offline) tokens equal to the in-process engine's on the same work, whose throughput is
// reported alongside (the goal: the server within 0.85x of it).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeftModel } from '../../adapters/peft-model.ts';
import { roadConfig } from '../../adapters/road/config.ts';
import { RoadsterError } from '../../errors.ts';
import { GenerationEngine } from '../../generate/engine.ts';
import { CausalLM } from '../../models/causal-lm.ts';
import { Runtime } from '../../runtime/index.ts';
import { randomIds } from '../bench-inputs.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';

export interface ServeBenchOptions {
  readonly model: string;
  readonly adapters: number;
  readonly requests: number;
  readonly concurrency: number;
  readonly maxTokens: number;
  readonly promptTokens: number;
  readonly maxBatch?: number;
  readonly threads?: number;
  readonly seed: number;
  readonly offline: boolean;
  readonly json?: boolean;
}

export interface ServeBenchResult {
  readonly model: string;
  readonly adapters: number;
  readonly requests: number;
  readonly concurrency: number;
  readonly maxTokens: number;
  readonly threads: number;
  readonly wallSeconds: number;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly ttftMs: { readonly p50: number; readonly p99: number };
  readonly itlMs: { readonly p50: number; readonly p99: number };
  /** Requests without a complete, well-formed response. */
  readonly lost: number;
  /** Responses whose events, counts or usage were wrong. */
  readonly malformed: number;
  /** Responses whose tokens differ from the offline engine's (null without the offline run). */
  readonly mismatched: number | null;
  readonly serverRssBeforeMB: number;
  readonly serverRssAfterMB: number;
  /** The same work through GenerationEngine in this process (null with --no-offline). */
  readonly offline: { readonly outputTokensPerSecond: number; readonly serverRatio: number } | null;
}

interface Job {
  readonly model: string;
  readonly adapter: string | null;
  readonly prompt: number[];
}

interface Outcome {
  readonly ok: boolean;
  readonly wellFormed: boolean;
  readonly tokens: number[];
  readonly ttft: number | null;
  readonly gaps: number[];
}

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Starts `roadster serve` with the same Node flags as this process; resolves with its URL. */
async function startServer(args: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL(`../main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, main, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+?) /.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new RoadsterError('E_RUNTIME', `roadster serve exited (code ${code}) before listening:\n${stderr}`)));
  });
  return { child, url };
}

/** One streaming completion, timed and checked. */
async function drive(url: string, job: Job, maxTokens: number): Promise<Outcome> {
  const start = performance.now();
  const body = { model: job.model, prompt: job.prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true }, return_token_ids: true };
  const tokens: number[] = [];
  const gaps: number[] = [];
  let ttft: number | null = null;
  let last = 0;
  try {
    const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 200 || res.body === null) return { ok: false, wellFormed: false, tokens, ttft, gaps };
    const decoder = new TextDecoder();
    let buffer = '';
    let done = false;
    let usage: { completion_tokens?: number } | null = null;
    let finish: string | null = null;
    let wellFormed = true;
    for await (const bytes of res.body) {
      buffer += decoder.decode(bytes as Uint8Array, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (done || !event.startsWith('data: ')) wellFormed = false;
        const data = event.slice(6);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as { choices: { token_ids?: number[]; finish_reason: string | null }[]; usage?: { completion_tokens?: number } | null };
        for (const c of chunk.choices) {
          const now = performance.now();
          if (c.token_ids && c.token_ids.length > 0) {
            if (ttft === null) ttft = now - start;
            else gaps.push(now - last);
            last = now;
            tokens.push(...c.token_ids);
          }
          finish = c.finish_reason ?? finish;
        }
        if (chunk.usage) usage = chunk.usage;
      }
    }
    wellFormed &&= done && buffer === '' && finish === 'length' && tokens.length === maxTokens && usage?.completion_tokens === maxTokens;
    return { ok: done, wellFormed, tokens, ttft, gaps };
  } catch {
    return { ok: false, wellFormed: false, tokens, ttft, gaps };
  }
}

async function serverRss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return line === undefined ? 0 : Number(line.split(' ')[1]) / 2 ** 20;
}

export async function benchServe(opts: ServeBenchOptions, log: (line: string) => void): Promise<ServeBenchResult> {
  const threads = opts.threads ?? availableParallelism();
  const maxBatch = opts.maxBatch ?? opts.concurrency;
  const scratch = mkdtempSync(join(tmpdir(), 'roadster-bench-serve-'));
  const runtime = new Runtime({ threads });
  let child: ChildProcess | null = null;
  try {
    const model = await CausalLM.fromFolder(opts.model);
    const adapters: [string, string][] = [];
    for (let i = 0; i < opts.adapters; i++) {
      const dir = join(scratch, `road${i}`);
      const config = roadConfig({ variant: 'road_1', groupSize: 8, targetModules: ['q_proj', 'v_proj'], initWeights: false });
      PeftModel.getPeftModel(model, runtime, config, 'default', opts.seed * 1000 + i).saveAdapter(dir);
      adapters.push([`road${i}`, dir]);
    }
    const prompts = randomIds(opts.requests, opts.promptTokens, model.config.vocabSize, opts.seed + 1);
    const jobs: Job[] = prompts.map((prompt, i) => {
      const a = adapters.length === 0 ? null : adapters[i % adapters.length][0];
      return { model: a ?? 'base', adapter: a, prompt };
    });

    log(`starting roadster serve (${adapters.length} adapters, max batch ${maxBatch}, ${threads} threads) ...`);
    const args = ['--model', opts.model, '--served-model-name', 'base', '--port', '0', '--threads', String(threads), '--max-batch', String(maxBatch),
      '--max-queue', String(opts.requests), '--max-loaded-adapters', String(Math.max(1, adapters.length)), ...adapters.flatMap(([n, d]) => ['--adapter', `${n}=${d}`])];
    const started = await startServer(args);
    child = started.child;
    const url = started.url;
    await drive(url, jobs[0], 2); // compiles the graphs
    const rssBefore = await serverRss(url);

    log(`${opts.requests} requests, ${opts.concurrency} at a time ...`);
    const outcomes: Outcome[] = new Array(jobs.length);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: opts.concurrency }, async () => {
      while (next < jobs.length) {
        const i = next++;
        outcomes[i] = await drive(url, jobs[i], opts.maxTokens);
      }
    }));
    const wall = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const rssAfter = await serverRss(url);
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    child = null;

    let offline: ServeBenchResult['offline'] = null;
    let mismatched: number | null = null;
    const outputTokens = outcomes.reduce((n, o) => n + o.tokens.length, 0);
    if (opts.offline) {
      log('the same work through the engine in this process ...');
      const engine = new GenerationEngine(model, runtime, { maxBatch, maxQueue: opts.requests, maxLoadedAdapters: Math.max(1, adapters.length) });
      for (const [n, d] of adapters) engine.loadAdapter(n, d);
      await engine.generate([{ promptIds: jobs[0].prompt, adapter: jobs[0].adapter, maxTokens: 2 }]);
      const t1 = performance.now();
      const results = await engine.generate(jobs.map((j) => ({ promptIds: j.prompt, adapter: j.adapter, maxTokens: opts.maxTokens, ignoreEos: true, sampling: { temperature: 0 } })));
      const offlineSeconds = (performance.now() - t1) / 1000;
      await engine.close();
      const offlineTps = results.reduce((n, r) => n + r.tokens.length, 0) / offlineSeconds;
      offline = { outputTokensPerSecond: round(offlineTps, 1), serverRatio: round(outputTokens / wall / offlineTps) };
      mismatched = outcomes.filter((o, i) => o.ok && o.tokens.join(',') !== results[i].tokens.join(',')).length;
    }
    const ttfts = outcomes.flatMap((o) => (o.ttft === null ? [] : [o.ttft]));
    const gaps = outcomes.flatMap((o) => o.gaps);
    return {
      model: opts.model,
      adapters: adapters.length,
      requests: opts.requests,
      concurrency: opts.concurrency,
      maxTokens: opts.maxTokens,
      threads,
      wallSeconds: round(wall, 3),
      requestsPerSecond: round(opts.requests / wall),
      outputTokensPerSecond: round(outputTokens / wall, 1),
      ttftMs: { p50: round(percentile(ttfts, 50)), p99: round(percentile(ttfts, 99)) },
      itlMs: { p50: round(percentile(gaps, 50)), p99: round(percentile(gaps, 99)) },
      lost: outcomes.filter((o) => !o.ok).length,
      malformed: outcomes.filter((o) => o.ok && !o.wellFormed).length,
      mismatched,
      serverRssBeforeMB: round(rssBefore, 1),
      serverRssAfterMB: round(rssAfter, 1),
      offline,
    };
  } finally {
    child?.kill('SIGKILL');
    await runtime.release();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `roadster bench serve`. */
export async function runBenchServe(opts: ServeBenchOptions, io: CliIo): Promise<void> {
  const result = await benchServe(opts, (line) => io.stderr.write(`${line}\n`));
  if (opts.json) return printJson(io, result);
  const rows: [string, string | number][] = [
    ['requests/s', result.requestsPerSecond],
    ['output tokens/s', result.outputTokensPerSecond],
    ['offline engine tokens/s', result.offline?.outputTokensPerSecond ?? '-'],
    ['server / offline', result.offline?.serverRatio ?? '-'],
    ['TTFT p50 / p99 ms', `${result.ttftMs.p50} / ${result.ttftMs.p99}`],
    ['ITL p50 / p99 ms', `${result.itlMs.p50} / ${result.itlMs.p99}`],
    ['lost / malformed / mismatched', `${result.lost} / ${result.malformed} / ${result.mismatched ?? '-'}`],
    ['server RSS before / after MB', `${result.serverRssBeforeMB} / ${result.serverRssAfterMB}`],
  ];
  io.stdout.write(formatTable(['measure', 'value'], rows));
}
