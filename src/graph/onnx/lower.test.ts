// Structure of lowered models, without running them: the rule table covers every op, ONNX names follow the
// IR names, symbolic dims are computed once per graph, graph inputs and outputs carry the right value infos,
// only live nodes are lowered, and float64 Erf avoids the missing ORT kernel.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALL_OPS } from '../ops.ts';
import { GraphBuilder } from '../tracer.ts';
import { lowerToOnnx } from './lower.ts';
import { LOWER_RULES } from './lower-rules.ts';
import { onnx } from './proto.ts';

const opTypes = (m: ReturnType<typeof lowerToOnnx>) => m.model.graph!.node!.map((n) => n.opType);

describe('lowerToOnnx', () => {
  test('has a rule for every op', () => {
    for (const op of ALL_OPS) assert.equal(typeof LOWER_RULES[op], 'function', op);
  });

  test('names ONNX nodes and values after IR nodes and declares opset 17, IR 8', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float64', ['B', 4]);
    const w = b.initializer('proj.weight', new Float64Array(12), [3, 4]);
    const y = b.scope('layers.0', () => x.matmul(w, { transB: true }).named('q_proj'));
    const { model } = lowerToOnnx(b.build({ y, h: y.tanh() }));
    const g = model.graph!;
    assert.equal(model.irVersion, 8);
    assert.deepEqual(model.opsetImport, [{ domain: '', version: 17 }]);
    assert.deepEqual(g.initializer!.map((t) => t.name), ['proj.weight']);
    const mm = g.node!.find((n) => n.opType === 'MatMul')!;
    assert.equal(mm.name, 'layers.0/q_proj');
    assert.deepEqual(mm.output, ['y']); // a graph output names its value directly
    const tr = g.node!.find((n) => n.opType === 'Transpose')!;
    assert.equal(tr.name, 'layers.0/q_proj/Transpose');
    assert.deepEqual(tr.input, ['proj.weight']);
    assert.deepEqual(g.node!.find((n) => n.opType === 'Tanh')!.output, ['h']);
  });

  test('float32 products with a transpose go to FusedMatMul in the com.microsoft domain, no Transpose node', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['B', 4]);
    const w = b.initializer('proj.weight', new Float32Array(12), [3, 4]);
    const { model } = lowerToOnnx(b.build({ y: x.matmul(w, { transB: true }) }));
    const g = model.graph!;
    assert.deepEqual(model.opsetImport, [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }]);
    assert.deepEqual(g.node!.map((n) => [n.opType, n.domain ?? '']), [['FusedMatMul', 'com.microsoft']]);
    assert.deepEqual(g.node![0].attribute!.map((a) => [a.name, Number(a.i)]), [['transA', 0], ['transB', 1]]);
  });

  test('inputs carry dim_param for symbols and dim_value for static dims', () => {
    const b = new GraphBuilder();
    const ids = b.input('input_ids', 'int64', ['B', 'T']);
    const e = b.input('emb', 'float32', [10, 4]);
    const { model } = lowerToOnnx(b.build({ y: e.gather(ids) }));
    const input = model.graph!.input!;
    assert.deepEqual(input.map((i) => i.name), ['input_ids', 'emb']);
    assert.deepEqual(input[0].type!.tensorType!.shape!.dim, [{ dimParam: 'B' }, { dimParam: 'T' }]);
    assert.equal(input[0].type!.tensorType!.elemType, onnx.TensorProto.DataType.INT64);
    assert.deepEqual(input[1].type!.tensorType!.shape!.dim, [{ dimValue: 10 }, { dimValue: 4 }]);
  });

  test('computes each symbolic dim once per graph, from a Shape slice of the input that binds it', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['B', 'T', 4]);
    // T at axis 0 and B*2 at axis 1 are not the input's dims there: the shape is computed at run time
    const flat = x.reshape(['T', 'B*2', 2]);
    const again = x.tanh().reshape(['T', 'B*2', 2]);
    const head = x.slice(1, 0, -1); // end "T-1"
    const { model } = lowerToOnnx(b.build({ flat, again, head }));
    const nodes = model.graph!.node!;
    const shapes = nodes.filter((n) => n.opType === 'Shape');
    assert.equal(shapes.length, 2, 'one Shape per symbol');
    assert.deepEqual(shapes.map((n) => n.input), [['x'], ['x']]);
    assert.equal(nodes.filter((n) => n.opType === 'Mul').length, 1, 'B*2 computed once');
    const reshapes = nodes.filter((n) => n.opType === 'Reshape');
    assert.equal(reshapes.length, 2);
    assert.equal(reshapes[0].input![1], reshapes[1].input![1], 'the same shape value feeds both reshapes');
    assert.deepEqual(reshapes[0].attribute!.map((a) => [a.name, a.i]), [['allowzero', 1]]);
  });

  test('reshapes and expands with constant shape operands where symbolic dims stay on their axis', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['B', 'T', 4]);
    const split = x.reshape(['B', 'T', 2, 2]); // [0, 0, 2, 2]
    const flat = x.reshape(['B*T', 4]); // [-1, 4]
    const wide = x.sum([2], true).expand(['B', 'T', 3]); // [1, 1, 3]
    const { model } = lowerToOnnx(b.build({ split, flat, wide }));
    const nodes = model.graph!.node!;
    assert.equal(nodes.filter((n) => n.opType === 'Shape').length, 0, 'no shape computed at run time');
    const int64s = (name: string) => {
      const t = model.graph!.initializer!.find((i) => i.name === name)!;
      return [...new BigInt64Array(t.rawData!.slice().buffer)].map(Number);
    };
    const reshapes = nodes.filter((n) => n.opType === 'Reshape');
    assert.deepEqual(reshapes.map((n) => int64s(n.input![1])), [[0, 0, 2, 2], [-1, 4]]);
    assert.deepEqual(reshapes.map((n) => n.attribute!.map((a) => [a.name, a.i])), [[['allowzero', 0]], [['allowzero', 0]]]);
    assert.deepEqual(int64s(nodes.find((n) => n.opType === 'Expand')!.input![1]), [1, 1, 3]);
  });

  test('declares the shape of every computed value, composite dims named by their expression', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['B', 'T', 4]);
    const y = x.tanh().reshape(['B*T', 4]).exp();
    const { model } = lowerToOnnx(b.build({ y }));
    const infos = new Map(model.graph!.valueInfo!.map((v) => [v.name, v.type!.tensorType!.shape!.dim]));
    const tanh = model.graph!.node!.find((n) => n.opType === 'Tanh')!.output![0];
    const reshaped = model.graph!.node!.find((n) => n.opType === 'Reshape')!.output![0];
    assert.deepEqual(infos.get(tanh), [{ dimParam: 'B' }, { dimParam: 'T' }, { dimValue: 4 }]);
    assert.deepEqual(infos.get(reshaped), [{ dimParam: 'B*T' }, { dimValue: 4 }]);
    assert.equal(infos.has('y'), false, 'graph outputs are declared as outputs');
  });

  test('lowers only live nodes but keeps every graph input', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    b.input('unused', 'float32', [3]);
    x.exp(); // dead
    const { model, inputs } = lowerToOnnx(b.build({ y: x.neg() }));
    assert.deepEqual(opTypes({ model, inputs, outputs: [], hasFloat64: false }), ['Neg']);
    assert.deepEqual(inputs.map((i) => i.name), ['x', 'unused']);
  });

  test('aliases outputs that are leaves or share a value through Identity', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    const w = b.initializer('w', new Float32Array(2), [2]);
    const y = x.add(w);
    const { model } = lowerToOnnx(b.build({ a: y, b: y, c: x, d: w }));
    const ids = model.graph!.node!.filter((n) => n.opType === 'Identity');
    assert.deepEqual(ids.map((n) => [n.input![0], n.output![0]]), [['a', 'b'], ['x', 'c'], ['w', 'd']]);
    assert.deepEqual(model.graph!.output!.map((o) => o.name), ['a', 'b', 'c', 'd']);
  });

  test('float64 Erf becomes a series (ORT has no float64 Erf kernel); float32 Erf stays Erf', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const b = new GraphBuilder();
      const lowered = lowerToOnnx(b.build({ y: b.input('x', dtype, [3]).erf() }));
      assert.equal(opTypes(lowered).includes('Erf'), dtype === 'float32');
      assert.equal(lowered.hasFloat64, dtype === 'float64');
    }
  });

  test('initializers view the host array (no copy)', () => {
    const b = new GraphBuilder();
    const data = new Float32Array([1, 2, 3]);
    const { model } = lowerToOnnx(b.build({ y: b.input('x', 'float32', [3]).mul(b.initializer('w', data, [3])) }));
    const raw = model.graph!.initializer!.find((t) => t.name === 'w')!.rawData!;
    assert.equal(raw.buffer, data.buffer);
    assert.equal(raw.byteLength, 12);
  });

  test('a symbolic dim no input binds is an E_ONNX error', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 3]);
    assert.throws(() => lowerToOnnx(b.build({ y: x.expand(['N', 3]) })), (e: Error & { code?: string }) => e.code === 'E_ONNX' && /"N"/.test(e.message));
  });

  test('bool ordered comparisons and bool Where lower to logic (no ONNX typing / ORT kernel)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'bool', [2]);
    const y = b.input('y', 'bool', [2]);
    const lowered = lowerToOnnx(b.build({ lt: x.lt(y), w: x.where(y, x) }));
    assert.deepEqual(opTypes(lowered).sort(), ['And', 'And', 'And', 'Not', 'Not', 'Or'].sort());
  });
});
