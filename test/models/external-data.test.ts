// Models over protobuf's 2 GB limit go through ONNX external data (Qwen2.5-0.5B in float32 does: `bench
// forward` reports it). The same path, forced on tiny-llama with a zero threshold, gives the inline logits.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

test('a forward graph compiled through external data gives the inline logits', async () => {
  const model = await CausalLM.fromFolder(TINY_LLAMA);
  const graph = model.buildGraph();
  const inline = await runtime.compile(graph);
  const external = await runtime.compile(graph, { externalDataThreshold: 0 });
  assert.equal(inline.info.externalData, false);
  assert.equal(external.info.externalData, true);
  const feeds = model.feeds({ inputIds: [[3, 1, 4, 1, 5, 9, 2, 6]] });
  assert.deepEqual((await external.run(feeds)).logits, (await inline.run(feeds)).logits);
});
