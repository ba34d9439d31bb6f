// Base-model parity with transformers: the fixture models reproduce the fixtures' logits and losses, in
// float32 (relative error <= 1e-5) and in float64 (<= 1e-9).

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CausalLM } from '../../src/models/causal-lm.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA, TINY_QWEN2, fixture, flat } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

/** logits[:, :4, :] of a [B, T, V] result. */
function firstPositions(logits: HostTensor, n = 4): number[] {
  const [b, t, v] = logits.shape;
  const out: number[] = [];
  for (let i = 0; i < b; i++) for (let j = 0; j < n; j++) for (let k = 0; k < v; k++) out.push(Number(logits.data[(i * t + j) * v + k]));
  return out;
}
function lastPosition(logits: HostTensor): number[] {
  const [b, t, v] = logits.shape;
  const out: number[] = [];
  for (let i = 0; i < b; i++) for (let k = 0; k < v; k++) out.push(Number(logits.data[(i * t + t - 1) * v + k]));
  return out;
}

const cases = [
  { name: 'tiny-llama', dir: TINY_LLAMA, file: 'llama_road1_g8_qv.json' },
  { name: 'tiny-qwen2', dir: TINY_QWEN2, file: 'qwen2_road4_g8_qv.json' },
];

for (const c of cases) {
  describe(`${c.name} matches transformers`, () => {
    const fx = fixture(c.file);
    const inputIds: number[][] = fx.inputs.input_ids;

    test('float32 logits and losses (relative error <= 1e-5)', async () => {
      const model = await CausalLM.fromFolder(c.dir);
      const out = await model.forward(runtime, { inputIds, labels: fx.inputs.labels });
      assert.deepEqual(out.logits.shape, [2, 12, model.config.vocabSize]);
      const e1 = relativeError(firstPositions(out.logits), flat(fx.base.logits.first_positions));
      const e2 = relativeError(lastPosition(out.logits), flat(fx.base.logits.last_position));
      assert.ok(e1 <= 1e-5 && e2 <= 1e-5, `logits relative error ${e1}, ${e2}`);
      assert.ok(Math.abs(out.loss! - fx.base.loss) / fx.base.loss <= 1e-5, `loss ${out.loss} vs ${fx.base.loss}`);
      const masked = await model.forward(runtime, { inputIds, labels: fx.inputs.labels_masked });
      assert.ok(Math.abs(masked.loss! - fx.base.loss_masked) / fx.base.loss_masked <= 1e-5, `masked loss ${masked.loss} vs ${fx.base.loss_masked}`);
    });

    test('float64 logits and loss (relative error <= 1e-9)', async () => {
      const model = await CausalLM.fromFolder(c.dir);
      const out = await model.forward(runtime, { inputIds, labels: fx.inputs.labels }, { dtype: 'float64' });
      const e = relativeError(firstPositions(out.logits), flat(fx.float64.base_logits_first_positions));
      assert.ok(e <= 1e-9, `float64 logits relative error ${e}`);
      const le = Math.abs(out.loss! - fx.float64.base_loss) / fx.float64.base_loss;
      assert.ok(le <= 1e-9, `float64 loss ${out.loss} vs ${fx.float64.base_loss} (relative ${le})`);
    });
  });
}
