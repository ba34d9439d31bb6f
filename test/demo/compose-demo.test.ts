// The compose demo: its ranking measure (the ROC AUC of the label margin, which a uniform shift of the margin
// keeps), and the whole experiment at a tiny scale (the full settings take minutes; README records a full run).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_COMPOSE_DEMO_OPTIONS, rocAuc, runComposeDemo } from '../../src/demo/compose-demo.ts';
import { SHIPPED_MODEL_DIR } from '../../src/demo/shipped-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';

test('rocAuc: perfect, reversed, ties and shifted scores', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5], [0, 1]), 0.5);
  assert.equal(rocAuc([0.3, 0.1, 0.2, 0.4], [0, 0, 1, 1]), 0.75);
  assert.equal(rocAuc([-9.7, -9.9, -9.8, -9.6], [0, 0, 1, 1]), 0.75); // the same ranking, every margin shifted
  assert.equal(rocAuc([1, 2], [1, 1]), 0.5); // one class only
});

test('the compose demo end to end at a tiny scale: label-words adapters on disjoint pairs, their product, the controls and the IIA', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'roadster-compose-demo-'));
  const runtime = new Runtime({ threads: 1 });
  try {
    const options = { ...DEFAULT_COMPOSE_DEMO_OPTIONS, modelDir: SHIPPED_MODEL_DIR, outDir, trainPerClass: 6, testPerClass: 4, steps: 2, iiaPairs: 2, randomDraws: 1 };
    const report = await runComposeDemo(runtime, options);
    assert.deepEqual(report.tasks.spam.classes, ['no', 'yes']);
    assert.deepEqual(report.tasks.era.classes, ['early', 'modern']);
    for (const task of [report.tasks.spam, report.tasks.era]) {
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
    // A is a plain CAUSAL_LM adapter of the language model, identity outside its pairs
    const saved = JSON.parse(readFileSync(join(outDir, 'A', 'adapter_config.json'), 'utf8'));
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
