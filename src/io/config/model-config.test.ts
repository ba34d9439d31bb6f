// Tests for config.json / generation_config.json parsing, RoPE frequencies and presets.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../../errors.ts';
import { loadModelConfig, parseModelConfig } from './model-config.ts';
import { parseGenerationConfig } from './generation-config.ts';
import { PRESET_NAMES, PRESETS, presetConfig } from './presets.ts';
import { ropeInvFreq } from './rope.ts';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/configs/', import.meta.url));

async function fixture(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

/** Asserts that `fn` throws a RoadsterError with `code` whose message contains every string in `parts`. */
function assertError(fn: () => unknown, code: string, ...parts: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

function allClose(actual: ArrayLike<number>, expected: readonly number[], rtol = 1e-14): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * Math.abs(expected[i]);
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} != ${expected[i]}`);
  }
}

const MISTRAL_7B_V01 = {
  architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 4096,
  initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 32768, model_type: 'mistral',
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0,
  sliding_window: 4096, tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 32000,
};

const LLAMA_31_8B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009],
  hidden_act: 'silu', hidden_size: 4096, intermediate_size: 14336, max_position_embeddings: 131072, mlp_bias: false,
  model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 128256,
};

describe('parseModelConfig', () => {
  it('normalizes the tiny Llama fixture', async () => {
    const c = parseModelConfig(await fixture('tiny-llama.json'));
    assert.equal(c.modelType, 'llama');
    assert.deepEqual(
      [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize, c.vocabSize],
      [64, 2, 4, 2, 16, 128, 256],
    );
    assert.equal(c.rmsNormEps, 1e-6);
    assert.equal(c.ropeTheta, 10000);
    assert.deepEqual(c.ropeScaling, { type: 'none' });
    assert.deepEqual(c.bias, { q: false, k: false, v: false, o: false, mlp: false });
    assert.equal(c.tieWordEmbeddings, false);
    assert.equal(c.slidingWindow, null);
    assert.deepEqual(c.layerTypes, ['full', 'full']);
    assert.equal(c.maxPositionEmbeddings, 128);
    assert.deepEqual([c.bosTokenId, c.eosTokenId, c.padTokenId, c.torchDtype], [1, 2, null, 'float32']);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.bias));
  });

  it('normalizes the tiny Qwen2 fixture: q/k/v biased, o not, no sliding window', async () => {
    const c = parseModelConfig(await fixture('tiny-qwen2.json'));
    assert.equal(c.modelType, 'qwen2');
    assert.deepEqual(c.bias, { q: true, k: true, v: true, o: false, mlp: false });
    assert.equal(c.tieWordEmbeddings, true);
    assert.equal(c.headDim, 16);
    assert.equal(c.slidingWindow, null);
  });

  it('honours Qwen2 use_sliding_window and max_window_layers', async () => {
    const json = { ...(await fixture('tiny-qwen2.json')), use_sliding_window: true, sliding_window: 32, max_window_layers: 1 };
    const c = parseModelConfig(json);
    assert.equal(c.slidingWindow, 32);
    assert.deepEqual(c.layerTypes, ['full', 'sliding']);
  });

  it('reads Mistral, with its sliding window on every layer', () => {
    const c = parseModelConfig(MISTRAL_7B_V01);
    assert.equal(c.modelType, 'mistral');
    assert.equal(c.headDim, 128);
    assert.equal(c.numKeyValueHeads, 8);
    assert.equal(c.slidingWindow, 4096);
    assert.equal(c.layerTypes.length, 32);
    assert.ok(c.layerTypes.every((t) => t === 'sliding'));
    assert.equal(parseModelConfig({ ...MISTRAL_7B_V01, sliding_window: null }).slidingWindow, null);
  });

  it('applies transformers defaults for optional fields', () => {
    const c = parseModelConfig({ model_type: 'llama', hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 8, intermediate_size: 32, vocab_size: 10 });
    assert.deepEqual([c.numKeyValueHeads, c.headDim, c.maxPositionEmbeddings, c.rmsNormEps, c.ropeTheta], [8, 8, 2048, 1e-6, 10000]);
    assert.deepEqual([c.bosTokenId, c.eosTokenId, c.torchDtype, c.hiddenAct], [1, 2, null, 'silu']);
    assert.deepEqual(c.architectures, []);
  });

  it('reads llama attention_bias and mlp_bias and an explicit head_dim', () => {
    const c = parseModelConfig({ ...MISTRAL_7B_V01, model_type: 'llama', attention_bias: true, mlp_bias: true, head_dim: 64 });
    assert.deepEqual(c.bias, { q: true, k: true, v: true, o: true, mlp: true });
    assert.equal(c.headDim, 64);
  });

  it('reads llama3 rope scaling and a list of eos ids', () => {
    const c = parseModelConfig(LLAMA_31_8B);
    assert.deepEqual(c.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    assert.deepEqual(c.eosTokenId, [128001, 128008, 128009]);
  });

  it('accepts the old `type` key and transformers 5 `rope_parameters`', () => {
    const linear = parseModelConfig({ ...MISTRAL_7B_V01, rope_scaling: { type: 'linear', factor: 4.0 } });
    assert.deepEqual(linear.ropeScaling, { type: 'linear', factor: 4 });
    const v5 = parseModelConfig({ ...MISTRAL_7B_V01, rope_theta: undefined, rope_parameters: { rope_theta: 1e6, rope_type: 'default' }, dtype: 'float16', torch_dtype: undefined });
    assert.deepEqual([v5.ropeTheta, v5.ropeScaling.type, v5.torchDtype], [1e6, 'none', 'float16']);
  });

  it('refuses an unsupported model_type, listing the supported ones', () => {
    assertError(() => parseModelConfig({ ...MISTRAL_7B_V01, model_type: 'gpt2' }, '/m/config.json'),
      'E_CONFIG', '/m/config.json', 'model_type', '"llama", "qwen2", "mistral"', '"gpt2"');
  });

  it('refuses dynamic and yarn rope scaling with a reason', () => {
    assertError(() => parseModelConfig({ ...MISTRAL_7B_V01, rope_scaling: { type: 'dynamic', factor: 2 } }),
      'E_CONFIG', 'config.json', 'rope_scaling.type', '"dynamic"', 'Dynamic NTK');
    assertError(() => parseModelConfig({ ...MISTRAL_7B_V01, rope_scaling: { rope_type: 'yarn', factor: 2 } }),
      'E_CONFIG', 'rope_scaling.rope_type', '"default", "linear", "llama3"');
    assertError(() => parseModelConfig({ ...LLAMA_31_8B, rope_scaling: { ...LLAMA_31_8B.rope_scaling, high_freq_factor: 1 } }),
      'E_CONFIG', 'rope_scaling.high_freq_factor');
    assertError(() => parseModelConfig({ ...LLAMA_31_8B, rope_scaling: { rope_type: 'linear' } }),
      'E_CONFIG', 'rope_scaling.factor', 'required');
  });

  it('validates types, ranges and divisibility, naming file and field', () => {
    const bad: [Record<string, unknown>, string, string][] = [
      [{ hidden_size: '4096' }, 'hidden_size', 'positive integer'],
      [{ hidden_size: 0 }, 'hidden_size', 'positive integer'],
      [{ num_hidden_layers: 2.5 }, 'num_hidden_layers', 'positive integer'],
      [{ num_key_value_heads: 5 }, 'num_key_value_heads', 'divisor of num_attention_heads (32)'],
      [{ num_attention_heads: 30, num_key_value_heads: 10 }, 'num_attention_heads', 'divisor of hidden_size (4096)'],
      [{ hidden_act: 'gelu' }, 'hidden_act', '"silu"'],
      [{ rms_norm_eps: -1 }, 'rms_norm_eps', 'positive number'],
      [{ tie_word_embeddings: 'yes' }, 'tie_word_embeddings', 'true or false'],
      [{ eos_token_id: [] }, 'eos_token_id', 'token id'],
      [{ torch_dtype: 'int8' }, 'torch_dtype', '"bfloat16"'],
      [{ vocab_size: undefined }, 'vocab_size', 'required'],
      [{ head_dim: 33, num_attention_heads: 32 }, 'head_dim', 'even'],
    ];
    for (const [patch, field, expected] of bad) {
      assertError(() => parseModelConfig({ ...MISTRAL_7B_V01, ...patch }, 'x/config.json'), 'E_CONFIG', 'x/config.json', `"${field}"`, expected);
    }
    assertError(() => parseModelConfig([1, 2], 'x/config.json'), 'E_CONFIG', 'x/config.json', 'JSON object');
  });
});

describe('ropeInvFreq', () => {
  it('default: 1 / theta^(2i/D)', async () => {
    const c = parseModelConfig(await fixture('tiny-llama.json'));
    allClose(ropeInvFreq(c), [1.0, 0.31622776601683794, 0.1, 0.03162277660168379, 0.01, 0.003162277660168379, 0.001, 0.00031622776601683794]);
  });

  it('linear: inv_freq / factor', async () => {
    const c = parseModelConfig({ ...(await fixture('tiny-llama.json')), rope_scaling: { type: 'linear', factor: 4.0 } });
    allClose(ropeInvFreq(c), [0.25, 0.31622776601683794 / 4, 0.025, 0.03162277660168379 / 4, 0.0025, 0.003162277660168379 / 4, 0.00025, 0.00031622776601683794 / 4]);
  });

  it('llama3: high frequencies kept, low divided by factor, medium smoothed (Llama 3.1 8B)', () => {
    const inv = ropeInvFreq(parseModelConfig(LLAMA_31_8B));
    assert.equal(inv.length, 64);
    // reference values: transformers' _compute_llama3_parameters formulas evaluated in float64
    const expected: Record<number, number> = {
      0: 1.0, 20: 0.016560440080994446, 28: 0.0032114459947525913, // high frequency: unchanged
      29: 0.002166570763503359, 30: 0.0013718935677611381, 31: 0.0008567514129196321, // medium: smoothed
      32: 0.0005248461609929547, 33: 0.00031269375038406517, 34: 0.00017850781276799638,
      35: 9.556212353964683e-05, 40: 3.428102195952591e-05, 63: 3.068925988914511e-07, // low: divided by 8
    };
    for (const [i, value] of Object.entries(expected)) allClose([inv[Number(i)]], [value], 1e-13);
  });
});

describe('generation config and loadModelConfig', () => {
  it('parses generation_config.json with transformers defaults', () => {
    const g = parseGenerationConfig({ bos_token_id: 1, eos_token_id: [2, 3], do_sample: true, temperature: 0.7, top_p: 0.9 });
    assert.deepEqual(g, { bosTokenId: 1, eosTokenIds: [2, 3], padTokenId: null, doSample: true, temperature: 0.7, topK: 50, topP: 0.9, repetitionPenalty: 1, maxNewTokens: null, maxLength: null });
    assertError(() => parseGenerationConfig({ top_p: 2 }, 'g.json'), 'E_CONFIG', 'g.json', '"top_p"');
  });

  it('loads a model folder, with and without generation_config.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roadster-config-'));
    try {
      await writeFile(join(dir, 'config.json'), JSON.stringify(await fixture('tiny-llama.json')));
      assert.equal((await loadModelConfig(dir)).generation, null);
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
      const loaded = await loadModelConfig(dir);
      assert.equal(loaded.model.hiddenSize, 64);
      assert.deepEqual(loaded.generation?.eosTokenIds, [2]);
      await writeFile(join(dir, 'config.json'), '{"model_type": ');
      await assert.rejects(loadModelConfig(dir), (e: unknown) => e instanceof RoadsterError && e.code === 'E_CONFIG' && e.message.includes('not valid JSON'));
      await assert.rejects(loadModelConfig(join(dir, 'missing')), (e: unknown) => e instanceof RoadsterError && e.code === 'E_NOT_FOUND' && e.message.includes('config.json'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('presets', () => {
  it('parse to the published shapes', () => {
    assert.deepEqual(PRESET_NAMES, ['smollm2-135m', 'qwen2.5-0.5b']);
    const smol = presetConfig('smollm2-135m');
    assert.deepEqual([smol.hiddenSize, smol.numHiddenLayers, smol.numAttentionHeads, smol.numKeyValueHeads, smol.headDim, smol.intermediateSize, smol.vocabSize],
      [576, 30, 9, 3, 64, 1536, 49152]);
    assert.deepEqual([smol.tieWordEmbeddings, smol.ropeTheta, smol.rmsNormEps, smol.maxPositionEmbeddings], [true, 100000, 1e-5, 8192]);
    const qwen = presetConfig('qwen2.5-0.5b');
    assert.deepEqual([qwen.hiddenSize, qwen.numHiddenLayers, qwen.numAttentionHeads, qwen.numKeyValueHeads, qwen.headDim, qwen.intermediateSize, qwen.vocabSize],
      [896, 24, 14, 2, 64, 4864, 151936]);
    assert.deepEqual([qwen.bias.q, qwen.bias.o, qwen.tieWordEmbeddings, qwen.ropeTheta, qwen.rmsNormEps, qwen.slidingWindow, qwen.bosTokenId, qwen.eosTokenId],
      [true, false, true, 1e6, 1e-6, null, 151643, 151643]);
    assert.equal(PRESETS['qwen2.5-0.5b'].repoId, 'Qwen/Qwen2.5-0.5B');
  });
});
