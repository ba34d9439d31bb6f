// A config.json that describes a smaller model than its weights (fewer layers) is refused, naming weights the
// model would never use; buffers transformers also ignores (rotary inv_freq, a tied lm_head) still load.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeSafetensors } from '../../src/io/safetensors/index.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { tinyLlama, writeConfig } from '../support/model-folders.ts';

const scratch = mkdtempSync(join(tmpdir(), 'roadster-unused-weights-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('weights of layers beyond num_hidden_layers are an error that names them', async () => {
  const { configJson } = tinyLlama();
  const dir = join(scratch, 'fewer-layers');
  writeConfig(dir, { ...configJson, num_hidden_layers: 1 });
  copyFileSync(join(TINY_LLAMA, 'model.safetensors'), join(dir, 'model.safetensors'));
  await assert.rejects(CausalLM.fromFolder(dir), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_WEIGHTS');
    assert.match(e.message, /tensors that a llama model with 1 layers never uses: model\.layers\.1\./);
    assert.match(e.message, /num_hidden_layers/);
    return true;
  });
});

test('rotary inv_freq buffers and other ignorable extras still load', async () => {
  const { configJson, tensors } = tinyLlama();
  const dir = join(scratch, 'with-buffers');
  writeConfig(dir, configJson);
  writeSafetensors(join(dir, 'model.safetensors'), [
    ...tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
    { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32' as const, shape: [8], data: new Float32Array(8) },
  ]);
  const model = await CausalLM.fromFolder(dir);
  assert.equal(model.config.numHiddenLayers, 2);
});

test('an unknown tensor inside the decoder is an error', async () => {
  const { configJson, tensors } = tinyLlama();
  const dir = join(scratch, 'unknown-tensor');
  writeConfig(dir, configJson);
  writeSafetensors(join(dir, 'model.safetensors'), [
    ...tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
    { name: 'model.layers.0.mlp.extra_proj.weight', dtype: 'F32' as const, shape: [4], data: new Float32Array(4) },
  ]);
  await assert.rejects(CausalLM.fromFolder(dir), /E_WEIGHTS|never uses: model\.layers\.0\.mlp\.extra_proj\.weight/);
});
