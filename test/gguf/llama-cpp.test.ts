// End-to-end proof of the GGUF export: llama.cpp (through node-llama-cpp, CPU) runs the exported file and gives
// what roadster gives on the same weights. The shipped model (a Llama with a byte-level BPE tokenizer and tied
// embeddings, Q/K rows permuted in the file) must tokenize prompts to the same ids and greedily generate the
// same 16 tokens; the tiny fixtures (placeholder vocabularies) cover an untied output head (tiny-llama) and
// qwen2's NEOX RoPE with q/k/v biases (tiny-qwen2). llama.cpp runs with an F32 KV cache: its default F16 cache
// rounds K and V to 11 bits, which is not the computation roadster runs.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type LlamaCppSession, llamaCppGreedy, openLlamaCpp } from '../../src/cli/bench-llama-cpp.ts';
import { greedyGenerate } from '../../src/generate/greedy.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { exportGguf } from '../../src/models/gguf-export.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA, TINY_QWEN2 } from '../support/fixtures.ts';

const SHIPPED = 'models/roadster-base';
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
    const prompts = [
      'The old man walked down to the sea and',
      "It's 1,234.56 dollars -- isn't it?  Yes:\n\n\tno   spaces\u00a0here.",
      'caf\u00e9 na\u00efve \u00fcber \u65e5\u672c\u8a9e \ud83d\ude00 emoji',
      "   leading spaces, we'll see; they're 42nd & 7th!!",
    ];
    for (const prompt of prompts) {
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

describe('llama.cpp runs the tiny fixtures (placeholder vocabulary, token ids) as roadster does', () => {
  for (const [name, folder] of [['tiny-llama (untied output head)', TINY_LLAMA], ['tiny-qwen2 (NEOX RoPE, q/k/v biases)', TINY_QWEN2]] as const) {
    test(name, async () => {
      const model = await CausalLM.fromFolder(folder);
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
