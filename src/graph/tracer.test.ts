import assert from 'node:assert/strict';
import { test } from 'node:test';
import { liveNodes } from './ir.ts';
import { Op } from './ops.ts';
import { printGraph } from './printer.ts';
import { GraphBuilder } from './tracer.ts';

test('shape mismatches are reported at trace time with both shapes and the op name', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 'T', 8]);
  const w = b.input('w', 'float32', [6, 4]);
  assert.throws(() => x.matmul(w).named('proj'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_SHAPE');
    assert.match(e.message, /MatMul/);
    assert.match(e.message, /\[B, T, 8\]/);
    assert.match(e.message, /\[6, 4\]/);
    return true;
  });
  assert.throws(() => x.add(b.input('y', 'float32', [3, 5])), { code: 'E_SHAPE', message: /cannot broadcast \[B, T, 8\] with \[3, 5\]/ });
  assert.throws(() => x.add(b.input('i', 'int64', [8])), { code: 'E_SHAPE', message: /dtypes differ/ });
  assert.throws(() => x.reshape([-1, 3]), { code: 'E_SHAPE', message: /cannot infer -1/ });
  assert.throws(() => b.input('x', 'float32', [1]), { code: 'E_GRAPH' });
});

test('symbolic shapes flow through slicing and reshapes', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 'T', 8]);
  const y = x.slice(1, 0, -1); // [B, T-1, 8]
  assert.deepEqual(y.shape, ['B', 'T-1', 8]);
  assert.deepEqual(y.reshape([-1, 8]).shape, ['B*T-B', 8]);
  assert.deepEqual(x.slice(1, 1).shape, ['B', 'T-1', 8]);
  assert.deepEqual(x.reshape(['B*T', 2, 4]).shape, ['B*T', 2, 4]);
});

test('arithmetic broadcasts an expanded operand instead of reading the Expand when the result shape is the same', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 'T', 8]);
  const mean = x.mean(-1, true); // [B, T, 1]
  const y = mean.expand(['B', 'T', 8]).mul(x);
  assert.deepEqual(y.shape, ['B', 'T', 8]);
  const graph = b.build({ y });
  const mul = graph.nodes.find((n) => n.op === Op.Mul)!;
  assert.deepEqual(mul.inputs, [mean.id, x.id], 'the Mul reads the [B, T, 1] mean');
  assert.equal(liveNodes(graph).some((n) => n.op === Op.Expand), false, 'the Expand is dead');
  // broadcasting [1, 3] against [3] gives [1, 3], not the expanded [2, 3]: the Expand stays
  const row = b.input('row', 'float32', [1, 3]);
  const z = row.expand([2, 3]).add(b.input('v', 'float32', [3]));
  assert.deepEqual(z.shape, [2, 3]);
  assert.equal(liveNodes(b.build({ z })).some((n) => n.op === Op.Expand), true);
  // both operands expanded from [1, 1]: one of them keeps its Expand, so the sum is still [2, 3]
  const one = b.input('one', 'float32', [1, 1]);
  assert.deepEqual(one.expand([2, 3]).add(one.expand([2, 3])).shape, [2, 3]);
});

test('the printer shows one line per node with names, dtypes and shapes', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 4]);
  const w = b.initializer('w', new Float32Array(8), [2, 4]);
  const y = b.scope('layer', () => x.matmul(w, { transB: true }).named('proj').softmax(-1));
  const text = printGraph(b.build({ y }));
  assert.equal(
    text,
    [
      '%0: float32[B, 4] = Input() "x"  # x',
      '%1: float32[2, 4] = Initializer() "w"  # w',
      '%2: float32[B, 2] = MatMul(%0, %1) {transA: false, transB: true}  # layer/proj',
      '%3: float32[B, 2] = Softmax(%2) {axis: 1}  # layer/Softmax',
      'output y = %3',
    ].join('\n'),
  );
});
