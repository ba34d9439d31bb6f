// `roadster train` when runs are interrupted, overlap or meet changed or odd inputs: a run stopped before its
// first checkpoint restarts in place; a second run into a locked --out is refused and a stale lock is taken
// over; --resume refuses changed data and reports a corrupt checkpoint it skips; a huge record is cut before
// tokenizing and counted; odd records (empty, invalid UTF-8, unknown roles) and odd settings are reported.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { TrainCommandReport } from '../../src/cli/commands/train.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { writeTinyTextModel } from '../support/model-folders.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'roadster-train-safety-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const ENV = { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'hub-cache'), HF_TOKEN: '' };

const MODEL = writeTinyTextModel(join(scratch, 'model')); // tiny-llama with the byte-level tokenizer

function jsonl(name: string, records: readonly unknown[], extra = ''): string {
  const file = join(scratch, name);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n' + extra);
  return file;
}
const animals = ['fox', 'dog', 'cat', 'owl', 'elk', 'bee', 'ant', 'yak'];
const TEXT = jsonl('text.jsonl', animals.map((a, i) => ({ text: `The ${a} number ${i} jumps.` })));

const train = (args: readonly string[]) => runCliCaptured(['train', ...args], ENV);
const SMALL = ['--model', MODEL, '--group-size', '8', '--batch-size', '4', '--lr', '1e-2', '--threads', '1'];
async function trainJson(args: readonly string[]): Promise<{ report: TrainCommandReport; stderr: string }> {
  const r = await train([...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout) as TrainCommandReport, stderr: r.stderr };
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('interrupted and overlapping runs', () => {
  test('a run stopped before its first checkpoint restarts in place, with or without --resume', async () => {
    const out = join(scratch, 'interrupted');
    mkdirSync(join(out, '.cache'), { recursive: true });
    writeFileSync(join(out, 'metrics.jsonl'), '{"type":"step","step":1,"loss":5}\n{"type":"st');
    const plain = await trainJson([...SMALL, '--data', TEXT, '--out', out, '--max-steps', '2']);
    assert.equal(plain.report.steps, 2);
    assert.match(plain.stderr, /holds a run that stopped before its first checkpoint .*starting it again/);
    assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => l.includes('"step"')).length, 2);

    const again = join(scratch, 'interrupted-resume');
    mkdirSync(again);
    writeFileSync(join(again, 'metrics.jsonl'), '{"type":"step","step":1,"loss":5}\n');
    const resumed = await trainJson([...SMALL, '--data', TEXT, '--out', again, '--max-steps', '2', '--resume']);
    assert.equal(resumed.report.resumedFrom, null);
    assert.match(resumed.stderr, /--resume: .* has no checkpoint yet .*starting the run from step 0/);
  });

  test('a second run into a folder in use is refused, naming the folder and the running pid', async () => {
    const out = join(scratch, 'locked');
    mkdirSync(out);
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(join(out, '.roadster-lock'), JSON.stringify({ pid: running.pid, host: hostname(), startedAt: new Date().toISOString() }));
      const r = await train([...SMALL, '--data', TEXT, '--out', out, '--max-steps', '1']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`error \\[E_LOCKED\\]: .*locked.* in use by roadster train \\(pid ${running.pid} on`));
      assert.equal(r.stdout, '');
      assert.ok(!existsSync(join(out, 'metrics.jsonl')));
    } finally {
      running.kill();
    }
  });

  test('a stale lock (its process is gone) is taken over with a note, and a finished run releases its lock', async () => {
    const out = join(scratch, 'stale');
    mkdirSync(out);
    const pid = deadPid();
    writeFileSync(join(out, '.roadster-lock'), JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString() }));
    const { stderr } = await trainJson([...SMALL, '--data', TEXT, '--out', out, '--max-steps', '1']);
    assert.match(stderr, new RegExp(`stale lock .*pid ${pid}.* no longer runs; taking it over`));
    assert.ok(!existsSync(join(out, '.roadster-lock')));
  });

  test('a refused run releases the lock it took', async () => {
    const out = join(scratch, 'refused-lock');
    const r = await train([...SMALL, '--data', TEXT, '--eval-data', join(scratch, 'nope.jsonl'), '--out', out]);
    assert.equal(r.code, 1);
    assert.ok(!existsSync(out));
  });
});

describe('--resume', () => {
  test('refuses changed training data, saying which input changed', async () => {
    const data = jsonl('changing.jsonl', animals.map((a) => ({ text: `A ${a}.` })));
    const out = join(scratch, 'changed-data');
    const args = [...SMALL, '--data', data, '--out', out, '--max-steps', '4', '--save-every', '2'];
    await trainJson(args);
    rmSync(join(out, 'checkpoints', 'step-00000004'), { recursive: true });
    jsonl('changing.jsonl', animals.map((a) => ({ text: `B ${a}.` }))); // same count and lengths, other content
    const r = await train([...args, '--resume']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \[E_CHECKPOINT\]: .*step-00000002 .*the training data \(.*changing\.jsonl\) changed since the checkpoint/);
  });

  test('reports a corrupt checkpoint it passes over', async () => {
    const out = join(scratch, 'corrupt');
    const args = [...SMALL, '--data', TEXT, '--out', out, '--max-steps', '4', '--save-every', '2'];
    const whole = await trainJson(args);
    const state = join(out, 'checkpoints', 'step-00000004', 'trainer_state.json');
    writeFileSync(state, readFileSync(state, 'utf8').replace('"step": 4', '"step": 5'));
    const { report, stderr } = await trainJson([...args, '--resume']);
    assert.equal(report.resumedFrom, 2);
    assert.equal(report.finalTrainLoss, whole.report.finalTrainLoss);
    assert.match(stderr, /warning: skipped checkpoint .*step-00000004: trainer_state\.json does not match its sha256/);
  });
});

describe('data and settings that are reported, not dropped silently', () => {
  test('a huge record is cut before tokenizing, and counted', async () => {
    const data = jsonl('huge.jsonl', [{ text: 'x'.repeat(3_000_000) }, ...animals.map((a) => ({ text: a }))]);
    const { report, stderr } = await trainJson([...SMALL, '--data', data, '--out', join(scratch, 'huge'), '--max-steps', '1', '--max-length', '16']);
    assert.equal(report.data.train.cutRecords, 1);
    assert.equal(report.data.train.truncated, 1);
    assert.match(stderr, /1 record\(s\) longer than .* characters were cut before tokenizing/);
  });

  test('empty records and conversations without an assistant turn are named as such, not as a maxLength problem', async () => {
    const empty = jsonl('all-empty.jsonl', [{ text: '' }, { text: '' }]);
    const r = await train([...SMALL, '--data', empty, '--out', join(scratch, 'all-empty')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /E_DATA.*2 record\(s\) have nothing to train on \(an empty text, completion or label, or a conversation with no assistant turn; lines 1, 2\)/);
    assert.doesNotMatch(r.stderr, /maxLength/);
    const some = jsonl('some-empty.jsonl', [{ text: '' }, ...animals.map((a) => ({ text: a }))]);
    const { report, stderr } = await trainJson([...SMALL, '--data', some, '--out', join(scratch, 'some-empty'), '--max-steps', '1']);
    assert.equal(report.data.train.emptyRecords, 1);
    assert.match(stderr, /warning: .*some-empty\.jsonl: 1 record\(s\) have nothing to train on .*line 1/);
  });

  test('invalid UTF-8 and unknown chat roles are counted and reported', async () => {
    const file = join(scratch, 'bad-bytes.jsonl');
    const good = animals.map((a) => JSON.stringify({ messages: [{ role: 'user', content: `Name a ${a}.` }, { role: 'assistant', content: a }] }));
    const odd = JSON.stringify({ messages: [{ role: 'human', content: 'hi' }, { role: 'gpt', content: 'hello' }, { role: 'assistant', content: 'ok' }] });
    writeFileSync(file, Buffer.concat([Buffer.from(`${good.join('\n')}\n${odd}\n{"messages": [{"role": "user", "content": "caf`), Buffer.from([0xc3, 0x28]), Buffer.from('"}, {"role": "assistant", "content": "x"}]}\n')]));
    const { report, stderr } = await trainJson([...SMALL, '--data', file, '--out', join(scratch, 'bad-bytes'), '--max-steps', '1']);
    assert.equal(report.data.train.invalidUtf8Lines, 1);
    assert.deepEqual(report.data.train.unknownRoles, { messages: 2, roles: ['gpt', 'human'] });
    assert.match(stderr, /warning: .*bad-bytes\.jsonl: 1 line\(s\) are not valid UTF-8.*line 10/);
    assert.match(stderr, /warning: .*bad-bytes\.jsonl: 2 message\(s\) have roles other than .*"gpt", "human"/);
  });

  test('--save-steps suggests --save-every', async () => {
    const r = await train([...SMALL, '--data', TEXT, '--out', join(scratch, 'save-steps'), '--save-steps', '5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--save-steps'[\s\S]*--save-every/);
    assert.doesNotMatch(r.stderr, /--max-steps/);
  });

  test('absurd values warn: --lr above 1, warmup as long as the run', async () => {
    const { stderr } = await trainJson([...SMALL.filter((a) => a !== '1e-2' && a !== '--lr'), '--lr', '5', '--warmup-steps', '10', '--data', TEXT, '--out', join(scratch, 'absurd'), '--max-steps', '2']);
    assert.match(stderr, /warning: --lr 5 is above 1/);
    assert.match(stderr, /warning: --warmup-steps 10 is not less than the run's 2 optimizer steps/);
  });

  test('a model folder without tokenizer says to copy tokenizer.json from the base', async () => {
    const r = await train(['--model', TINY_LLAMA, '--data', TEXT, '--out', join(scratch, 'no-tokenizer')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /E_TOKENIZER.*No tokenizer\.json.*copy tokenizer\.json .*from its base model/);
  });
});
