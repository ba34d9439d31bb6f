// The model side of the GGUF export: the Q/K row permutation against convert_hf_to_gguf.py's formula, RoPE
// scaling (linear as metadata, Llama 3.1 as rope_freqs.weight), the sliding-window warning, and refusals
// (unsupported dtype, float16 overflow, sequence classifiers).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RoadsterError } from '../errors.ts';
import { parseModelConfig, ropeInvFreq } from '../io/config/index.ts';
import { CausalLM } from './causal-lm.ts';
import { ggufFromModel, permuteQkRows, unpermuteQkRows } from './gguf-export.ts';
import { withClassificationHead } from './sequence-classification.ts';

const TINY_LLAMA = 'test/fixtures/peft/models/tiny-llama';
const configJson = JSON.parse(readFileSync(join(TINY_LLAMA, 'config.json'), 'utf8')) as Record<string, unknown>;

/** tiny-llama's weights under a changed config.json. */
async function tinyWith(changes: Record<string, unknown>): Promise<CausalLM> {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  return new CausalLM(parseModelConfig({ ...configJson, ...changes }), base.weights, null, 'tiny');
}

const placeholder = { vocabulary: 'placeholder' } as const;

describe('Q/K permutation', () => {
  test('per head, rows (p, j) move to (j, p): reshape(H, 2, D/2, C).swapaxes(1, 2)', () => {
    const rows = Float32Array.from({ length: 8 * 3 }, (_, i) => Math.floor(i / 3)); // 2 heads × D 4, C 3
    const permuted = permuteQkRows(rows, 2, 3);
    assert.deepEqual(Array.from({ length: 8 }, (_, r) => permuted[r * 3]), [0, 2, 1, 3, 4, 6, 5, 7]);
    assert.deepEqual(unpermuteQkRows(permuted, 2, 3), rows);
    const bias = Float32Array.from({ length: 12 }, (_, i) => i); // 2 heads × D 6: halves (0 1 2 | 3 4 5) interleave
    assert.deepEqual([...permuteQkRows(bias, 2, 1)], [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
  });
});

describe('RoPE scaling and sliding windows', () => {
  test('linear scaling is metadata; no rope_freqs tensor', async () => {
    const { metadata, tensors } = await ggufFromModel(await tinyWith({ rope_scaling: { type: 'linear', factor: 4 } }), placeholder);
    assert.equal(metadata.get('llama.rope.scaling.type')?.value, 'linear');
    assert.equal(metadata.get('llama.rope.scaling.factor')?.value, 4);
    assert.ok(!tensors.some((t) => t.name === 'rope_freqs.weight'));
  });

  test('Llama 3.1 scaling is rope_freqs.weight: the divisor of each frequency', async () => {
    const rope = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const model = await tinyWith({ rope_scaling: rope });
    const { metadata, tensors } = await ggufFromModel(model, placeholder);
    assert.equal(metadata.get('llama.rope.scaling.type'), undefined);
    const freqs = tensors.find((t) => t.name === 'rope_freqs.weight')!;
    assert.deepEqual(freqs.shape, [8]);
    const plain = ropeInvFreq({ headDim: 16, ropeTheta: 10000, ropeScaling: { type: 'none' } });
    const scaled = ropeInvFreq(model.config);
    assert.deepEqual(freqs.data, Float32Array.from(plain, (f, i) => f / scaled[i]));
    assert.equal(freqs.data[0], 1); // the highest frequency is not scaled
    assert.equal(freqs.data[7], 8); // the lowest is divided by the factor
  });

  test('a Mistral sliding window is reported; Mistral is llama.cpp\'s llama architecture', async () => {
    const { metadata, summary } = await ggufFromModel(await tinyWith({ model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 32 }), placeholder);
    assert.equal(metadata.get('general.architecture')?.value, 'llama');
    assert.equal(summary.warnings.length, 1);
    assert.match(summary.warnings[0], /sliding window of 32 tokens/);
  });
});

describe('refusals', () => {
  const code = (c: string) => (e: unknown) => e instanceof RoadsterError && e.code === c;

  test('an unsupported dtype, float16 overflow and a sequence classifier', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    await assert.rejects(ggufFromModel(model, { ...placeholder, dtype: 'bf16' }), code('E_USAGE'));
    const big = new Map(model.weights);
    const w = big.get('model.layers.1.mlp.up_proj.weight')!;
    const data = w.data.slice();
    data[3] = 1e5;
    big.set('model.layers.1.mlp.up_proj.weight', { shape: w.shape, data });
    await assert.rejects(ggufFromModel(model.withWeights(big), { ...placeholder, dtype: 'f16' }), (e) => code('E_GGUF')(e) && /blk\.1\.ffn_up\.weight holds 100000/.test((e as Error).message));
    await ggufFromModel(model.withWeights(big), { ...placeholder, dtype: 'f32' });
    await assert.rejects(ggufFromModel(withClassificationHead(model, { id2label: ['a', 'b'] }), placeholder), code('E_GGUF'));
  });
});
