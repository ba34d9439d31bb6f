// Int8 weight quantization (Runtime option quantizeWeights: "int8"): the per-row quantizer's numbers, the graph
// pass (which matmuls it rewrites, and that only forward products round their input), whole-model numbers against the float64 reference interpreter, exact
// gradients of the quantized model (finite differences through a graph with frozen weights) and the lowered
// model keeping only the int8 copies of the quantized weights.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { PeftModel } from '../../src/adapters/peft-model.ts';
import { grad } from '../../src/graph/autodiff.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Op, type OpParams } from '../../src/graph/ops.ts';
import { lowerToOnnx } from '../../src/graph/onnx/lower.ts';
import { dequantizeRows, quantizeFrozenMatMuls, quantizeRows } from '../../src/graph/quantize.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { float32, float64 } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA } from '../support/fixtures.ts';
import { checkGradients } from '../support/grad-check.ts';
import { evaluateReference } from '../support/reference.ts';

const int8 = new Runtime({ threads: 1, quantizeWeights: 'int8' });
const plain = new Runtime({ threads: 1 });
after(() => Promise.all([int8.release(), plain.release()]));

test('quantizeRows: scale max|row|/127, ties away from zero, zero rows, non-finite rows refused', () => {
  const w = Float32Array.of(31.75, 0.375, -0.375, 0.1, 0, 0, 0, 0);
  const q = quantizeRows(w, 2, 4);
  assert.deepEqual([...q.scale], [0.25, 1]);
  assert.deepEqual([...q.q], [127, 2, -2, 0, 0, 0, 0, 0]);
  assert.deepEqual([...dequantizeRows(q, false)], [31.75, 0.5, -0.5, 0, 0, 0, 0, 0]);
  assert.deepEqual([...dequantizeRows(q, true)], [31.75, 0, 0.5, 0, -0.5, 0, 0, 0]);
  assert.throws(() => quantizeRows(Float32Array.of(1, NaN), 1, 2), { code: 'E_WEIGHTS' });
  assert.throws(() => quantizeRows(Float32Array.of(1, 2, 3), 2, 2), { code: 'E_SHAPE' });
});

test('the pass rewrites the projections and the head, not attention; a graph without frozen matmuls is returned as is', async () => {
  const model = await CausalLM.fromFolder(TINY_LLAMA);
  const graph = model.buildGraph();
  const rewritten = quantizeFrozenMatMuls(graph);
  const count = (op: Op) => rewritten.nodes.filter((n) => n.op === op).length;
  assert.equal(count(Op.QuantMatMul), model.linearSites().length + 1);
  assert.equal(count(Op.MatMul), 2 * model.config.numHiddenLayers); // QKᵀ and PV
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3]);
  const g = b.build({ y: x.matmul(b.input('w', 'float32', [3, 2])) });
  assert.equal(quantizeFrozenMatMuls(g), g);
});

test('in a backward pass, the forward product rounds its input to 8 bits and the cotangent product does not (unless asked)', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 3]);
  const w = b.initializer('w', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
  const training = grad(b.build({ loss: x.matmul(w, { transB: true }).sum() }), 'loss', ['x']);
  const quantized = (roundCotangents: boolean) =>
    quantizeFrozenMatMuls(training, { roundCotangents }).nodes.filter((n) => n.op === Op.QuantMatMul).map((n) => [n.cotangent === true, n.params]);
  assert.deepEqual(quantized(false), [
    [false, { transB: true, rounding: 'row' }],
    [true, { transB: false, rounding: 'none' }],
  ]);
  // "int8-all": the cotangent product runs the int8 kernel too
  assert.deepEqual(quantized(true), [
    [false, { transB: true, rounding: 'row' }],
    [true, { transB: false, rounding: 'tensor' }],
  ]);
});

test('int8-all: the output head gradient (softmax probabilities) stays float, the other cotangent products round', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 3]);
  const labels = b.input('labels', 'int64', ['B']);
  const w1 = b.initializer('w1', Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), [3, 3]);
  const head = b.initializer('head', Float32Array.of(1, -1, 2, 0.5, 3, -2, 1, 1, 1, -3, 0, 2), [4, 3]);
  const h = x.matmul(w1, { transB: true }).silu(); // [B, 3]
  const loss = h.matmul(head, { transB: true }).crossEntropy(labels, -100); // []
  const training = grad(b.build({ loss }), 'loss', ['x']);
  const rewritten = quantizeFrozenMatMuls(training, { roundCotangents: true });
  const weightOf = (n: (typeof rewritten.nodes)[number]) => rewritten.nodes[rewritten.values[n.inputs[1]].node].name;
  const products = rewritten.nodes.filter((n) => n.op === Op.QuantMatMul).map((n) => [weightOf(n), n.cotangent === true, (n.params as OpParams[Op.QuantMatMul]).rounding]);
  assert.deepEqual(products.sort(), [
    ['head', false, 'row'],
    ['head', true, 'none'],
    ['w1', false, 'row'],
    ['w1', true, 'tensor'],
  ]);
});

test('8-bit input rounding is per row: a row 10⁶ times smaller than another is rounded the same way', async () => {
  const k = 64;
  const w = Float32Array.from({ length: 3 * k }, (_, i) => Math.sin(0.7 * i + 0.1));
  const base = Array.from({ length: k }, (_, t) => Math.cos(1.3 * t));
  const q = dequantizeRows(quantizeRows(w, 3, k), true); // Q(w)ᵀ [k, 3]
  const exact = [0, 1, 2].map((j) => base.reduce((acc, v, t) => acc + v * q[t * 3 + j], 0));
  for (const transB of [true, false]) {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['N', k]);
    // transB: w [3, k]; not transposed: Q(w)ᵀ [k, 3], which quantizes to itself per row
    const weight = transB ? b.initializer('w', w, [3, k]) : b.initializer('w', Float32Array.from(q), [k, 3]);
    const feeds = { x: float32([2, k], [...base.map((v) => v * 1e3), ...base.map((v) => v * 1e-3)]) };
    const { y } = await (await int8.compile(b.build({ y: x.quantMatmul(weight, { transB }) }))).run(feeds);
    const [big, small] = [0, 1].map((r) => Float64Array.from((y.data as Float32Array).slice(3 * r, 3 * r + 3)));
    assert.ok(relativeError(big.map((v) => v * 1e-3), Float64Array.from(exact)) < 0.02, `transB ${transB}: 8-bit error`);
    // per tensor, the small row would round to zero
    assert.ok(relativeError(small.map((v) => v * 1e3), big.map((v) => v * 1e-3)) < 1e-5, `transB ${transB}: rows rounded alike`);
  }
});

test('the lowered model keeps only int8 copies of the quantized weights (plus the embedding the lookup needs)', async () => {
  const model = await CausalLM.fromFolder(TINY_LLAMA);
  const lowered = lowerToOnnx(quantizeFrozenMatMuls(model.buildGraph()));
  const names = new Set(lowered.model.graph!.initializer!.map((t) => t.name!));
  for (const site of model.linearSites()) {
    assert.ok(!names.has(`${site.path}.weight`), `${site.path}.weight is still there`);
    assert.ok(names.has(`${site.path}.weight.int8T`), `${site.path}.weight.int8T is missing`);
  }
  assert.ok(names.has('model.embed_tokens.weight'));
  assert.deepEqual(lowered.model.opsetImport!.map((o) => o.domain), ['', 'com.microsoft']);
  // the per-row rounding's temporaries declare their shapes ([B*T, K] and so on), so ORT can plan their memory
  const declared = new Map(lowered.model.graph!.valueInfo!.map((v) => [v.name!, v.type!.tensorType!.shape!.dim!]));
  const temps = lowered.model.graph!.node!.filter((n) => ['Abs', 'QuantizeLinear', 'MatMulIntegerToFloat'].includes(n.opType!));
  assert.equal(temps.length, 3 * model.linearSites().length + 3, 'one of each per projection and for the head');
  for (const n of temps) assert.equal(declared.get(n.output![0])?.[0]?.dimParam, 'B*T', `${n.name} is declared`);
});

test('whole model, float64 and float32: ONNX Runtime matches the reference interpreter of the quantized graph', async () => {
  const model = await CausalLM.fromFolder(TINY_LLAMA);
  const batch = { inputIds: [[1, 5, 9, 20, 7, 3], [4, 4, 8, 15, 16, 23]] };
  for (const dtype of ['float64', 'float32'] as const) {
    const graph = model.buildGraph({ dtype });
    const feeds = model.feeds(batch, dtype);
    const { logits } = await (await int8.compile(graph)).run(feeds);
    const refFeeds = Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [k, { shape: [...v.shape], data: v.data instanceof Float32Array ? Float64Array.from(v.data) : v.data }]),
    );
    const ref = evaluateReference(quantizeFrozenMatMuls(graph), refFeeds).logits.data as Float64Array;
    const err = relativeError(Float64Array.from(logits.data as Float32Array | Float64Array), ref);
    assert.ok(err <= (dtype === 'float64' ? 1e-10 : 1e-4), `${dtype}: relative error ${err}`);
    // and it is a different model from the float one, by about the quantization error
    const { logits: exact } = await (await plain.compile(graph)).run(feeds);
    const drift = relativeError(Float64Array.from(logits.data as Float32Array | Float64Array), Float64Array.from(exact.data as Float32Array | Float64Array));
    assert.ok(drift > 1e-6 && drift < 0.1, `${dtype}: quantized vs float drift ${drift}`);
  }
});

test('float32 training graph, int8 and int8-all: ONNX Runtime matches the reference interpreter of the quantized graph', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 8]);
  const w1 = b.initializer('w1', Float32Array.from({ length: 48 }, (_, i) => Math.sin(i + 0.5)), [6, 8]);
  const w2 = b.initializer('w2', Float32Array.from({ length: 24 }, (_, i) => Math.cos(2 * i)), [6, 4]);
  const y = x.matmul(w1, { transB: true }).tanh().matmul(w2); // [B, 4]
  const graph = grad(b.build({ loss: y.mul(y).sum() }), 'loss', ['x']);
  const xs = Array.from({ length: 24 }, (_, i) => Math.sin(3 * i) * (i < 8 ? 10 : 0.1));
  const int8All = new Runtime({ threads: 1, quantizeWeights: 'int8-all' });
  try {
    for (const [runtime, roundCotangents] of [[int8, false], [int8All, true]] as const) {
      const out = await (await runtime.compile(graph)).run({ x: float32([3, 8], xs) });
      const ref = evaluateReference(quantizeFrozenMatMuls(graph, { roundCotangents }), { x: { shape: [3, 8], data: Float64Array.from(xs) } });
      for (const name of ['loss', 'grad.x']) {
        const err = relativeError(Float64Array.from(out[name].data as Float32Array), ref[name].data as Float64Array);
        assert.ok(err < 1e-5, `${roundCotangents ? 'int8-all' : 'int8'} ${name}: relative error ${err}`);
      }
    }
  } finally {
    await int8All.release();
  }
});

test('training graphs leave no per-layer value undeclared: what lacks a declared shape is the shared dims arithmetic', async () => {
  const full = await CausalLM.fromFolder(TINY_LLAMA);
  /** A runtime that keeps the graph it is asked to compile instead of compiling it. */
  class Capture extends Runtime {
    graph: Graph | undefined;
    override compile(graph: Graph): Promise<never> {
      this.graph = graph;
      return Promise.reject(new Error('captured'));
    }
  }
  const undeclared = async (layers: number, roundCotangents: boolean | null) => {
    const config = { ...full.config, numHiddenLayers: layers, layerTypes: full.config.layerTypes.slice(0, layers) };
    const capture = new Capture();
    const peft = PeftModel.getPeftModel(new CausalLM(config, full.weights), capture, roadConfig({ groupSize: 4, targetModules: 'all-linear' }));
    await peft.lossAndGrads({ inputIds: [[1, 2, 3]], labels: [[1, 2, 3]] }).catch(() => undefined);
    const graph = roundCotangents === null ? capture.graph! : quantizeFrozenMatMuls(capture.graph!, { roundCotangents });
    const { model } = lowerToOnnx(graph);
    const declared = new Set([...model.graph!.valueInfo!, ...model.graph!.output!].map((v) => v.name));
    return model.graph!.node!.flatMap((n) => n.output!.filter((o) => !declared.has(o)).map(() => n.opType)).sort();
  };
  for (const mode of [null, false, true]) {
    const [one, two] = [await undeclared(1, mode), await undeclared(2, mode)];
    assert.deepEqual(two, one, `quantize ${mode}: a second layer adds undeclared values`);
    assert.ok(one.every((op) => ['Shape', 'Concat', 'Mul', 'Add'].includes(op!)), `quantize ${mode}: ${one.join(', ')}`);
  }
});

test('gradients through quantized frozen weights are exact for the quantized model (finite differences, float64)', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', ['B', 4]);
  const w1 = b.initializer('w1', Float64Array.from({ length: 12 }, (_, i) => Math.sin(i + 0.5)), [3, 4]);
  const w2 = b.initializer('w2', Float64Array.from({ length: 6 }, (_, i) => Math.cos(2 * i)), [3, 2]);
  const h = x.matmul(w1, { transB: true }).tanh(); // [B, 3]
  const y = h.matmul(w2); // [B, 2]
  const graph = b.build({ loss: y.mul(y).sum() });
  const feeds = { x: float64([2, 4], Array.from({ length: 8 }, (_, i) => 0.3 * i - 1)) };
  const worst = await checkGradients(int8, graph, feeds, ['x'], { what: 'two frozen quantized matmuls' });
  assert.ok(worst <= 1e-6);
});
