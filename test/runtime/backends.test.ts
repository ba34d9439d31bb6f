// One runtime, two ONNX Runtime builds: the graphs that train and generate run on onnxruntime-web (its
// WebAssembly build, here in Node) with onnxruntime-node's numbers, and the standard-ops lowering (no contrib
// operators) gives the contrib lowering's numbers on onnxruntime-node too, for float32 and int8 weights.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { lowerToOnnx } from '../../src/graph/onnx/lower.ts';
import { quantizeFrozenMatMuls } from '../../src/graph/quantize.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { BaseRuntime, type QuantizeWeights } from '../../src/runtime/base-runtime.ts';
import { NODE_BACKEND } from '../../src/runtime/node-backend.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { sha256Hasher } from '../../src/runtime/sha256.ts';
import { WebRuntime } from '../../src/runtime/web-runtime.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';

const runtimes: BaseRuntime[] = [];
after(async () => {
  for (const r of runtimes) await r.release();
});
const keep = <R extends BaseRuntime>(r: R): R => (runtimes.push(r), r);

const base = await CausalLM.fromFolder(TINY_LLAMA);
const ids = [[1, 5, 9, 22, 7, 3, 11, 4], [2, 8, 6, 30, 12, 9, 0, 0]];
const batch = { inputIds: ids, attentionMask: [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0, 0]], labels: ids };
const config = roadConfig({ variant: 'road_2', groupSize: 8, targetModules: 'all-linear' });

async function lossAndGrads(runtime: BaseRuntime) {
  const peft = PeftModel.getPeftModel(base, runtime as Runtime, config);
  // a non-identity adapter, so that the gradients flow through every rotation
  for (const site of peft.parameters('default').values()) for (const p of Object.values(site)) p.forEach((_, i) => (p[i] += 0.01 * Math.sin(i)));
  return peft.lossAndGrads(batch);
}

function assertClose(a: { loss: number; grads: Map<string, ArrayLike<number>> }, b: typeof a, rtol: number, atol: number): void {
  assert.ok(Math.abs(a.loss - b.loss) <= rtol * Math.abs(b.loss), `loss ${a.loss} vs ${b.loss}`);
  assert.deepEqual([...a.grads.keys()], [...b.grads.keys()]);
  for (const [name, g] of a.grads) {
    const h = b.grads.get(name)!;
    for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - h[i]) <= atol + rtol * Math.abs(h[i]), `${name}[${i}]: ${g[i]} vs ${h[i]}`);
  }
}

const STANDARD_NODE = { ...NODE_BACKEND, contribOps: false };

for (const q of ['none', 'int8', 'int8-all'] as const satisfies readonly QuantizeWeights[]) {
  test(`lowering for standard ops (${q} weights) uses only the default ONNX domain and gives onnxruntime-node the contrib lowering's numbers`, async () => {
    const graph = base.buildGraph({ withLoss: true });
    const g = q === 'none' ? graph : quantizeFrozenMatMuls(graph, { roundCotangents: q === 'int8-all' });
    const standard = lowerToOnnx(g, { contribOps: false }).model;
    assert.deepEqual(standard.opsetImport!.map((o) => o.domain), ['']);
    assert.ok(standard.graph!.node!.every((n) => (n.domain ?? '') === ''));
    assert.ok(lowerToOnnx(g).model.graph!.node!.some((n) => n.domain === 'com.microsoft'), 'the default lowering does use contrib ops');
    const contrib = await lossAndGrads(keep(new Runtime({ threads: 1, quantizeWeights: q })));
    const plain = await lossAndGrads(keep(new BaseRuntime(STANDARD_NODE, { threads: 1, quantizeWeights: q })));
    // int8-all rounds output gradients with DynamicQuantizeLinear instead of DynamicQuantizeMatMul's fused kernel
    assertClose(plain, contrib, q === 'int8-all' ? 2e-3 : 1e-5, q === 'int8-all' ? 1e-5 : 1e-7);
  });
}

test('onnxruntime-web (WebAssembly, 2 threads) gives onnxruntime-node\'s loss and gradients, with and without contrib ops', async () => {
  const node = await lossAndGrads(keep(new Runtime({ threads: 2 })));
  assertClose(await lossAndGrads(keep(new WebRuntime({ threads: 2, contribOps: true }))), node, 1e-5, 1e-7);
  assertClose(await lossAndGrads(keep(new WebRuntime({ threads: 2, contribOps: false }))), node, 1e-5, 1e-7);
});

test('the TypeScript SHA-256 (the browser\'s session-cache key) equals node:crypto\'s', () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 1000, 70_000]) {
    const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 255);
    const h = sha256Hasher();
    h.update('graph\n');
    h.update(bytes.subarray(0, size >> 1));
    h.update(bytes.subarray(size >> 1));
    assert.equal(h.digest(), createHash('sha256').update('graph\n').update(bytes).digest('hex'), `${size} bytes`);
  }
});
