// Training a sequence classifier (RoAd adapter + classification head) on a toy task whose class is the last
// token (7 or 8 after a random prefix, rows of several lengths, right-padded): the run learns (eval accuracy far above chance, loss falls), reproduces its losses exactly, and a
// resume from a checkpoint (adapter, head and their AdamW moments) ends with the same adapter bytes.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { withClassificationHead } from '../../src/models/sequence-classification.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import type { BatchSource, TrainBatch } from '../../src/train/batch.ts';
import { loadLatestCheckpoint } from '../../src/train/checkpoint.ts';
import { evaluate } from '../../src/train/evaluate.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, Trainer } from '../../src/train/trainer.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { Rng } from '../support/random.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-classify-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

/** Random ids in [10, 200], then 7 (class 0) or 8 (class 1); 4 to 10 tokens, right-padded with 0. */
function toyBatch(seed: number, rows: number): TrainBatch {
  const rng = new Rng(seed);
  const examples = Array.from({ length: rows }, () => {
    const label = rng.int(0, 1);
    const ids = [...Array.from({ length: rng.int(3, 9) }, () => rng.int(10, 200)), label === 0 ? 7 : 8];
    return { ids, label };
  });
  const t = Math.max(...examples.map((e) => e.ids.length));
  const pad = (r: number[], v: number) => [...r, ...new Array<number>(t - r.length).fill(v)];
  return {
    inputIds: examples.map((e) => pad(e.ids, 0)),
    attentionMask: examples.map((e) => pad(e.ids.map(() => 1), 0)),
    labels: examples.map(() => new Array<number>(t).fill(-100)),
    classLabels: examples.map((e) => e.label),
    tokens: examples.reduce((n, e) => n + e.ids.length, 0),
    lossTokens: 0,
  };
}

function toySource(batches: number, rows: number, seed: number): BatchSource {
  return { size: batches * rows, batchesForEpoch: (epoch) => Array.from({ length: batches }, (_, b) => toyBatch(seed + epoch * 1000 + b, rows)) };
}

const EVAL = toySource(4, 8, 90_000);

async function run(outDir: string, overrides: Partial<TrainConfig> = {}, losses: number[] = []) {
  const base = withClassificationHead(await CausalLM.fromFolder(TINY_LLAMA), { id2label: ['low', 'high'], seed: 0 });
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: 'all-linear', taskType: 'SEQ_CLS' }));
  const trainer = new Trainer(peft, 'default', toySource(4, 6, 1), EVAL, { ...DEFAULT_TRAIN_CONFIG, lr: 1e-2, maxSteps: 16, outDir, ...overrides }, {
    onStep: (r) => losses.push(r.loss),
  });
  return { peft, trainer };
}

test('a seeded classify run learns the toy task and reproduces its losses exactly', async () => {
  const first: number[] = [];
  const second: number[] = [];
  const a = await run(join(scratch, 'a'), {}, first);
  const before = await evaluate(a.peft, EVAL.batchesForEpoch(0));
  const report = await a.trainer.run();
  await (await run(join(scratch, 'b'), {}, second)).trainer.run();
  assert.deepEqual(first, second);
  assert.equal(report.task, 'SEQ_CLS');
  assert.ok(before.accuracy! < 0.75, `before training: accuracy ${before.accuracy} (chance level)`);
  assert.ok(report.evalAccuracy! >= 0.9, `after training: accuracy ${report.evalAccuracy}`);
  const start = (first[0] + first[1]) / 2;
  const end = (first.at(-1)! + first.at(-2)!) / 2;
  assert.ok(end < start * 0.5, `loss fell from ${start} to ${end}`);
  assert.ok(report.finalEvalLoss! < before.loss, `eval loss ${before.loss} -> ${report.finalEvalLoss}`);
  assert.equal(report.trainableParameters, a.peft.trainableParameters().trainable);
});

test('resume from a checkpoint restores the head and its optimizer state: the same adapter bytes', async () => {
  const whole = join(scratch, 'whole');
  await (await run(whole, { maxSteps: 8, saveEvery: 4, keepCheckpoints: 3 })).trainer.run();
  const ckpt = loadLatestCheckpoint(whole)!;
  assert.ok(ckpt.tensors.has('m.base_model.model.score.modules_to_save.default.weight'), 'AdamW moments of the head are checkpointed');

  const cut = join(scratch, 'cut');
  cpSync(whole, cut, { recursive: true });
  rmSync(join(cut, 'adapter_model.safetensors'));
  rmSync(join(cut, 'checkpoints', 'step-00000008'), { recursive: true });
  const resumed = await run(cut, { maxSteps: 8, saveEvery: 4, keepCheckpoints: 3 });
  assert.ok(resumed.trainer.resume());
  const report = await resumed.trainer.run();
  assert.equal(report.resumedFrom, 4);
  assert.deepEqual(readFileSync(join(cut, 'adapter_model.safetensors')), readFileSync(join(whole, 'adapter_model.safetensors')));
});
