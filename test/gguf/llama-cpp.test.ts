// End-to-end proof of the GGUF export: llama.cpp (through node-llama-cpp, CPU) runs the exported file and gives
// what roadster gives on the same weights. The shipped model (a Llama with a byte-level BPE tokenizer and tied
// embeddings, Q/K rows permuted in the file) must tokenize prompts to the same ids and greedily generate the
// same 16 tokens; the tiny fixtures (placeholder vocabularies) cover an untied output head (tiny-llama),
// qwen2's NEOX RoPE with q/k/v biases (tiny-qwen2) and both RoPE scalings the export writes; a random model
// with GPT-2's vocabulary checks tokenization at 50k merges. llama.cpp runs with an F32 KV cache: its default
// F16 cache rounds K and V to 11 bits, which is not the computation roadster runs. The greedy tokens are not a
// near-tie coincidence: on the two shipped-model prompts the smallest top-1/top-2 logit gap over the 16 steps is
// 4e-3 (float32 differences between the two engines are around 1e-5).

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type LlamaCppSession, llamaCppGreedy, openLlamaCpp } from '../../src/cli/bench-llama-cpp.ts';
import { greedyGenerate } from '../../src/generate/greedy.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { exportGguf } from '../../src/models/gguf-export.ts';
import { writeRandomModel } from '../../src/models/random-model.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';

const SHIPPED = 'models/roadster-base';
const GPT2_TOKENIZER = 'test/fixtures/tokenizers/gpt2';
/** Texts where byte-level pre-tokenizers differ: runs of spaces and newlines, contractions, digits, symbols, non-Latin scripts. */
const TRICKY_TEXTS = [
  'The old man walked down to the sea and',
  "It's 1,234.56 dollars -- isn't it?  Yes:\n\n\tno   spaces\u00a0here.",
  'caf\u00e9 na\u00efve \u00fcber \u65e5\u672c\u8a9e \ud83d\ude00 emoji',
  "   leading spaces, we'll see; they're 42nd & 7th!!  \n",
  'x=1; y = 2**10\r\n  // done 2024-01-01 12:00\u2014ok',
];
const NEW_TOKENS = 16;
const dir = mkdtempSync(join(tmpdir(), 'roadster-llama-cpp-'));
const runtime = new Runtime({ threads: 1 });
after(async () => {
  await runtime.release();
  rmSync(dir, { recursive: true, force: true });
});

describe('llama.cpp runs the exported shipped model exactly as roadster does', () => {
  let model: CausalLM;
  let tokenizer: Tokenizer;
  let session: LlamaCppSession;
  before(async () => {
    model = await CausalLM.fromFolder(SHIPPED);
    tokenizer = await Tokenizer.fromFolder(SHIPPED);
    const out = join(dir, 'roadster-base.gguf');
    await exportGguf(model, out, { vocabulary: { folder: SHIPPED }, dtype: 'f32' });
    session = await openLlamaCpp(out, { threads: 1, contextSize: 256, kvCacheType: 'F32' });
  });
  after(() => session?.dispose());

  test('token ids of prompts equal roadster tokenizer\'s', () => {
    for (const prompt of TRICKY_TEXTS) {
      assert.deepEqual(session.model.tokenize(prompt), tokenizer.encode(prompt), JSON.stringify(prompt));
    }
  });

  test('greedy generation of 16 tokens equals greedyGenerate', async () => {
    for (const prompt of ['The old man walked down to the sea and', 'Once upon a time, there was']) {
      const ids = tokenizer.encode(prompt);
      const [expected] = await greedyGenerate(model, runtime, [ids], { maxNewTokens: NEW_TOKENS });
      await session.sequence.clearHistory();
      const actual = await llamaCppGreedy(session, ids, NEW_TOKENS);
      assert.deepEqual(actual, expected, `${JSON.stringify(prompt)}: llama.cpp ${JSON.stringify(tokenizer.decode(actual))}, roadster ${JSON.stringify(tokenizer.decode(expected))}`);
    }
  });
});

/** tiny-llama's weights with RoPE scaling in its config.json. */
function tinyLlamaWithRope(name: string, ropeScaling: Record<string, unknown>): string {
  const folder = join(dir, name);
  cpSync(TINY_LLAMA, folder, { recursive: true });
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...config, rope_scaling: ropeScaling }));
  return folder;
}

describe('llama.cpp runs the tiny fixtures (placeholder vocabulary, token ids) as roadster does', () => {
  const cases: [string, () => string][] = [
    ['tiny-llama (untied output head)', () => TINY_LLAMA],
    ['tiny-qwen2 (NEOX RoPE, q/k/v biases)', () => TINY_QWEN2],
    ['tiny-llama-linear (linear RoPE scaling, as metadata)', () => tinyLlamaWithRope('tiny-llama-linear', { type: 'linear', factor: 4 })],
    ['tiny-llama-llama3 (Llama 3.1 RoPE scaling, as rope_freqs.weight)', () =>
      tinyLlamaWithRope('tiny-llama-llama3', { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 })],
  ];
  for (const [name, folderOf] of cases) {
    test(name, async () => {
      const model = await CausalLM.fromFolder(folderOf());
      const out = join(dir, `${name.split(' ')[0]}.gguf`);
      await exportGguf(model, out, { vocabulary: 'placeholder' });
      const session = await openLlamaCpp(out, { threads: 1, contextSize: 64, kvCacheType: 'F32' });
      try {
        for (const prompt of [[5, 9, 17, 33, 65], [100, 3, 250, 7]]) {
          const [expected] = await greedyGenerate(model, runtime, [prompt], { maxNewTokens: NEW_TOKENS });
          await session.sequence.clearHistory();
          assert.deepEqual(await llamaCppGreedy(session, prompt, NEW_TOKENS), expected, `prompt ${prompt}`);
        }
      } finally {
        await session.dispose();
      }
    });
  }
});

test('GPT-2\'s own vocabulary (50,257 ids, 50,000 merges) tokenizes in llama.cpp as in roadster', async () => {
  const folder = join(dir, 'gpt2-shaped');
  writeRandomModel(folder, {
    model_type: 'llama', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2,
    num_key_value_heads: 1, vocab_size: 50257, max_position_embeddings: 64, tie_word_embeddings: true,
  }, { dtype: 'F32' });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(GPT2_TOKENIZER, f), join(folder, f));
  const out = join(dir, 'gpt2-shaped.gguf');
  await exportGguf(await CausalLM.fromFolder(folder), out, { vocabulary: { folder } });
  const tokenizer = await Tokenizer.fromFolder(folder);
  const session = await openLlamaCpp(out, { threads: 1, contextSize: 64 });
  try {
    for (const text of TRICKY_TEXTS) assert.deepEqual(session.model.tokenize(text), tokenizer.encode(text), JSON.stringify(text));
  } finally {
    await session.dispose();
  }
});
