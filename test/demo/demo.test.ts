// The main job end to end at a tiny scale (the full settings take minutes; BENCHMARKS.md and README record a
// full run), its data preparation, and its bad-input paths.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SHIPPED_MODEL_DIR, verifyShippedModel } from '../../src/demo/shipped-model.ts';
import { balancedSample, isTestEmail, loadSpamAssassin, parseEmail } from '../../src/demo/spam-data.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'roadster-demo-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const run = (...args: string[]) => runCliCaptured(args, {});

test('e-mails keep Subject and body only; the split is fixed and the samples balanced', () => {
  const raw = 'From: a@b.c\nReceived: from x by y\nSubject: Cheap =\n pills\nX-Mailing-List: spam\n\n<html><b>Buy</b>&nbsp;now=\n!</html>\n';
  assert.deepEqual(parseEmail(raw), { subject: 'Cheap = pills', body: 'Buy now!' });
  const all = loadSpamAssassin();
  assert.equal(all.length, 6046);
  const test = all.filter(isTestEmail);
  assert.ok(test.length > 1000 && test.length < 1400, `${test.length} test e-mails`);
  const sample = balancedSample(all.filter((e) => !isTestEmail(e)), 10, 3);
  assert.equal(sample.filter((e) => e.label === 'spam').length, 10);
  assert.deepEqual(sample.map((e) => e.id), balancedSample(all.filter((e) => !isTestEmail(e)), 10, 3).map((e) => e.id));
  assert.ok(!sample.some((e) => /Received:|X-Mailing-List/.test(e.body)));
});

test('roadster demo runs end to end: base, head only, RoAd, LoRA, merge agreement, saved adapter and head, loss curves', async () => {
  const out = join(scratch, 'run');
  // a terminal, but --json: the report alone on stdout and no progress bar on stderr
  const r = await runCliCaptured(['demo', '--out', out, '--steps', '3', '--train-per-class', '4', '--test-per-class', '4', '--json', '--threads', '1'], {}, { tty: true });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /[█░]/);
  const report = JSON.parse(r.stdout);
  assert.equal(report.trainExamples, 8);
  assert.equal(report.testExamples, 8);
  assert.deepEqual(report.classes, ['ham', 'spam']);
  for (const k of ['base', 'headOnly', 'road', 'lora', 'merged']) assert.ok(report[k].accuracy >= 0 && report[k].accuracy <= 1, k);
  for (const k of ['road', 'lora']) {
    assert.equal(report[k].train.steps, 3, k);
    assert.equal(report[k].train.task, 'SEQ_CLS', k);
    assert.ok(report[k].train.trainableParameters > report.headOnly.trainableParameters, k);
  }
  assert.equal(report.headOnly.steps, 3);
  assert.equal(report.headOnly.trainableParameters, 2 * 256); // [K, C]
  assert.equal(report.settings.steps, 3);
  // the merged classifier predicts exactly what the adapter with its head did
  assert.equal(report.merged.agreesWithUnmerged, true);
  assert.equal(report.merged.disagreements, 0);
  assert.equal(report.merged.accuracy, report.road.accuracy);
  const adapterConfig = JSON.parse(readFileSync(join(out, 'road', 'adapter_config.json'), 'utf8'));
  assert.equal(adapterConfig.task_type, 'SEQ_CLS');
  assert.ok(existsSync(join(out, 'road', 'adapter_model.safetensors')));
  const mergedConfig = JSON.parse(readFileSync(join(out, 'merged', 'config.json'), 'utf8'));
  assert.deepEqual(mergedConfig.architectures, ['LlamaForSequenceClassification']);
  assert.deepEqual(mergedConfig.id2label, { 0: 'ham', 1: 'spam' });
  assert.ok(existsSync(join(out, 'merged', 'model.safetensors')));
  assert.equal(report.lossCurve, join(out, 'loss-curve.svg'));
  const svg = readFileSync(report.lossCurve, 'utf8');
  for (const label of ['head only', 'RoAd + head', 'LoRA + head']) assert.ok(svg.includes(label), label);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'demo-report.json'), 'utf8')).classes, ['ham', 'spam']);
});

test('on a terminal the demo draws a progress bar, then prints the table and the loss-curve file', async () => {
  const out = join(scratch, 'tty');
  const r = await runCliCaptured(['demo', '--out', out, '--steps', '2', '--train-per-class', '2', '--test-per-class', '2', '--skip-lora', '--threads', '1'], {}, { tty: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /step \d\/2 \[[█░]+\] loss/);
  assert.match(r.stdout, /head only \(frozen base model\)\s+512/);
  assert.match(r.stdout, /RoAd \+ head merged into the weights/);
  assert.doesNotMatch(r.stdout, /LoRA \+ head/);
  assert.ok(r.stdout.includes(`loss curves: ${join(out, 'loss-curve.svg')}`));
  assert.ok(existsSync(join(out, 'loss-curve.svg')));
});

test('an existing output folder is refused and left untouched', async () => {
  const out = join(scratch, 'taken');
  mkdirSync(out);
  writeFileSync(join(out, 'keep.txt'), 'mine');
  const r = await run('demo', '--out', out, '--steps', '1');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /exists and is not empty/);
  assert.deepEqual(readdirSync(out), ['keep.txt']);
});

test('a corrupted or missing shipped model file is reported, never used', () => {
  verifyShippedModel(SHIPPED_MODEL_DIR);
  const corrupted = join(scratch, 'corrupted-model');
  cpSync(SHIPPED_MODEL_DIR, corrupted, { recursive: true });
  const weights = join(corrupted, 'model.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 10] ^= 0xff;
  writeFileSync(weights, bytes);
  assert.throws(() => verifyShippedModel(corrupted), { code: 'E_WEIGHTS', message: /model\.safetensors is corrupted/ });
  // a separate, otherwise intact copy: the missing file must be what is reported
  const partial = join(scratch, 'partial-model');
  cpSync(SHIPPED_MODEL_DIR, partial, { recursive: true });
  rmSync(join(partial, 'tokenizer.json'));
  assert.throws(() => verifyShippedModel(partial), { code: 'E_NOT_FOUND', message: /tokenizer\.json is missing/ });
});
