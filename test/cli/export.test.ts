// `roadster export --format gguf`, in process through runCli: the file parses back (header, metadata, tensors)
// equal to the source model, in F32 and F16, with Q/K rows permuted for llama (undone here to compare) and not
// for qwen2; an adapter is merged as PeftModel.mergeAndUnload merges it; bad input fails before anything is
// written. That llama.cpp runs these files as roadster does is test/gguf/llama-cpp.test.ts.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { GgmlType, LlamaFileType, readGguf, type GgufFile } from '../../src/io/gguf/index.ts';
import { f16BitsToNumber, numberToF16Bits } from '../../src/io/safetensors/index.ts';
import type { CausalLM } from '../../src/models/causal-lm.ts';
import { CausalLM as Model } from '../../src/models/causal-lm.ts';
import { unpermuteQkRows } from '../../src/models/gguf-export.ts';
import { ggufTensorNames, qkProjection } from '../../src/models/llama/gguf-names.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { FIXTURES, TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';
import { runCliCaptured } from '../support/run-cli.ts';

const SHIPPED = 'models/roadster-base';
const scratch = mkdtempSync(join(tmpdir(), 'roadster-cli-export-'));
const runtime = new Runtime({ threads: 1 });
after(async () => {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
});
const run = (...args: string[]) => runCliCaptured(['export', ...args], { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(scratch, 'cache') });

/** Every source tensor is in the file under llama.cpp's name, with GGUF dims, equal after undoing the Q/K permutation. */
function assertTensorsEqual(file: GgufFile, model: CausalLM, options: { permuted: boolean; f16: boolean }): void {
  const rename = ggufTensorNames(model.config.numHiddenLayers);
  const expected = [...model.weights.keys()].filter((n) => !(n === 'lm_head.weight' && model.config.tieWordEmbeddings));
  assert.deepEqual(file.tensors.map((t) => t.name).sort(), expected.map((n) => rename.get(n)!).sort());
  for (const name of expected) {
    const w = model.weights.get(name)!;
    const info = file.tensors.find((t) => t.name === rename.get(name))!;
    assert.deepEqual(info.dims, [...w.shape].reverse(), name);
    const f16 = options.f16 && w.shape.length > 1;
    assert.equal(info.type, f16 ? GgmlType.F16 : GgmlType.F32, name);
    let data = file.tensorData(info.name);
    const qk = qkProjection(name);
    if (options.permuted && qk !== null) {
      const heads = qk === 'q_proj' ? model.config.numAttentionHeads : model.config.numKeyValueHeads;
      data = unpermuteQkRows(data, heads, w.shape.length > 1 ? w.shape[1] : 1);
    }
    const source = f16 ? Float32Array.from(w.data, (x) => f16BitsToNumber(numberToF16Bits(x))) : w.data;
    assert.deepEqual(data, source, name);
  }
}

const value = (file: GgufFile, key: string) => file.get(key)?.value;

describe('export of the shipped model', () => {
  test('F32: metadata from config.json and the tokenizer, tensors equal to the checkpoint, no output.weight (tied)', async () => {
    const out = join(scratch, 'base-f32.gguf');
    const r = await run('--model', SHIPPED, '--format', 'gguf', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual([summary.architecture, summary.dtype, summary.vocabulary, summary.preTokenizer, summary.tensors], ['llama', 'f32', 'tokenizer', 'gpt-2', 56]);
    const file = readGguf(out);
    assert.equal(file.version, 3);
    const expected: [string, unknown][] = [
      ['general.architecture', 'llama'],
      ['general.name', 'roadster-base'],
      ['general.file_type', LlamaFileType.ALL_F32],
      ['llama.context_length', 512],
      ['llama.embedding_length', 256],
      ['llama.feed_forward_length', 688],
      ['llama.block_count', 6],
      ['llama.attention.head_count', 4],
      ['llama.attention.head_count_kv', 2],
      ['llama.rope.freq_base', 10000],
      ['llama.attention.layer_norm_rms_epsilon', Math.fround(1e-5)],
      ['llama.attention.key_length', 64],
      ['llama.rope.dimension_count', 64],
      ['llama.vocab_size', 8192],
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.pre', 'gpt-2'],
      ['tokenizer.ggml.eos_token_id', 0],
    ];
    for (const [key, v] of expected) assert.equal(value(file, key), v, key);
    assert.equal((value(file, 'tokenizer.ggml.tokens') as string[]).length, 8192);
    assert.equal(value(file, 'llama.rope.scaling.type'), undefined);
    assert.ok(!file.tensors.some((t) => t.name === 'output.weight'));
    assertTensorsEqual(file, await Model.fromFolder(SHIPPED), { permuted: true, f16: false });
  });

  test('F16: matrices rounded to float16, norms kept in F32; an existing GGUF file is replaced', async () => {
    const out = join(scratch, 'base-f32.gguf'); // written by the previous test
    assert.ok(existsSync(out));
    const r = await run('--model', SHIPPED, '--out', out, '--dtype', 'f16');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*base-f32\.gguf \(llama, f16, 56 tensors/);
    const file = readGguf(out);
    assert.equal(value(file, 'general.file_type'), LlamaFileType.MOSTLY_F16);
    assertTensorsEqual(file, await Model.fromFolder(SHIPPED), { permuted: true, f16: true });
    assert.deepEqual(readdirSync(scratch).filter((n) => n.includes('.tmp-')), []);
  });
});

describe('export of the fixtures', () => {
  test('tiny-llama with a tokenizer and a RoAd adapter merged: output.weight (untied), the chat template, merged weights', async () => {
    const folder = join(scratch, 'tiny-llama-tok');
    cpSync(TINY_LLAMA, folder, { recursive: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join('test/fixtures/tokenizers/bytes', f), join(folder, f));
    const adapter = join(FIXTURES, 'llama_road1_g8_qv', 'adapter');
    const out = join(scratch, 'nested', 'tiny-road.gguf');
    const r = await run('--model', folder, '--adapter', adapter, '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).adapter, adapter);
    const file = readGguf(out);
    assert.match(String(value(file, 'tokenizer.chat_template')), /im_start/);
    assert.ok(file.tensors.some((t) => t.name === 'output.weight'));
    const base = await Model.fromFolder(folder);
    const merged = PeftModel.fromPretrained(base, runtime, adapter).mergeAndUnload();
    assert.notDeepEqual(merged.weights.get('model.layers.0.self_attn.q_proj.weight')!.data, base.weights.get('model.layers.0.self_attn.q_proj.weight')!.data);
    assertTensorsEqual(file, merged, { permuted: true, f16: false });
  });

  test('tiny-qwen2 with a placeholder vocabulary: qwen2 keys, q/k/v biases, rows not permuted', async () => {
    const out = join(scratch, 'tiny-qwen2.gguf');
    const r = await run('--model', TINY_QWEN2, '--out', out, '--placeholder-vocab', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).vocabulary, 'placeholder');
    const file = readGguf(out);
    assert.equal(value(file, 'general.architecture'), 'qwen2');
    const model = await Model.fromFolder(TINY_QWEN2);
    assert.equal(value(file, 'qwen2.block_count'), model.config.numHiddenLayers);
    assert.equal(value(file, 'qwen2.rope.freq_base'), Math.fround(model.config.ropeTheta));
    assert.ok(file.tensors.some((t) => t.name === 'blk.0.attn_q.bias'));
    assertTensorsEqual(file, model, { permuted: false, f16: false });
  });
});

describe('bad input fails before anything is written', () => {
  const expectError = async (args: string[], code: number, pattern: RegExp) => {
    const r = await run(...args);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, pattern);
  };

  test('no tokenizer, not a model folder, an unsupported architecture, dtype or output path', async () => {
    const out = join(scratch, 'never.gguf');
    await expectError(['--model', TINY_LLAMA, '--out', out], 1, /error \[E_TOKENIZER\]: No tokenizer\.json .*--placeholder-vocab/);
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    await expectError(['--model', empty, '--out', out], 1, /error \[E_NOT_FOUND\]: .*has no config\.json/);
    const gpt2 = join(scratch, 'gpt2');
    mkdirSync(gpt2);
    writeFileSync(join(gpt2, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 8 }));
    cpSync(join(TINY_LLAMA, 'model.safetensors'), join(gpt2, 'model.safetensors'));
    await expectError(['--model', gpt2, '--out', out], 1, /error \[E_CONFIG\]: .*model_type/);
    await expectError(['--model', SHIPPED, '--out', out, '--dtype', 'q8_0'], 2, /error \[E_USAGE\]: GGUF dtype "q8_0" is not written; use one of f32, f16/);
    await expectError(['--model', SHIPPED, '--out', join(scratch, 'model.bin')], 2, /should end in \.gguf/);
    await expectError(['--model', SHIPPED, '--out', out, '--format', 'onnx'], 2, /Allowed choices are gguf/);
    assert.ok(!existsSync(out));
  });

  test('an existing file that is not GGUF is never overwritten', async () => {
    const out = join(scratch, 'precious.gguf');
    writeFileSync(out, 'not a model');
    await expectError(['--model', SHIPPED, '--out', out], 2, /exists and is not a GGUF file; refusing to overwrite/);
    assert.equal(readFileSync(out, 'utf8'), 'not a model');
  });
});
