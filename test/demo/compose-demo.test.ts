// The compose demo: its ranking measure (the ROC AUC of the label margin, which a uniform shift of the margin
// keeps), and the whole experiment at a tiny scale (the full settings take minutes; README records a full run).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_COMPOSE_DEMO_OPTIONS, type TaskReport, meanTaskReport, rocAuc, runComposeDemo } from '../../src/demo/compose-demo.ts';
import { SHIPPED_MODEL_DIR } from '../../src/demo/shipped-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { runCliCaptured } from '../support/run-cli.ts';

test('rocAuc: perfect, reversed, ties and shifted scores', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5], [0, 1]), 0.5);
  assert.equal(rocAuc([0.3, 0.1, 0.2, 0.4], [0, 0, 1, 1]), 0.75);
  assert.equal(rocAuc([-9.7, -9.9, -9.8, -9.6], [0, 0, 1, 1]), 0.75); // the same ranking, every margin shifted
  assert.equal(rocAuc([1, 2], [1, 1]), 0.5); // one class only
});

test('meanTaskReport: accuracies and AUCs averaged, each retention the mean accuracy over the mean it is a share of', () => {
  const report = (single: number, composed: number, auc: number): TaskReport => ({
    task: 't',
    classes: ['a', 'b'],
    trainExamples: 4,
    testExamples: 8,
    base: 0.5,
    single,
    composed: { accuracy: composed, retention: composed / single, auc },
    auc: { base: 0.5, single: auc, allPairs: auc, lora: auc },
    controls: {
      allPairs: { single, composed: { accuracy: composed / 2, retention: composed / 2 / single, auc } },
      lora: { single: 1, cat: { accuracy: composed, retention: composed, auc }, linear: { accuracy: 0.25, retention: 0.25, auc } },
    },
  });
  const m = meanTaskReport([report(0.8, 0.8, 0.9), report(1, 0.5, 0.7)]);
  assert.equal(m.single, 0.9);
  assert.equal(m.composed.accuracy, 0.65);
  assert.equal(m.composed.retention, 0.65 / 0.9, 'the ratio of the means, not the mean of the ratios (0.75)');
  assert.ok(Math.abs(m.composed.auc - 0.8) < 1e-12);
  assert.equal(m.controls.allPairs.composed.retention, 0.325 / 0.9);
  assert.equal(m.controls.lora.cat.retention, 0.65);
  assert.equal(m.controls.lora.linear.accuracy, 0.25);
  assert.deepEqual(meanTaskReport([report(0.8, 0.6, 0.9)]), report(0.8, 0.6, 0.9), 'one report is its own mean');
  assert.throws(() => meanTaskReport([]), /at least one/);
});

test('the compose demo end to end at a tiny scale: label-words adapters on disjoint pairs, their product, the controls and the IIA, over two seeds', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'roadster-compose-demo-'));
  const runtime = new Runtime({ threads: 1 });
  try {
    const options = { ...DEFAULT_COMPOSE_DEMO_OPTIONS, modelDir: SHIPPED_MODEL_DIR, outDir, trainPerClass: 6, testPerClass: 4, steps: 2, iiaPairs: 2, randomDraws: 1, seeds: 2 };
    const report = await runComposeDemo(runtime, options);
    assert.deepEqual(report.seeds, [0, 1]);
    assert.deepEqual(report.perSeed.map((s) => s.seed), [0, 1]);
    for (const name of ['spam', 'era'] as const) {
      assert.deepEqual(report.tasks[name], meanTaskReport(report.perSeed.map((s) => s.tasks[name])), 'tasks is the mean of the seeds');
    }
    assert.deepEqual(report.tasks.spam.classes, ['no', 'yes']);
    assert.deepEqual(report.tasks.era.classes, ['early', 'modern']);
    for (const task of report.perSeed.flatMap((s) => [s.tasks.spam, s.tasks.era])) {
      assert.equal(task.trainExamples, 12);
      assert.equal(task.testExamples, 8);
      for (const x of [task.base, task.single, task.composed.accuracy, task.controls.allPairs.composed.accuracy, task.controls.lora.cat.accuracy, task.controls.lora.linear.accuracy]) {
        assert.ok(x >= 0 && x <= 1 && Number.isInteger(x * 8), `${x} is a share of 8 examples`);
      }
      if (task.single > 0) assert.equal(task.composed.retention, task.composed.accuracy / task.single);
    }
    assert.equal(report.composition.disjoint, true, report.composition.note);
    assert.equal(report.trainableParameters.allPairs, 2 * report.trainableParameters.subspace, 'A trains half the pairs');
    assert.deepEqual(JSON.parse(readFileSync(join(outDir, 'compose-report.json'), 'utf8')), JSON.parse(JSON.stringify(report)));
    // each seed's own samples: the ham of the test splits differs
    const testOf = (seed: number) => readFileSync(join(outDir, `seed-${seed}`, 'data', 'spam-test.jsonl'), 'utf8');
    assert.notEqual(testOf(0), testOf(1));
    // A is a plain CAUSAL_LM adapter of the language model, identity outside its pairs
    const saved = JSON.parse(readFileSync(join(outDir, 'seed-1', 'A', 'adapter_config.json'), 'utf8'));
    assert.equal(saved.task_type, 'CAUSAL_LM');
    assert.ok(saved.modules_to_save === null || saved.modules_to_save === undefined);
    assert.ok(report.iia.examples <= 2 && report.iia.sites === 42, `${report.iia.examples} pairs at ${report.iia.sites} sites`);
    if (report.iia.examples > 0) {
      assert.deepEqual(report.iia.layers.map((l) => [l.layer, l.sites]), [0, 1, 2, 3, 4, 5].map((l) => [l, 7]), 'one row per decoder layer, its 7 adapted modules');
    }
  } finally {
    await runtime.release();
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('roadster demo compose refuses a bad --complement-noise or --seeds before writing anything', async () => {
  const out = join(tmpdir(), `roadster-compose-refused-${process.pid}`);
  for (const [flag, value, error] of [
    ['--complement-noise', '-1', /--complement-noise "-1": expected one standard deviation/],
    ['--complement-noise', '0.1,x', /--complement-noise "0.1,x"/],
    ['--seeds', '0', /--seeds/],
  ] as const) {
    const r = await runCliCaptured(['demo', 'compose', '--out', out, flag, value], {});
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, error);
    assert.equal(existsSync(out), false, `${flag} ${value}: nothing written`);
  }
});
