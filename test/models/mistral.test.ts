// Mistral's sliding-window attention: a tiny MistralForCausalLM (random weights, window 4, 2 layers, F32) runs;
// positions whose whole causal context fits in the window (t < 4) give the same logits as with no window, later
// positions differ; and the sliding bias masks exactly the keys with q - k >= window (transformers'
// `sliding_attend_mask`), besides future keys and padding.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseModelConfig } from '../../src/io/config/index.ts';
import { MASK_VALUE, attentionBias } from '../../src/models/attention-inputs.ts';
import { AutoModelForCausalLM } from '../../src/models/auto.ts';
import { CausalLM, INPUT_NAMES } from '../../src/models/causal-lm.ts';
import { writeRandomModel } from '../../src/models/random-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { logitsAt } from '../support/model-folders.ts';

const runtime = new Runtime({ threads: 1 });
const scratch = mkdtempSync(join(tmpdir(), 'roadster-mistral-'));
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});

const WINDOW = 4;
const CONFIG = {
  architectures: ['MistralForCausalLM'],
  model_type: 'mistral',
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 16,
  vocab_size: 256,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  sliding_window: WINDOW,
  tie_word_embeddings: false,
  initializer_range: 0.2,
};
const IDS = [[9, 201, 33, 78, 150, 4, 250, 61]];

describe('Mistral sliding window', () => {
  test('logits match the unwindowed model before the window fills and differ after', async () => {
    const dir = join(scratch, 'tiny-mistral');
    writeRandomModel(dir, CONFIG, { seed: 7, dtype: 'F32' });
    const windowed = await AutoModelForCausalLM.fromPretrained(dir);
    assert.equal(windowed.config.slidingWindow, WINDOW);
    assert.deepEqual(windowed.config.layerTypes, ['sliding', 'sliding']);
    assert.ok(INPUT_NAMES.slidingBias in windowed.feeds({ inputIds: IDS }));
    const full = new CausalLM(parseModelConfig({ ...CONFIG, sliding_window: null }), windowed.weights);
    assert.equal(full.hasSlidingLayers, false);

    const a = (await windowed.forward(runtime, { inputIds: IDS })).logits;
    const b = (await full.forward(runtime, { inputIds: IDS })).logits;
    for (let t = 0; t < IDS[0].length; t++) {
      const e = relativeError(logitsAt(a, 0, t), logitsAt(b, 0, t));
      if (t < WINDOW) assert.ok(e <= 1e-6, `position ${t} should not see the window: relative difference ${e}`);
      else assert.ok(e > 1e-3, `position ${t} should see the window: relative difference only ${e}`);
    }
  });

  test('the sliding bias masks exactly the keys with q - k >= window', () => {
    const t = 8;
    const mask = [[0, 0, 1, 1, 1, 1, 1, 1]]; // two left pads
    const bias = attentionBias({ inputIds: [new Array<number>(t).fill(1)], attentionMask: mask }, 'float32', WINDOW);
    assert.deepEqual(bias.shape, [1, 1, t, t]);
    const masked: string[] = [];
    for (let q = 0; q < t; q++) {
      for (let k = 0; k < t; k++) {
        const v = bias.data[q * t + k];
        assert.ok(v === 0 || v === MASK_VALUE.float32, `bias[${q}, ${k}] = ${v}`);
        const expectMasked = k > q || q - k >= WINDOW || mask[0][k] === 0;
        assert.equal(v !== 0, expectMasked, `query ${q}, key ${k}`);
        if (v !== 0 && k <= q && mask[0][k] === 1) masked.push(`${q}-${k}`);
      }
    }
    // the keys hidden by the window alone: real keys at distance >= 4
    assert.deepEqual(masked, ['6-2', '7-2', '7-3']);
  });
});
