// The trainer end to end on tiny-llama: determinism, learning a toy task, kill -9 and resume giving the same
// final adapter as an uninterrupted run, the non-finite guard, and atomic checkpoints.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { loadLatestCheckpoint } from '../../src/train/checkpoint.ts';
import { DEFAULT_TRAIN_CONFIG, METRICS_FILE, Trainer, type TrainConfig } from '../../src/train/trainer.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { toyBatches } from './support/toy-task.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-train-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

async function newTrainer(outDir: string, overrides: Partial<TrainConfig> = {}, losses: number[] = []) {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: 'all-linear' }));
  const trainer = new Trainer(peft, 'default', toyBatches(3, 2, 12), null, { ...DEFAULT_TRAIN_CONFIG, lr: 5e-3, maxSteps: 10, outDir, ...overrides }, {
    onStep: (r) => losses.push(r.loss),
  });
  return { trainer, peft, base };
}

test('a seeded run reproduces its first 10 losses exactly, and learns the toy task', async () => {
  const first: number[] = [];
  const second: number[] = [];
  await (await newTrainer(join(scratch, 'a'), { maxSteps: 30, lr: 2e-2 }, first)).trainer.run();
  await (await newTrainer(join(scratch, 'b'), { maxSteps: 30, lr: 2e-2 }, second)).trainer.run();
  assert.deepEqual(first.slice(0, 10), second.slice(0, 10));
  assert.deepEqual(first, second);
  const start = first[0];
  const end = first.at(-1)!;
  assert.ok(end < start * 0.6, `loss fell from ${start} to ${end}`);
  const report = JSON.parse(readFileSync(join(scratch, 'a', 'report.json'), 'utf8'));
  assert.equal(report.steps, 30);
  assert.ok(report.trainableParameters > 0 && report.trainablePercent < 10);
  assert.ok(existsSync(join(scratch, 'a', 'loss-curve.svg')));
  assert.ok(existsSync(join(scratch, 'a', 'adapter_model.safetensors')));
  const metrics = readFileSync(join(scratch, 'a', METRICS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(metrics.filter((m) => m.type === 'step').length, 30);
});

test('kill -9 during training, then resume: the same final adapter as an uninterrupted run', async () => {
  const child = fileURLToPath(new URL('./support/train-child.ts', import.meta.url));
  const whole = join(scratch, 'whole');
  const run = spawnSync(process.execPath, ['--import', 'tsx', child, whole], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);

  const killed = join(scratch, 'killed');
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, killed], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', (d: Buffer) => {
      // Kill once step 7 is done: checkpoints 2, 4 and 6 exist, the step-8 one does not.
      if (/step 7 /.test(d.toString())) p.kill('SIGKILL');
    });
    p.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited without being killed (${signal})`))));
  });
  assert.ok(!existsSync(join(killed, 'adapter_model.safetensors')), 'no final adapter after the kill');
  const resumed = spawnSync(process.execPath, ['--import', 'tsx', child, killed, 'resume'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(!/step [1-6] /.test(resumed.stdout), 'resume starts after the last checkpoint');
  assert.deepEqual(readFileSync(join(killed, 'adapter_model.safetensors')), readFileSync(join(whole, 'adapter_model.safetensors')));
  const steps = (dir: string) => readFileSync(join(dir, METRICS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.type === 'step').map((m) => m.loss);
  assert.deepEqual(steps(killed), steps(whole));
});

test('a corrupt or partial newest checkpoint is passed over for the last good one', async () => {
  const out = join(scratch, 'corrupt');
  await (await newTrainer(out, { maxSteps: 4, saveEvery: 2, keepCheckpoints: 5 })).trainer.run();
  const root = join(out, 'checkpoints');
  assert.deepEqual(readdirSync(root).sort(), ['step-00000002', 'step-00000004']);
  writeFileSync(join(root, 'step-00000004', 'optimizer.safetensors'), 'garbage');
  mkdirSync(join(root, 'step-00000006'));
  writeFileSync(join(root, 'step-00000006', 'trainer_state.json'), '{');
  const ckpt = loadLatestCheckpoint(out)!;
  assert.equal(ckpt.step, 2);
  assert.deepEqual(ckpt.skipped.map((s) => s.dir.slice(-13)), ['step-00000006', 'step-00000004']);
  const { trainer } = await newTrainer(out, { maxSteps: 4, saveEvery: 2, keepCheckpoints: 5 });
  assert.equal(trainer.resume(), true);
});

test('non-finite losses skip the step and stop the run after too many in a row', async () => {
  const out = join(scratch, 'nan');
  const { trainer, peft } = await newTrainer(out, { maxSteps: 10, maxNonFiniteInARow: 3 });
  for (const site of peft.parameters('default').values()) site.road_alpha.fill(Number.NaN);
  await assert.rejects(trainer.run(), { code: 'E_TRAIN', message: /3 steps in a row had a non-finite/ });
  const metrics = readFileSync(join(out, METRICS_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(metrics.map((m) => m.skipped), [true, true, true]);
});

test('resume refuses a checkpoint made with other settings', async () => {
  const out = join(scratch, 'mismatch');
  await (await newTrainer(out, { maxSteps: 2 })).trainer.run();
  const { trainer } = await newTrainer(out, { maxSteps: 2, lr: 0.5 });
  assert.throws(() => trainer.resume(), { code: 'E_CHECKPOINT', message: /other settings/ });
});
