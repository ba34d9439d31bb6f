// The studio page end to end in headless Chromium (Debian's chromium, driven by playwright-core): a seeded RoAd
// run on the shipped model reaches Node's losses (Trainer on onnxruntime-node) to float32 round-off, the chat
// box gives Node's greedy tokens with that adapter, and the downloaded zip is a PEFT folder that loads in
// roadster on Node. Bad input: a folder that is not a model, a JSONL with bad lines (listed by line number), a
// model too large for the tab, and a tab closed mid-training (the stored checkpoint resumes). A screenshot of
// the page after training goes to test-artifacts/.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { buildStudio } from '../../scripts/build-studio.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { type StudioServer, startStudioServer } from '../../src/cli/studio/static-server.ts';
import { GenerationEngine } from '../../src/generate/engine.ts';
import { Tokenizer } from '../../src/io/tokenizer/tokenizer.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { defaultPadId } from '../../src/train/data/tokenize.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../../src/train/trainer.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL_DIR = join(ROOT, 'models', 'roadster-base');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const STEPS = 4;
const SETTINGS = { groupSize: 16, lr: 0.05, steps: STEPS, batchSize: 2, maxLength: 32, seed: 3 };
const PROMPT = 'Once upon a time';
const NEW_TOKENS = 10;

const scratch = mkdtempSync(join(tmpdir(), 'roadster-studio-'));
const TEXTS = [
  'The ship sailed at dawn with the whole crew on deck.',
  'A whale rose beside the boat and the sailors cheered.',
  'The captain wrote in his log every night before sleeping.',
  'Rain fell on the harbour as the fishermen mended their nets.',
  'In the morning the sea was calm and the sky was clear.',
  'The old sailor told stories of storms and distant islands.',
];
const dataFile = join(scratch, 'train.jsonl');
writeFileSync(dataFile, TEXTS.map((text) => JSON.stringify({ text })).join('\n') + '\n');

let browser: Browser;
let context: BrowserContext;
let server: StudioServer;
const runtime = new Runtime({ threads: 2 });
/** Node's reference run: losses per step and the trained adapter's folder. */
let reference: { losses: number[]; adapterDir: string; tokens: number[] };

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium; .ci/run does it)`);
  const pageDir = await buildStudio(join(scratch, 'page'), { logLevel: 'silent' });
  server = await startStudioServer({ pageDir, modelDir: MODEL_DIR });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext({ acceptDownloads: true });
  reference = await nodeReference();
});

after(async () => {
  await context?.close();
  await browser?.close();
  await server?.close();
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

/** The same run on Node: `loadDataset`, the batches `roadster train` builds, the Trainer; then greedy tokens. */
async function nodeReference(): Promise<{ losses: number[]; adapterDir: string; tokens: number[] }> {
  const base = await CausalLM.fromFolder(MODEL_DIR);
  const tokenizer = await Tokenizer.fromFolder(MODEL_DIR);
  const { dataset } = await loadDataset(dataFile, { tokenizer, maxLength: SETTINGS.maxLength });
  const batches = dataset.batchSource({ batchSize: SETTINGS.batchSize, seed: SETTINGS.seed, mode: 'length', maxLength: SETTINGS.maxLength, padId: defaultPadId(tokenizer) });
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_1', groupSize: SETTINGS.groupSize, targetModules: 'all-linear' }), 'default', SETTINGS.seed);
  const losses: number[] = [];
  const outDir = join(scratch, 'node-run');
  const config = { ...DEFAULT_TRAIN_CONFIG, lr: SETTINGS.lr, schedule: 'constant' as const, maxSteps: STEPS, seed: SETTINGS.seed, outDir };
  await new Trainer(peft, 'default', batches, null, config, { onStep: (r) => losses.push(r.loss) }).run();
  const engine = new GenerationEngine(base, runtime, { tokenizer, maxBatch: 1 });
  engine.loadAdapter('trained', outDir);
  const result = await engine.submit({ promptIds: tokenizer.encode(PROMPT), adapter: 'trained', maxTokens: NEW_TOKENS, sampling: { temperature: 0 } }).result;
  await engine.close();
  return { losses, adapterDir: outDir, tokens: result.tokens };
}

async function openStudio(): Promise<Page> {
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready=true]');
  return page;
}

async function fill(page: Page, values: Record<string, number>): Promise<void> {
  const ids: Record<string, string> = { groupSize: 'group-size', lr: 'lr', steps: 'steps', batchSize: 'batch-size', maxLength: 'max-length', seed: 'seed' };
  for (const [key, value] of Object.entries(values)) await page.fill(`#${ids[key]}`, String(value));
}

async function loadShipped(page: Page): Promise<void> {
  await page.check('input[name=model][value=shipped]');
  await page.click('#load-model');
  await page.waitForSelector('#model-status[data-state=ready]');
}

const losses = async (page: Page) => JSON.parse((await page.textContent('#losses')) ?? '[]') as number[];

function assertLossesClose(actual: readonly number[], expected: readonly number[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((l, i) => assert.ok(Math.abs(l - expected[i]) <= 2e-5 * Math.abs(expected[i]), `step ${i + 1}: page ${l}, Node ${expected[i]}`));
}

test('the page trains the shipped model to Node\'s losses across a tab closed mid-training, chats with Node\'s greedy tokens, and downloads a PEFT adapter that loads on Node', async () => {
  const first = await openStudio();
  assert.equal(await first.evaluate(() => crossOriginIsolated), true, 'the studio server must make the page cross-origin isolated (threads)');
  await loadShipped(first);
  await fill(first, SETTINGS);
  await first.setInputFiles('#data-file', dataFile);
  await first.waitForSelector('#data-status[data-state=ready]');
  await first.click('#train');
  await first.waitForFunction(() => JSON.parse(document.getElementById('losses')!.textContent ?? '[]').length >= 2, undefined, { timeout: 60_000 });
  await first.close({ runBeforeUnload: false });

  // a new tab finds the stored checkpoint and resumes it; the whole run reaches Node's losses
  const page = await openStudio();
  await page.waitForSelector('#resume:not([hidden])');
  const stored = Number(await page.getAttribute('#resume', 'data-step'));
  assert.ok(stored >= 2 && stored < STEPS, `stored step ${stored}`);
  await page.click('#resume');
  await page.waitForSelector('#train-status[data-state=done]', { timeout: 60_000 });
  assertLossesClose(await losses(page), reference.losses);
  assert.ok(Number(await page.getAttribute('#tps', 'data-mean')) > 0);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'studio-after-training.png'), fullPage: true });

  await page.fill('#prompt', PROMPT);
  await page.fill('#max-tokens', String(NEW_TOKENS));
  await page.click('#send');
  await page.waitForSelector('#chat-status[data-state=done]');
  assert.deepEqual(JSON.parse((await page.textContent('#chat-tokens')) ?? '[]'), reference.tokens);
  assert.ok(((await page.textContent('#chat-output')) ?? '').length > 0, 'the reply streams into the chat box');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const zip = readFileSync(await download.path());
  const files = unzipSync(new Uint8Array(zip));
  const dir = join(scratch, 'downloaded');
  mkdirSync(join(dir, 'roadster-adapter'), { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  const adapterDir = join(dir, 'roadster-adapter');
  assert.deepEqual(Object.keys(files).sort(), ['roadster-adapter/adapter_config.json', 'roadster-adapter/adapter_model.safetensors']);
  assert.equal(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'), readFileSync(join(reference.adapterDir, 'adapter_config.json'), 'utf8'));

  // on Node: the downloaded adapter loads, saves back byte for byte, and gives the Node-trained adapter's logits
  // to float32 round-off (the two were trained on different ONNX Runtime builds)
  const base = await CausalLM.fromFolder(MODEL_DIR);
  const fromPage = PeftModel.fromPretrained(base, runtime, adapterDir);
  fromPage.saveAdapter(join(dir, 'resaved'));
  assert.deepEqual(readFileSync(join(dir, 'resaved', 'adapter_model.safetensors')), readFileSync(join(adapterDir, 'adapter_model.safetensors')));
  const fromNode = PeftModel.fromPretrained(base, runtime, reference.adapterDir);
  const ids = [[0, 57, 1022, 300, 44, 8, 917, 12]];
  const batch = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)) };
  const [a, b] = [(await fromPage.forward(batch)).logits.data, (await fromNode.forward(batch)).logits.data];
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(Number(a[i]) - Number(b[i])));
  assert.ok(worst < 1e-3, `logits of the downloaded adapter differ from Node's by ${worst}`);
  await page.close();
});

test('bad input: not a model, a model too large for the tab, JSONL lines reported by number', async () => {
  const page = await openStudio();
  const folder = (name: string, files: Record<string, string | Uint8Array>) => {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
    return dir;
  };
  const pickFolder = async (dir: string) => {
    await page.setInputFiles('#model-folder', dir);
    await page.click('#load-model');
    await page.waitForSelector('#model-status[data-state=error]');
    return (await page.textContent('#model-status')) ?? '';
  };
  const config = readFileSync(join(MODEL_DIR, 'config.json'), 'utf8');
  assert.match(await pickFolder(folder('notes', { 'notes.txt': 'hello' })), /E_NOT_FOUND.*no config\.json.*not a Hugging Face model folder/);
  assert.match(await pickFolder(folder('broken', { 'config.json': config, 'model.safetensors': 'this is not a safetensors file at all' })), /E_SAFETENSORS/);
  const huge = { ...JSON.parse(config), hidden_size: 8192, intermediate_size: 28672, num_hidden_layers: 80, num_attention_heads: 64, num_key_value_heads: 8, head_dim: 128, vocab_size: 128256 };
  const tooLarge = await pickFolder(folder('huge', { 'config.json': JSON.stringify(huge), 'model.safetensors': 'x' }));
  assert.match(tooLarge, /E_TOO_LARGE.*\d+ M parameters.*at most 1\.00 GiB/);

  await loadShipped(page);
  const bad = join(scratch, 'bad.jsonl');
  writeFileSync(bad, [JSON.stringify({ text: 'fine' }), '{"text": "unterminated', JSON.stringify({ text: 'also fine' }), JSON.stringify({ prompt: 'p', completion: 'c' }), '[1, 2]'].join('\n'));
  await page.setInputFiles('#data-file', bad);
  await page.waitForSelector('#data-status[data-state=error]');
  const listed = await page.$$eval('#bad-lines li', (items) => items.map((li) => li.textContent ?? ''));
  assert.deepEqual(listed.map((l) => l.split(':')[0]), ['line 2', 'line 4', 'line 5']);
  assert.match(listed[0], /not valid JSON/);
  assert.equal(await page.isDisabled('#train'), true, 'bad lines block training until the user chooses to skip them');
  await page.check('#skip-bad');
  assert.equal(await page.isDisabled('#train'), false);
  await page.close();
});
