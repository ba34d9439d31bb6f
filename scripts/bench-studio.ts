// Training and decode speed of the studio in headless Chromium (onnxruntime-web, WebAssembly, 2 threads)
// against onnxruntime-node on the same machine, model and settings: the shipped model, RoAd road_1 group 16 on
// all linear layers, batch 4 of up to 128 tokens (text from README.md), 8 optimizer steps (the first, which
// compiles the graph, left out), then greedy decoding of 64 tokens after a warm-up reply. Prints JSON.
//
//   npx tsx scripts/bench-studio.ts          # needs /usr/bin/chromium

import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildStudio } from './build-studio.ts';
import { Chat } from '../src/browser/chat.ts';
import { datasetFromJsonl } from '../src/browser/dataset.ts';
import { DEFAULT_STUDIO_SETTINGS, TrainSession } from '../src/browser/train-session.ts';
import { startStudioServer } from '../src/cli/studio/static-server.ts';
import { Tokenizer } from '../src/io/tokenizer/tokenizer.ts';
import { CausalLM } from '../src/models/causal-lm.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { WebRuntime } from '../src/runtime/web-runtime.ts';
import type { BaseRuntime } from '../src/runtime/base-runtime.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = join(ROOT, 'models', 'roadster-base');
const STEPS = 8;
const NEW_TOKENS = 64;
const settings = { ...DEFAULT_STUDIO_SETTINGS, steps: STEPS, batchSize: 4, maxLength: 128, lr: 0.05 };
const text = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
const records = Array.from({ length: 64 }, (_, i) => JSON.stringify({ text: text.slice(i * 400, i * 400 + 400) })).join('\n');
const scratch = mkdtempSync(join(tmpdir(), 'roadster-bench-studio-'));
const dataFile = join(scratch, 'data.jsonl');
writeFileSync(dataFile, records);

/** The same measurement in this process on a runtime (onnxruntime-node, or onnxruntime-web's WebAssembly in Node). */
async function inProcess(runtime: BaseRuntime): Promise<{ trainTokensPerSecond: number; decodeTokensPerSecond: number }> {
  const model = await CausalLM.fromFolder(MODEL);
  const tokenizer = await Tokenizer.fromFolder(MODEL);
  const { dataset } = datasetFromJsonl(records, { tokenizer, maxLength: settings.maxLength });
  const session = new TrainSession(model, runtime, tokenizer, dataset!, settings, 'bench');
  while (!session.done) await session.next();
  const timed = session.history.slice(1);
  const trainTokensPerSecond = timed.reduce((a, h) => a + h.tokens, 0) / timed.reduce((a, h) => a + h.tokens / h.tokensPerSecond, 0);
  const chat = new Chat(model, runtime, tokenizer);
  const entry = session.peft.adapter('default');
  chat.setAdapter(entry.config, entry.params);
  await chat.reply('Once upon a time', { maxTokens: 8 });
  const reply = await chat.reply('Once upon a time', { maxTokens: NEW_TOKENS });
  await chat.close();
  await runtime.release();
  return { trainTokensPerSecond, decodeTokensPerSecond: reply.decodeTokensPerSecond };
}

async function inChromium(): Promise<{ trainTokensPerSecond: number; decodeTokensPerSecond: number; threads: string }> {
  const server = await startStudioServer({ pageDir: await buildStudio(join(scratch, 'page'), { logLevel: 'silent' }), modelDir: MODEL });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready=true]');
    await page.click('#load-model');
    await page.waitForSelector('#model-status[data-state=ready]');
    for (const [id, v] of Object.entries({ steps: STEPS, 'batch-size': settings.batchSize, 'max-length': settings.maxLength, lr: settings.lr })) await page.fill(`#${id}`, String(v));
    await page.setInputFiles('#data-file', dataFile);
    await page.waitForSelector('#data-status[data-state=ready]');
    await page.click('#train');
    await page.waitForSelector('#train-status[data-state=done]', { timeout: 600_000 });
    const trainTokensPerSecond = Number(await page.getAttribute('#tps', 'data-mean'));
    await page.fill('#max-tokens', '8');
    await page.click('#send');
    await page.waitForSelector('#chat-status[data-state=done]');
    await page.fill('#max-tokens', String(NEW_TOKENS));
    await page.click('#send');
    await page.waitForSelector('#chat-status[data-state=done]');
    const decodeTokensPerSecond = Number(await page.getAttribute('#decode-tps', 'data-value'));
    return { trainTokensPerSecond, decodeTokensPerSecond, threads: (await page.textContent('#threads')) ?? '' };
  } finally {
    await browser.close();
    await server.close();
  }
}

const chromiumWasm = await inChromium();
const node = await inProcess(new Runtime({ threads: 2 }));
const nodeWasm = await inProcess(new WebRuntime({ threads: 2, contribOps: true }));
console.log(JSON.stringify({ settings: { ...settings, newTokens: NEW_TOKENS }, chromiumWasm, onnxruntimeNode: node, onnxruntimeWebInNode: nodeWasm }, null, 2));
rmSync(scratch, { recursive: true, force: true });
