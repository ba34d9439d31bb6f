// Greedy generation without a KV cache reproduces transformers' greedy tokens for tiny-llama exactly
// (generate_llama_greedy.json, base model): each prompt alone, and the three prompts as one left-padded batch.
// The fixture's adapter runs are the adapters' tests.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { greedyGenerate } from '../../src/generate/greedy.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

interface GreedyFixture {
  prompts: number[][];
  batch: { padding_side: string; pad_token_id: number; input_ids: number[][]; attention_mask: number[][] };
  meta: { generate_kwargs: { max_new_tokens: number } };
  runs: { base: { alone: { new_tokens: number[] }[]; batch_left_padded: { new_tokens: number[][] }; eos_token_generated: boolean } };
}

describe('greedy generation matches transformers (tiny-llama, base model)', () => {
  const fx = fixture<GreedyFixture>('generate_llama_greedy.json');
  const maxNewTokens = fx.meta.generate_kwargs.max_new_tokens;

  test('the fixture batch is the prompts left-padded with pad id 0', () => {
    const t = Math.max(...fx.prompts.map((p) => p.length));
    assert.equal(fx.batch.padding_side, 'left');
    assert.deepEqual(fx.batch.input_ids, fx.prompts.map((p) => [...new Array<number>(t - p.length).fill(fx.batch.pad_token_id), ...p]));
    assert.deepEqual(fx.batch.attention_mask, fx.prompts.map((p) => [...new Array<number>(t - p.length).fill(0), ...p.map(() => 1)]));
  });

  test('each prompt alone', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const eos = model.generationConfig!.eosTokenIds;
    for (const [i, prompt] of fx.prompts.entries()) {
      const [tokens] = await greedyGenerate(model, runtime, [prompt], { maxNewTokens, eosTokenIds: eos, padTokenId: 0 });
      assert.deepEqual(tokens, fx.runs.base.alone[i].new_tokens, `prompt ${i}`);
    }
  });

  test('the three prompts as one left-padded batch', async () => {
    const model = await CausalLM.fromFolder(TINY_LLAMA);
    const steps: (number | null)[][] = [];
    const tokens = await greedyGenerate(model, runtime, fx.prompts, {
      maxNewTokens,
      eosTokenIds: model.generationConfig!.eosTokenIds,
      padTokenId: fx.batch.pad_token_id,
      onStep: (chosen) => steps.push(chosen),
    });
    assert.deepEqual(tokens, fx.runs.base.batch_left_padded.new_tokens);
    assert.equal(fx.runs.base.eos_token_generated, false);
    assert.equal(steps.length, maxNewTokens);
    assert.deepEqual(steps[0], tokens.map((row) => row[0]));
  });
});
