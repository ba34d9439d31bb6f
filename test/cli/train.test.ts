// `roadster train` in process through `runCli`, on tiny-llama with a byte-level tokenizer (test/fixtures/
// tokenizers/bytes): runs on text, prompt/completion and text/label JSONL with their reports, metrics, loss
// curve and a loadable adapter; text/label JSONL with a classification head (--label-mode classify) and its
// PEFT folder, resumed bit for bit; the same run from a YAML config; resume after losing the last checkpoint;
// LoRA; and bad inputs, each refused before anything is written to --out.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import type { TrainCommandReport } from '../../src/cli/commands/train.ts';
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from '../../src/models/auto.ts';
import { openSafetensors } from '../../src/io/safetensors/index.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { classifySequences } from '../../src/models/sequence-classification.ts';
import { relativeError } from '../support/all-close.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { writeTinyTextModel } from '../support/model-folders.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'roadster-cli-train-'));
const runtime = new Runtime({ threads: 1 });
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});
const ENV = { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'hub-cache'), HF_TOKEN: '' };

const MODEL = writeTinyTextModel(join(scratch, 'model')); // tiny-llama with the byte-level tokenizer

function jsonl(name: string, records: readonly unknown[], extra = ''): string {
  const file = join(scratch, name);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n' + extra);
  return file;
}

const animals = ['fox', 'dog', 'cat', 'owl', 'elk', 'bee', 'ant', 'yak', 'emu', 'gnu', 'eel', 'hen'];
const TEXT = jsonl('text.jsonl', animals.map((a, i) => ({ text: `The ${a} number ${i} jumps over the lazy dog.` })));
const PC = jsonl('pc.jsonl', animals.map((a) => ({ prompt: `Q: name the ${a}.\nA:`, completion: ` the ${a}` })));
const PC_EVAL = jsonl('pc-eval.jsonl', animals.slice(0, 3).map((a) => ({ prompt: `Q: which ${a}?\nA:`, completion: ` ${a}` })));
const CLS = jsonl('cls.jsonl', animals.map((a, i) => ({ text: `a ${a}`, label: i % 2 === 0 ? 'yes' : 'no' })));
// one-character label words: the byte-level tokenizer keeps each character whole
const CLS_LETTERS = jsonl('cls-letters.jsonl', animals.map((a, i) => ({ text: `a ${a}`, label: i % 2 === 0 ? 'y' : 'n' })));
const CLS_ONE_CLASS = jsonl('cls-one.jsonl', animals.slice(0, 3).map((a) => ({ text: `the ${a}`, label: 'yes' })));

/** `roadster train` with captured output; stderr is a terminal when `tty`. */
const train = (args: readonly string[], tty = false) => runCliCaptured(['train', ...args], ENV, { tty });

/** Flags of a small, fast RoAd run. */
const SMALL = ['--model', MODEL, '--group-size', '8', '--batch-size', '4', '--lr', '1e-2', '--threads', '1'];

async function trainJson(args: readonly string[]): Promise<TrainCommandReport> {
  const r = await train([...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TrainCommandReport;
}

function metrics(out: string): { type: string; step: number; loss: number }[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/**
 * A run of 4 steps saved every 2, killed after step 2: the last checkpoint and the final adapter are lost;
 * `--resume` must give the same report numbers and the same adapter bytes as the uninterrupted `whole`.
 */
async function assertResumesFromStep2(out: string, args: readonly string[], whole: TrainCommandReport): Promise<void> {
  const adapter = readFileSync(join(out, 'adapter_model.safetensors'));
  rmSync(join(out, 'adapter_model.safetensors'));
  rmSync(join(out, 'checkpoints', 'step-00000004'), { recursive: true });
  const resumed = await trainJson([...args, '--resume']);
  assert.equal(resumed.resumedFrom, 2);
  assert.deepEqual(numbers(resumed), numbers(whole));
  assert.deepEqual(readFileSync(join(out, 'adapter_model.safetensors')), adapter);
}

async function loadAdapter(dir: string): Promise<PeftModel> {
  const base = await AutoModelForCausalLM.fromPretrained(MODEL);
  return PeftModel.fromPretrained(base, runtime, dir);
}

/** Numbers of a report that do not depend on timing. */
function numbers(r: TrainCommandReport) {
  const { trainableParameters, totalParameters, steps, tokens, finalTrainLoss, finalEvalLoss, evalAccuracy } = r;
  return { trainableParameters, totalParameters, steps, tokens, finalTrainLoss, finalEvalLoss, evalAccuracy, data: r.data.train.examples };
}

describe('roadster train', () => {
  test('text JSONL with --json: report, metrics.jsonl, loss curve, a loadable adapter, the token cache', async () => {
    const out = join(scratch, 'text');
    const r = await trainJson([...SMALL, '--data', TEXT, '--out', out, '--max-steps', '5', '--eval-split', '0.25', '--eval-every', '2']);
    assert.equal(r.steps, 5);
    assert.ok(r.tokens > 0 && r.tokensPerSecond > 0 && r.timeSeconds > 0);
    assert.equal(r.trainableParameters, 2 * 2 * 32 + 2 * 2 * 16); // road_1: θ, α of d/2 per q_proj (64) and v_proj (32), 2 layers
    assert.ok(r.trainablePercent > 0 && r.trainablePercent < 1);
    assert.ok(Number.isFinite(r.finalTrainLoss) && Number.isFinite(r.finalEvalLoss));
    assert.equal(r.evalAccuracy, null);
    assert.equal(r.resumedFrom, null);
    assert.deepEqual(r.method, { method: 'road', variant: 'road_1', groupSize: 8, pairs: null, complementNoise: null });
    assert.equal(r.data.train.format, 'text');
    assert.equal(r.data.train.examples, 12);
    assert.equal(r.data.evalSource, 'split');
    assert.deepEqual([r.data.trainExamples, r.data.evalExamples], [9, 3]);
    assert.equal(r.data.train.cache, 'miss');

    const lines = metrics(out);
    assert.deepEqual(lines.filter((m) => m.type === 'step').map((m) => m.step), [1, 2, 3, 4, 5]);
    assert.deepEqual(lines.filter((m) => m.type === 'eval').map((m) => m.step), [2, 4, 5]);
    assert.equal(lines.filter((m) => m.type === 'step').at(-1)!.loss, r.finalTrainLoss);
    assert.match(readFileSync(join(out, 'loss-curve.svg'), 'utf8'), /^<svg[\s\S]*<\/svg>\s*$/);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).steps, 5);
    assert.equal(readdirSync(join(out, '.cache')).filter((f) => f.startsWith('tokens-')).length, 1);

    const peft = await loadAdapter(out);
    assert.equal(peft.trainableParameters().trainable, r.trainableParameters);
    assert.equal(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')).peft_type, 'ROAD');
  });

  test('prompt/completion JSONL with --eval-data; plain progress lines on stderr; the text report', async () => {
    const out = join(scratch, 'pc');
    const r = await train([...SMALL, '--data', PC, '--eval-data', PC_EVAL, '--out', out, '--epochs', '2', '--log-every', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^step 2\/6 epoch 0 loss \d+\.\d{4} lr \S+ grad-norm \S+ \d+ tokens\/s eta \S+$/m);
    assert.match(r.stderr, /^step 6\/6 /m);
    assert.match(r.stderr, /^eval step 6: loss \d+\.\d{4} \(3 examples, \d+ tokens\)$/m);
    assert.match(r.stdout, /^steps\s+6$/m);
    assert.match(r.stdout, /^trainable parameters\s+192 of /m);
    assert.match(r.stdout, /^final eval loss\s+\d+\.\d{4}$/m);
    assert.match(r.stdout, /^train data\s+.*pc\.jsonl: 12 prompt-completion examples, 0 truncated, 0 bad lines skipped$/m);
    assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
  });

  test('text/label JSONL in generate mode reports the eval accuracy; a terminal gets a progress bar', async () => {
    const out = join(scratch, 'cls');
    const r = await train([...SMALL, '--data', CLS, '--out', out, '--max-steps', '3', '--eval-split', '0.5', '--json'], true);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as TrainCommandReport;
    assert.equal(report.data.train.format, 'classification');
    assert.ok(report.evalAccuracy !== null && report.evalAccuracy >= 0 && report.evalAccuracy <= 1);
    assert.match(r.stderr, /step 3\/3 \[.*\] loss \d+\.\d{4} \| \d+ tokens\/s \| ETA/);
    assert.match(r.stderr, /eval step 3: loss .*, accuracy \d+\.\d%/);
  });

  test('text/label JSONL with --label-mode classify trains a head: accuracy, a PEFT SEQ_CLS folder with the head, bit-exact resume', async () => {
    const out = join(scratch, 'classify');
    const args = [...SMALL, '--label-mode', 'classify', '--data', CLS, '--out', out, '--max-steps', '4', '--save-every', '2', '--eval-split', '0.25', '--eval-every', '2'];
    const r = await trainJson(args);
    assert.equal(r.task, 'SEQ_CLS');
    assert.deepEqual(r.classes, ['no', 'yes']);
    assert.equal(r.trainableParameters, 2 * 2 * 32 + 2 * 2 * 16 + 2 * 64, 'road_1 on q_proj/v_proj plus the head [2, 64]');
    assert.ok(r.evalAccuracy !== null && r.evalAccuracy >= 0 && r.evalAccuracy <= 1);
    assert.ok(Number.isFinite(r.finalTrainLoss) && Number.isFinite(r.finalEvalLoss));
    const evals = metrics(out).filter((m) => m.type === 'eval') as unknown as { step: number; accuracy: number; examples: number; tokens: number }[];
    assert.deepEqual(evals.map((e) => e.step), [2, 4]);
    assert.ok(evals.every((e) => e.examples === 3 && e.tokens === 3 && typeof e.accuracy === 'number'));
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    assert.equal(config.task_type, 'SEQ_CLS');
    assert.deepEqual(config.modules_to_save, ['classifier', 'score']);
    const reader = openSafetensors(join(out, 'adapter_model.safetensors'));
    try {
      assert.deepEqual(reader.info('base_model.model.score.weight').shape, [2, 64]);
    } finally {
      reader.close();
    }
    const base = await AutoModelForSequenceClassification.fromPretrained(MODEL, { id2label: r.classes! });
    const peft = PeftModel.fromPretrained(base, runtime, out);
    assert.equal(peft.trainableParameters().trainable, r.trainableParameters);
    const { logits } = await peft.forward({ inputIds: [[1, 2, 3]] });
    assert.deepEqual(logits.shape, [1, 2]);

    // Lose the last checkpoint and the final adapter: resuming from step 2 gives the same head and adapter bytes.
    await assertResumesFromStep2(out, args, r);

    // roadster merge writes a LlamaForSequenceClassification folder with the head the adapter trained.
    const merged = join(scratch, 'classify-merged');
    const { code } = await runCliCaptured(['merge', '--model', MODEL, '--adapter', out, '--out', merged, '--label-names', 'no,yes'], ENV);
    assert.equal(code, 0);
    const mergedConfig = JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8'));
    assert.deepEqual([mergedConfig.architectures, mergedConfig.id2label, mergedConfig.num_labels], [['LlamaForSequenceClassification'], { 0: 'no', 1: 'yes' }, 2]);
    const reloaded = await AutoModelForSequenceClassification.fromPretrained(merged);
    const fromMerged = (await classifySequences(reloaded, runtime, { inputIds: [[1, 2, 3]] })).logits.data as Float32Array;
    assert.ok(relativeError(fromMerged, logits.data as Float32Array) < 1e-5, 'the merged classifier gives the adapter\'s class logits');
  });

  test('--label-mode words classifies by the language model\'s label tokens: accuracy, a plain CAUSAL_LM adapter, bit-exact resume', async () => {
    const out = join(scratch, 'words');
    const args = [...SMALL, '--label-mode', 'words', '--prompt-separator', '\nLabel: ', '--data', CLS_LETTERS, '--eval-data', CLS_LETTERS, '--out', out, '--max-steps', '4', '--save-every', '2', '--eval-every', '2'];
    const r = await trainJson(args);
    assert.equal(r.task, 'CAUSAL_LM');
    assert.deepEqual(r.classes, ['n', 'y']);
    const tokenizer = await Tokenizer.fromFolder(MODEL);
    const tokens = ['n', 'y'].map((w) => tokenizer.encode(w, { addSpecialTokens: false })[0]);
    assert.deepEqual(r.labelTokens, tokens);
    assert.equal(r.trainableParameters, 2 * 2 * 32 + 2 * 2 * 16, 'road_1 on q_proj/v_proj, nothing else');
    assert.ok(r.evalAccuracy !== null && r.evalAccuracy >= 0 && r.evalAccuracy <= 1);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    assert.equal(config.task_type, 'CAUSAL_LM');
    assert.ok(config.modules_to_save === null || config.modules_to_save === undefined, 'nothing in modules_to_save');
    // the adapter runs on the plain causal LM, and the reported accuracy is the arg-max over the label tokens' logits there
    const peft = PeftModel.fromPretrained(await AutoModelForCausalLM.fromPretrained(MODEL), runtime, out);
    let correct = 0;
    for (const [i, a] of animals.entries()) {
      const prompt = [...tokenizer.encode(`a ${a}`), ...tokenizer.encode('\nLabel: ', { addSpecialTokens: false })];
      const { logits } = await peft.forward({ inputIds: [prompt] });
      const v = logits.shape[2];
      const last = (logits.data as Float32Array).subarray((prompt.length - 1) * v, prompt.length * v);
      const predicted = last[tokens[1]] > last[tokens[0]] ? 'y' : 'n';
      if (predicted === (i % 2 === 0 ? 'y' : 'n')) correct++;
    }
    assert.equal(r.evalAccuracy, correct / animals.length);
    await assertResumesFromStep2(out, args, r);
  });

  test('the same run from a YAML config file (camelCase and kebab-case keys) gives the same numbers; flags override the file', async () => {
    const flags = await trainJson([...SMALL, '--data', TEXT, '--out', join(scratch, 'flags'), '--max-steps', '4', '--warmup-steps', '1',
      '--schedule', 'cosine', '--seed', '3', '--pack', '--max-length', '64', '--eval-split', '0.2']);
    const yaml = join(scratch, 'run.yaml');
    writeFileSync(yaml, [
      `model: ${MODEL}`,
      `data: ${TEXT}`,
      `out: ${join(scratch, 'yaml')}`,
      'method: road',
      'group-size: 8',
      'batchSize: 4',
      'lr: 0.5 # overridden on the command line',
      'epochs: 3 # dropped: the command line gives max-steps',
      'warmup-steps: 1',
      'schedule: cosine',
      'seed: 3',
      'pack: true',
      'maxLength: 64',
      'eval-split: 0.2',
      'threads: 1',
      'json: true',
    ].join('\n'));
    const r = await train(['--config', yaml, '--lr', '1e-2', '--max-steps', '4']);
    assert.equal(r.code, 0, r.stderr);
    const fromFile = JSON.parse(r.stdout) as TrainCommandReport;
    assert.deepEqual(numbers(fromFile), numbers(flags));
    assert.deepEqual(readFileSync(join(scratch, 'yaml', 'adapter_model.safetensors')), readFileSync(join(scratch, 'flags', 'adapter_model.safetensors')));

    const json = join(scratch, 'run.json');
    writeFileSync(json, JSON.stringify({ model: MODEL, data: TEXT, out: join(scratch, 'json'), groupSize: 8, batchSize: 4, lr: 1e-2, maxSteps: 4,
      warmupSteps: 1, schedule: 'cosine', seed: 3, pack: true, maxLength: 64, evalSplit: 0.2, threads: 1 }));
    assert.deepEqual(numbers(await trainJson(['--config', json])), numbers(flags));
  });

  test('--resume after losing the last checkpoint and the final adapter gives the same adapter bytes', async () => {
    const out = join(scratch, 'resume');
    const args = [...SMALL, '--data', TEXT, '--out', out, '--max-steps', '4', '--save-every', '2'];
    const whole = await trainJson(args);
    const adapter = readFileSync(join(out, 'adapter_model.safetensors'));
    assert.deepEqual(readdirSync(join(out, 'checkpoints')).sort(), ['step-00000002', 'step-00000004']);
    rmSync(join(out, 'adapter_model.safetensors'));
    rmSync(join(out, 'adapter_config.json'));
    rmSync(join(out, 'checkpoints', 'step-00000004'), { recursive: true });

    const again = await train(args);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /error \[E_USAGE\]: --out .* already holds a run \(metrics\.jsonl, report\.json, loss-curve\.svg, checkpoints\); pass --resume/);

    const changed = await train([...args, '--resume', '--lr', '2e-2']);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /error \[E_CHECKPOINT\]: .*step-00000002 was made with other settings or data/);

    const resumed = await trainJson([...args, '--resume']);
    assert.equal(resumed.resumedFrom, 2);
    assert.equal(resumed.data.train.cache, 'hit');
    assert.deepEqual(numbers(resumed), numbers(whole));
    assert.deepEqual(readFileSync(join(out, 'adapter_model.safetensors')), adapter);
    assert.deepEqual(metrics(out).filter((m) => m.type === 'step').map((m) => m.step), [1, 2, 3, 4]);
  });

  test('--quantize int8 trains on int8 frozen weights: reported, close to float32, and part of what --resume checks', async () => {
    const out = join(scratch, 'int8');
    const args = [...SMALL, '--data', TEXT, '--out', out, '--max-steps', '4', '--save-every', '2'];
    const q = await trainJson([...args, '--quantize', 'int8']);
    assert.equal(q.quantize, 'int8');
    const f = await trainJson([...SMALL, '--data', TEXT, '--out', join(scratch, 'int8-float'), '--max-steps', '4']);
    assert.equal(f.quantize, 'none');
    assert.notEqual(q.finalTrainLoss, f.finalTrainLoss);
    assert.ok(Math.abs(q.finalTrainLoss! - f.finalTrainLoss!) < 0.05 * f.finalTrainLoss!, `${q.finalTrainLoss} vs ${f.finalTrainLoss}`);
    rmSync(join(out, 'checkpoints', 'step-00000004'), { recursive: true });
    const changed = await train([...args, '--resume']);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /error \[E_CHECKPOINT\]: .*step-00000002 was made with other settings or data/);
    // the checkpoint records the int8 numerics' version, so one made by another version is refused too
    assert.match(changed.stderr, /"quantize":"int8","quantizeScheme":3/);
    const resumed = await trainJson([...args, '--resume', '--quantize', 'int8']);
    assert.equal(resumed.resumedFrom, 2);
    assert.deepEqual(numbers(resumed), numbers(q));
  });

  test('--method lora trains a LoRA adapter', async () => {
    const out = join(scratch, 'lora');
    const r = await trainJson(['--model', MODEL, '--method', 'lora', '--rank', '2', '--lora-alpha', '4', '--target-modules', 'q_proj,k_proj',
      '--batch-size', '4', '--threads', '1', '--data', PC, '--out', out, '--max-steps', '3']);
    assert.deepEqual(r.method, { method: 'lora', rank: 2, loraAlpha: 4, loraDropout: 0 });
    assert.equal(r.trainableParameters, 2 * (2 * 64 + 2 * 64 + 2 * 64 + 2 * 32)); // A [r, 64] and B [out, r] of q_proj (64) and k_proj (32)
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    assert.deepEqual([config.peft_type, config.r, config.lora_alpha, [...config.target_modules].sort()], ['LORA', 2, 4, ['k_proj', 'q_proj']]);
    assert.equal((await loadAdapter(out)).trainableParameters().trainable, r.trainableParameters);
  });

  test('--lora-dropout trains with PEFT\'s dropout: saved in the config, changes the losses, resumes bit for bit', async () => {
    const out = join(scratch, 'lora-dropout');
    const lora = ['--model', MODEL, '--method', 'lora', '--rank', '2', '--lora-alpha', '4', '--batch-size', '2', '--grad-accum', '2', '--threads', '1', '--data', PC];
    const args = [...lora, '--out', out, '--max-steps', '4', '--save-every', '2', '--lora-dropout', '0.2'];
    const whole = await trainJson(args);
    assert.deepEqual(whole.method, { method: 'lora', rank: 2, loraAlpha: 4, loraDropout: 0.2 });
    assert.equal(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')).lora_dropout, 0.2);
    const plain = await trainJson([...lora, '--out', join(scratch, 'lora-no-dropout'), '--max-steps', '4']);
    assert.notDeepEqual(metrics(out).map((m) => m.loss), metrics(join(scratch, 'lora-no-dropout')).map((m) => m.loss));
    assert.notEqual(whole.finalTrainLoss, plain.finalTrainLoss);
    // kill after step 2: the resumed run draws the same masks
    await assertResumesFromStep2(out, args, whole);
  });

  test('--road-pairs with --complement-noise: reported, the identity outside the pairs, changes the losses, resumes bit for bit', async () => {
    const out = join(scratch, 'complement-noise');
    const road = [...SMALL, '--variant', 'road_4', '--data', PC, '--road-pairs', '0/2', '--max-steps', '4', '--save-every', '2', '--eval-split', '0.25', '--eval-every', '2'];
    const whole = await trainJson([...road, '--out', out, '--complement-noise', '0.3,0.1']);
    assert.deepEqual(whole.method, { method: 'road', variant: 'road_4', groupSize: 8, pairs: '0/2', complementNoise: { theta: 0.3, alpha: 0.1 } });
    const plain = await trainJson([...road, '--out', join(scratch, 'no-complement-noise')]);
    assert.notDeepEqual(metrics(out).map((m) => m.loss), metrics(join(scratch, 'no-complement-noise')).map((m) => m.loss));
    assert.ok(Number.isFinite(whole.finalEvalLoss), 'evaluation works alongside the noise');
    const { inspectAdapter } = await import('../../src/adapters/inspect.ts');
    assert.equal(inspectAdapter(out, await AutoModelForCausalLM.fromPretrained(MODEL)).roadPairs?.share, '0/2', 'the saved adapter is the identity outside its pairs');
    assert.equal(plain.trainableParameters, whole.trainableParameters);
    await assertResumesFromStep2(out, [...road, '--out', out, '--complement-noise', '0.3,0.1'], whole);
  });

  test('conversations through the chat template, with the optimizer and adapter flags', async () => {
    const data = jsonl('messages.jsonl', animals.map((a) => ({ messages: [{ role: 'user', content: `Name a ${a}.` }, { role: 'assistant', content: `A ${a}.` }] })));
    const out = join(scratch, 'messages');
    const r = await trainJson(['--model', MODEL, '--data', data, '--out', out, '--variant', 'road_2', '--group-size', '16', '--target-modules', 'all-linear',
      '--init-weights', 'false', '--grad-accum', '2', '--batch-size', '3', '--max-grad-norm', '0', '--weight-decay', '0.01', '--schedule', 'constant',
      '--keep-checkpoints', '1', '--save-every', '1', '--max-steps', '2', '--threads', '1']);
    assert.equal(r.data.train.format, 'messages');
    assert.equal(r.steps, 2);
    assert.deepEqual(readdirSync(join(out, 'checkpoints')), ['step-00000002']);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    assert.deepEqual([config.variant, config.group_size, config.init_weights, config.target_modules], ['road_2', 16, false, 'all-linear']);
    const steps = metrics(out).filter((m) => m.type === 'step') as unknown as { lr: number; gradNorm: number }[];
    assert.deepEqual(steps.map((s) => s.lr), [1e-3, 1e-3]);
  });

  test('--skip-bad-lines skips and counts bad lines', async () => {
    const data = jsonl('some-bad.jsonl', [{ text: 'a good line' }, { text: 'another good line' }], '{"text": broken\n{"prompt": "p"}\n');
    const r = await trainJson([...SMALL, '--data', data, '--out', join(scratch, 'skip'), '--max-steps', '1', '--skip-bad-lines']);
    assert.equal(r.data.train.examples, 2);
    assert.equal(r.data.train.skippedLines, 2);
    assert.deepEqual(r.data.train.badLines.map((b) => b.line), [3, 4]);
  });

  describe('bad input is refused before anything is written to --out', () => {
    const cases: { name: string; args: (out: string) => string[]; code: number; error: RegExp }[] = [
      {
        name: '--complement-noise without --road-pairs',
        args: (out) => [...SMALL, '--data', PC, '--complement-noise', '0.2', '--out', out],
        code: 2,
        error: /error \[E_USAGE\]: --complement-noise only applies with --road-pairs/,
      },
      {
        name: 'a negative --complement-noise',
        args: (out) => [...SMALL, '--data', PC, '--road-pairs', '0/2', '--complement-noise', '-0.2', '--out', out],
        code: 2,
        error: /error \[E_USAGE\]: --complement-noise "-0.2": expected one standard deviation/,
      },
      {
        name: 'a malformed JSONL line (named file:line)',
        args: (out) => [...SMALL, '--data', jsonl('bad.jsonl', [{ text: 'fine' }], '{"text": "cut\n'), '--out', out],
        code: 1,
        error: /error \[E_DATA\]: .*bad\.jsonl:2: /,
      },
      {
        name: 'a missing field',
        args: (out) => [...SMALL, '--data', jsonl('missing.jsonl', [{ prompt: 'a', completion: 'b' }, { prompt: 'c' }]), '--out', out],
        code: 1,
        error: /error \[E_DATA\]: .*missing\.jsonl:2: field "completion" is missing/,
      },
      {
        name: 'an empty dataset',
        args: (out) => [...SMALL, '--data', jsonl('empty.jsonl', [], '\n  \n'), '--out', out],
        code: 1,
        error: /error \[E_DATA\]: .*empty\.jsonl has no usable example/,
      },
      {
        name: 'a missing data file',
        args: (out) => [...SMALL, '--data', join(scratch, 'nope.jsonl'), '--out', out],
        code: 1,
        error: /error \[E_NOT_FOUND\]: .*nope\.jsonl/,
      },
      {
        name: 'a bad eval file after a good training file',
        args: (out) => [...SMALL, '--data', TEXT, '--eval-data', jsonl('bad-eval.jsonl', [{ text: 'x' }], 'nope\n'), '--out', out],
        code: 1,
        error: /bad-eval\.jsonl:2: /,
      },
      { name: 'an unknown method', args: (out) => [...SMALL, '--method', 'dora', '--data', TEXT, '--out', out], code: 2, error: /--method <method>.*expected one of road, lora, got "dora"/ },
      { name: 'an unknown variant', args: (out) => [...SMALL, '--variant', 'road_3', '--data', TEXT, '--out', out], code: 2, error: /expected one of road_1, road_2, road_4, got "road_3"/ },
      { name: 'an odd group size', args: (out) => ['--model', MODEL, '--group-size', '7', '--data', TEXT, '--out', out], code: 2, error: /--group-size must be even/ },
      { name: 'LoRA flags with RoAd', args: (out) => [...SMALL, '--rank', '4', '--data', TEXT, '--out', out], code: 2, error: /--rank only applies to --method lora/ },
      { name: 'LoRA dropout with RoAd', args: (out) => [...SMALL, '--lora-dropout', '0.1', '--data', TEXT, '--out', out], code: 2, error: /--lora-dropout only applies to --method lora/ },
      { name: 'LoRA dropout of 1', args: (out) => [...SMALL, '--method', 'lora', '--lora-dropout', '1', '--data', TEXT, '--out', out], code: 2, error: /--lora-dropout/ },
      { name: 'both --epochs and --max-steps', args: (out) => [...SMALL, '--epochs', '1', '--max-steps', '2', '--data', TEXT, '--out', out], code: 2, error: /give one of --epochs and --max-steps/ },
      { name: 'a bad number', args: (out) => [...SMALL, '--eval-split', '1.5', '--data', TEXT, '--out', out], code: 2, error: /--eval-split <fraction>.*expected a number >= 0 and < 1, got "1\.5"/ },
      { name: 'label mode classify on records without labels', args: (out) => [...SMALL, '--label-mode', 'classify', '--format', 'classification', '--data', TEXT, '--out', out], code: 1, error: /E_DATA.*text\.jsonl:1: .*label/ },
      { name: 'label mode classify on text records', args: (out) => [...SMALL, '--label-mode', 'classify', '--data', TEXT, '--out', out], code: 1, error: /E_DATA.*--label-mode classify needs text\/label records.*holds text records/ },
      { name: 'label mode classify with --pack', args: (out) => [...SMALL, '--label-mode', 'classify', '--pack', '--data', CLS, '--out', out], code: 2, error: /--pack does not apply to --label-mode classify/ },
      { name: 'label mode classify with an eval file of other classes', args: (out) => [...SMALL, '--label-mode', 'classify', '--data', CLS, '--eval-data', CLS_ONE_CLASS, '--out', out], code: 1, error: /E_DATA.*has the classes \["yes"\] but .* has \["no","yes"\].*--label-names/ },
      { name: 'label mode words with label words of several tokens', args: (out) => [...SMALL, '--label-mode', 'words', '--data', CLS, '--out', out], code: 2, error: /label words need one token per class: " no" is 3 tokens/ },
      { name: 'label mode words with --pack', args: (out) => [...SMALL, '--label-mode', 'words', '--pack', '--data', CLS_LETTERS, '--out', out], code: 2, error: /--pack does not apply to --label-mode words/ },
      { name: 'label mode words on text records', args: (out) => [...SMALL, '--label-mode', 'words', '--data', TEXT, '--out', out], code: 1, error: /E_DATA.*--label-mode words needs text\/label records/ },
      { name: '--resume without a checkpoint', args: (out) => [...SMALL, '--resume', '--data', TEXT, '--out', out], code: 2, error: /--resume: .* has no checkpoint/ },
      { name: 'a missing --out', args: () => [...SMALL, '--data', TEXT], code: 2, error: /--out is required/ },
      { name: 'a max length beyond the model', args: (out) => [...SMALL, '--max-length', '129', '--data', TEXT, '--out', out], code: 2, error: /max_position_embeddings \(128\)/ },
      { name: 'a model folder without tokenizer', args: (out) => ['--model', TINY_LLAMA, '--data', TEXT, '--out', out], code: 1, error: /E_TOKENIZER.*No tokenizer\.json/ },
      { name: 'targets that match nothing', args: (out) => [...SMALL, '--target-modules', 'w_proj', '--data', TEXT, '--out', out], code: 1, error: /E_ADAPTER.*match no linear layer/ },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const out = join(scratch, `refused-${c.name.replace(/\W+/g, '-')}`);
        const r = await train(c.args(out));
        assert.equal(r.code, c.code, r.stderr);
        assert.match(r.stderr, c.error);
        assert.equal(r.stdout, '');
        assert.ok(!existsSync(out), `${out} was created`);
      });
    }

    test('an existing empty --out stays empty', async () => {
      const out = join(scratch, 'existing-empty');
      mkdirSync(out);
      const r = await train([...SMALL, '--data', TEXT, '--eval-data', join(scratch, 'nope.jsonl'), '--out', out]);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(readdirSync(out), []);
    });

    test('an unwritable --out (a path under a file)', async () => {
      const file = join(scratch, 'a-file');
      writeFileSync(file, 'x');
      const r = await train([...SMALL, '--data', TEXT, '--out', join(file, 'run')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /error \[E_USAGE\]: cannot write to .*a-file\/run/);
      assert.equal(readFileSync(file, 'utf8'), 'x');
    });

    test('unknown config-file keys are all named', async () => {
      const out = join(scratch, 'refused-config');
      const yaml = join(scratch, 'unknown.yaml');
      writeFileSync(yaml, `model: ${MODEL}\ndata: ${TEXT}\nlearning-rate: 1e-3\nbatch_size: 4\n`);
      const r = await train(['--config', yaml, '--out', out]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /unknown key\(s\) "learning-rate", "batch_size"; the keys are the flags/);
      assert.ok(!existsSync(out));
    });

    test('a config-file value of the wrong kind, and a key given twice', async () => {
      const yaml = join(scratch, 'wrong.yaml');
      writeFileSync(yaml, `model: ${MODEL}\ndata: ${TEXT}\nlr: fast\nmax-steps: 2\nmaxSteps: 3\npack: yes-please\n`);
      const r = await train(['--config', yaml, '--out', join(scratch, 'refused-wrong')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /"lr" must be a number > 0, found "fast"; "maxSteps" and "max-steps" are the same setting; keep one; "pack" must be true or false/);
    });
  });
});
