// The studio page: pick a model and a JSONL file, fine-tune RoAd in this tab with a live loss curve, stop and
// resume (the last checkpoint lives in IndexedDB), chat with the adapter, download it as a PEFT folder (zip).
// Page state is mirrored into data-state attributes and hidden JSON blocks, which the end-to-end test reads.

import {
  Chat,
  type LoadedModel,
  type ModelFiles,
  RoadsterError,
  type StoredRun,
  type StudioSettings,
  type TextDataset,
  TrainSession,
  WebRuntime,
  clearCheckpoint,
  datasetFromJsonl,
  loadCheckpoint,
  loadModelFiles,
  saveCheckpoint,
  zipAdapterFolder,
} from '../index.ts';
import { sha256Hasher } from '../../runtime/sha256.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const SHIPPED_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

const threads = crossOriginIsolated ? 2 : 1;
const runtime = new WebRuntime({ threads, wasmPaths: new URL('./ort/', location.href).href, contribOps: true });
$('threads').textContent = `WebAssembly threads: ${threads}${crossOriginIsolated ? '' : ' (the page is not cross-origin isolated)'}.`;

let loaded: (LoadedModel & { id: string }) | null = null;
let data: (TextDataset & { name: string; text: string; id: string }) | null = null;
let session: TrainSession | null = null;
let chat: Chat | null = null;
let stopRequested = false;
let training = false;

function setStatus(id: string, state: string, text: string): void {
  const el = $(id);
  el.dataset.state = state;
  el.textContent = text;
}

const describe = (e: unknown) => (e instanceof RoadsterError ? `error [${e.code}]: ${e.message}` : `error: ${(e as Error).message ?? e}`);

function settings(): StudioSettings {
  const num = (id: string) => Number(($(id) as HTMLInputElement).value);
  const targets = ($('targets') as HTMLInputElement).value.trim();
  return {
    variant: ($('variant') as HTMLSelectElement).value as StudioSettings['variant'],
    groupSize: num('group-size'),
    targetModules: targets === 'all-linear' ? 'all-linear' : targets.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    lr: num('lr'),
    steps: num('steps'),
    batchSize: num('batch-size'),
    maxLength: num('max-length'),
    seed: num('seed'),
    schedule: 'constant',
    warmupSteps: 0,
  };
}

function showSettings(s: StudioSettings): void {
  const set = (id: string, v: string | number) => (($(id) as HTMLInputElement).value = String(v));
  set('variant', s.variant);
  set('group-size', s.groupSize);
  set('targets', typeof s.targetModules === 'string' ? s.targetModules : s.targetModules.join(','));
  set('lr', s.lr);
  set('steps', s.steps);
  set('batch-size', s.batchSize);
  set('max-length', s.maxLength);
  set('seed', s.seed);
}

function hashText(parts: (string | Uint8Array)[]): string {
  const h = sha256Hasher();
  for (const p of parts) h.update(p);
  return h.digest().slice(0, 16);
}

async function loadModel(choice: string, files: ModelFiles, source: string): Promise<void> {
  setStatus('model-status', 'loading', `loading ${source} ...`);
  loaded = null;
  chat = null;
  updateButtons();
  const model = await loadModelFiles(files, { source });
  const sizes = [...files.entries()].map(([n, f]) => `${n}:${f instanceof Blob ? f.size : f.byteLength}`);
  loaded = { ...model, id: `${choice}:${hashText(sizes)}` };
  const c = model.model.config;
  setStatus('model-status', 'ready', `${source}: ${(model.parameters / 1e6).toFixed(2)} M parameters, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, vocabulary ${c.vocabSize}`);
  if (data !== null) parseData(data.name, data.text);
  updateButtons();
}

async function shippedFiles(): Promise<Map<string, Blob>> {
  const files = new Map<string, Blob>();
  for (const name of SHIPPED_FILES) {
    const res = await fetch(`./models/roadster-base/${name}`);
    if (!res.ok) throw new RoadsterError('E_NOT_FOUND', `the shipped model's ${name} could not be fetched (HTTP ${res.status})`);
    files.set(name, await res.blob());
  }
  return files;
}

function folderFiles(): { files: Map<string, File>; name: string } {
  const list = [...(($('model-folder') as HTMLInputElement).files ?? [])];
  if (list.length === 0) throw new RoadsterError('E_USAGE', 'pick a local folder first (the folder of config.json, model.safetensors and tokenizer.json)');
  const files = new Map<string, File>();
  for (const f of list) {
    const parts = (f.webkitRelativePath || f.name).split('/');
    // files of the folder itself (sub-folders are not part of a model folder)
    if (parts.length <= 2) files.set(parts[parts.length - 1], f);
  }
  const name = (list[0].webkitRelativePath || list[0].name).split('/')[0] || 'the chosen folder';
  return { files, name };
}

function parseData(name: string, text: string): void {
  if (loaded === null) {
    data = { name, text, id: hashText([text]), dataset: null, format: null, badLines: [], lines: 0, truncated: 0 };
    setStatus('data-status', 'waiting', `${name}: load a model to tokenize it`);
    updateButtons();
    return;
  }
  const parsed = datasetFromJsonl(text, { tokenizer: loaded.tokenizer, maxLength: settings().maxLength, source: name });
  data = { ...parsed, name, text, id: hashText([text]) };
  const list = $('bad-lines');
  list.replaceChildren(...parsed.badLines.map((b) => Object.assign(document.createElement('li'), { textContent: `line ${b.line}: ${b.reason}` })));
  const examples = parsed.dataset?.size ?? 0;
  if (parsed.badLines.length > 0) {
    setStatus('data-status', 'error', `${name}: ${parsed.badLines.length} bad line(s) of ${parsed.lines} (listed below); ${examples} usable example(s)` +
      (examples > 0 ? '. Fix the file, or tick "train on the good lines".' : '.'));
  } else if (examples === 0) {
    setStatus('data-status', 'error', `${name} has no records`);
  } else {
    setStatus('data-status', 'ready', `${name}: ${examples} examples (${parsed.format}), ${parsed.dataset!.tokens} tokens, ${parsed.truncated} truncated`);
  }
  updateButtons();
}

function dataUsable(): boolean {
  return data?.dataset != null && (data.badLines.length === 0 || ($('skip-bad') as HTMLInputElement).checked);
}

function updateButtons(): void {
  ($('train') as HTMLButtonElement).disabled = training || loaded === null || !dataUsable();
  ($('stop') as HTMLButtonElement).disabled = !training;
  ($('send') as HTMLButtonElement).disabled = training || loaded === null;
  ($('download') as HTMLButtonElement).disabled = training || session === null;
}

function drawCurve(): void {
  const svg = $('curve');
  const history = session?.history ?? [];
  $('losses').textContent = JSON.stringify(history.map((s) => s.loss));
  if (history.length === 0) return svg.replaceChildren();
  const losses = history.map((s) => s.loss);
  const [lo, hi] = [Math.min(...losses), Math.max(...losses)];
  const total = Math.max(session!.settings.steps, 2);
  const x = (i: number) => 10 + (580 * i) / (total - 1);
  const y = (l: number) => 210 - (200 * (l - lo)) / Math.max(hi - lo, 1e-6);
  const path = losses.map((l, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(l).toFixed(1)}`).join(' ');
  svg.innerHTML = `<path d="${path}" fill="none" stroke="#1565c0" stroke-width="2"/>` +
    `<text x="12" y="16" font-size="12">${hi.toFixed(3)}</text><text x="12" y="206" font-size="12">${lo.toFixed(3)}</text>`;
  const last = history[history.length - 1];
  $('step-label').textContent = `step ${last.step} / ${session!.settings.steps}`;
  $('loss-label').textContent = `loss ${last.loss.toFixed(4)}`;
  $('tps').textContent = `train ${last.tokensPerSecond.toFixed(0)} tokens/s`;
  $('tps').dataset.value = String(last.tokensPerSecond);
}

async function store(): Promise<void> {
  if (session === null || data === null) return;
  const run: StoredRun = {
    checkpoint: session.checkpoint(),
    model: loaded!.id.startsWith('shipped:') ? 'shipped' : session.model.source,
    dataName: data.name,
    dataText: data.text,
    skipBadLines: ($('skip-bad') as HTMLInputElement).checked,
  };
  await saveCheckpoint(run);
}

async function train(resumeFrom: StoredRun | null): Promise<void> {
  if (loaded === null || data?.dataset == null) return;
  training = true;
  stopRequested = false;
  updateButtons();
  try {
    const s = resumeFrom?.checkpoint.settings ?? settings();
    session = new TrainSession(loaded.model, runtime, loaded.tokenizer, data.dataset, s, `${loaded.id}|${data.id}`);
    if (resumeFrom !== null) session.restore(resumeFrom.checkpoint);
    drawCurve();
    setStatus('train-status', 'training', resumeFrom ? `resumed at step ${session.step}; compiling the training graph ...` : 'compiling the training graph ...');
    while (!session.done && !stopRequested) {
      const step = await session.next();
      await store();
      drawCurve();
      setStatus('train-status', 'training', `step ${step.step} of ${s.steps}: loss ${step.loss.toFixed(4)}, ${step.tokensPerSecond.toFixed(0)} tokens/s (checkpoint stored)`);
      await new Promise((r) => setTimeout(r, 0)); // let the page paint and take the Stop click
    }
    // the first step of a page also compiles the training graph: the mean leaves it out when there are others
    const timed = session.history.length > 1 ? session.history.slice(1) : session.history;
    const mean = timed.reduce((a, h) => a + h.tokens, 0) / Math.max(timed.reduce((a, h) => a + h.tokens / h.tokensPerSecond, 0), 1e-9);
    $('tps').dataset.mean = String(mean);
    setStatus('train-status', session.done ? 'done' : 'stopped', session.done
      ? `finished ${session.step} steps: final loss ${session.history.at(-1)!.loss.toFixed(4)}, ${mean.toFixed(0)} tokens/s (mean after the first step)`
      : `stopped after step ${session.step}; the checkpoint is stored in this browser (Resume continues it, also after a reload)`);
    chat = null;
  } catch (e) {
    setStatus('train-status', 'error', describe(e));
  } finally {
    training = false;
    updateButtons();
    await showStoredRun();
  }
}

async function send(): Promise<void> {
  if (loaded === null) return;
  ($('send') as HTMLButtonElement).disabled = true;
  const out = $('chat-output');
  out.textContent = '';
  setStatus('chat-status', 'generating', 'generating ...');
  try {
    if (chat === null) {
      chat = new Chat(loaded.model, runtime, loaded.tokenizer);
      if (session !== null) {
        const entry = session.peft.adapter('default');
        chat.setAdapter(entry.config, entry.params);
      }
    }
    const prompt = ($('prompt') as HTMLTextAreaElement).value;
    const reply = await chat.reply(prompt, {
      maxTokens: Number(($('max-tokens') as HTMLInputElement).value),
      temperature: Number(($('temperature') as HTMLInputElement).value),
      seed: 0,
      onText: (t) => (out.textContent += t),
    });
    $('chat-tokens').textContent = JSON.stringify(reply.tokens);
    $('decode-tps').textContent = `decode ${reply.decodeTokensPerSecond.toFixed(0)} tokens/s`;
    $('decode-tps').dataset.value = String(reply.decodeTokensPerSecond);
    setStatus('chat-status', 'done', `${reply.tokens.length} tokens (${reply.finishReason})${session === null ? ', base model' : ', with the adapter'}`);
  } catch (e) {
    setStatus('chat-status', 'error', describe(e));
  } finally {
    updateButtons();
  }
}

function download(): void {
  if (session === null) return;
  try {
    const zip = zipAdapterFolder('roadster-adapter', session.adapterFiles());
    const url = URL.createObjectURL(new Blob([zip as BlobPart], { type: 'application/zip' }));
    const a = Object.assign(document.createElement('a'), { href: url, download: 'roadster-adapter.zip' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    setStatus('download-status', 'done', `roadster-adapter.zip: adapter_config.json and adapter_model.safetensors (${zip.length} bytes)`);
  } catch (e) {
    setStatus('download-status', 'error', describe(e));
  }
}

async function showStoredRun(): Promise<void> {
  let run: StoredRun | null = null;
  try {
    run = await loadCheckpoint();
  } catch {
    run = null;
  }
  const resume = $('resume') as HTMLButtonElement;
  const forget = $('forget') as HTMLButtonElement;
  const open = run !== null && run.checkpoint.step < run.checkpoint.settings.steps;
  resume.hidden = !open || training;
  forget.hidden = run === null || training;
  resume.dataset.step = run === null ? '' : String(run.checkpoint.step);
  if (open && !training && session === null) {
    setStatus('train-status', 'stored', `a stored run stopped at step ${run!.checkpoint.step} of ${run!.checkpoint.settings.steps} (${run!.dataName}, ` +
      `${run!.model === 'shipped' ? 'the shipped model' : `folder ${run!.model}: pick it again first`}); Resume continues it`);
  }
}

async function resume(): Promise<void> {
  const run = await loadCheckpoint();
  if (run === null) return;
  try {
    showSettings(run.checkpoint.settings);
    ($('skip-bad') as HTMLInputElement).checked = run.skipBadLines;
    if (run.model === 'shipped' && !loaded?.id.startsWith('shipped:')) await loadModel('shipped', await shippedFiles(), 'roadster-base');
    if (loaded === null) throw new RoadsterError('E_USAGE', `load the folder ${run.model} first, then resume`);
    parseData(run.dataName, run.dataText);
    await train(run);
  } catch (e) {
    setStatus('train-status', 'error', describe(e));
  }
}

$('load-model').addEventListener('click', async () => {
  try {
    const choice = (document.querySelector('input[name=model]:checked') as HTMLInputElement).value;
    if (choice === 'shipped') await loadModel('shipped', await shippedFiles(), 'roadster-base');
    else {
      const { files, name } = folderFiles();
      await loadModel('folder', files, name);
    }
  } catch (e) {
    setStatus('model-status', 'error', describe(e));
  }
});
$('model-folder').addEventListener('change', () => ((document.querySelector('input[value=folder]') as HTMLInputElement).checked = true));
$('data-file').addEventListener('change', async () => {
  const file = ($('data-file') as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    parseData(file.name, await file.text());
  } catch (e) {
    setStatus('data-status', 'error', describe(e));
  }
});
$('skip-bad').addEventListener('change', updateButtons);
$('max-length').addEventListener('change', () => data !== null && parseData(data.name, data.text));
$('train').addEventListener('click', () => void train(null));
$('stop').addEventListener('click', () => {
  stopRequested = true;
  setStatus('train-status', 'stopping', 'stopping after this step ...');
});
$('resume').addEventListener('click', () => void resume());
$('forget').addEventListener('click', async () => {
  await clearCheckpoint();
  await showStoredRun();
});
$('send').addEventListener('click', () => void send());
$('download').addEventListener('click', download);
void showStoredRun().then(() => (document.body.dataset.ready = 'true'));
