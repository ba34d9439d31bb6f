// Autodiff structure tests, evaluated with the float64 reference interpreter (no ONNX Runtime needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateReference } from '../support/reference.ts';
import { grad, gradName } from '../../src/graph/autodiff.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';

const f64 = (shape: number[], values: number[]) => ({ shape, data: Float64Array.from(values) });

test('fan-out accumulates: d(x*x + x)/dx = 2x + 1', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', [3]);
  const g = grad(b.build({ loss: x.mul(x).add(x).sum() }), 'loss', ['x']);
  const out = evaluateReference(g, { x: f64([3], [1, -2, 0.5]) });
  assert.deepEqual([...(out[gradName('x')].data as Float64Array)], [3, -3, 2]);
});

test('an input the loss does not depend on gets a zero gradient', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', [2]);
  const unused = b.input('u', 'float64', [2, 2]);
  const g = grad(b.build({ loss: x.sum(), side: unused.mul(2) }), 'loss', ['u']);
  const out = evaluateReference(g, { x: f64([2], [1, 2]), u: f64([2, 2], [1, 2, 3, 4]) });
  assert.deepEqual([...(out[gradName('u')].data as Float64Array)], [0, 0, 0, 0]);
});

test('gradients flow only through float paths; comparisons and integer inputs block them', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', [3]);
  const loss = x.gt(0).where(x, x.mul(-1)).sum(); // |x|
  const g = grad(b.build({ loss }), 'loss', ['x']);
  const out = evaluateReference(g, { x: f64([3], [2, -1, 3]) });
  assert.deepEqual([...(out[gradName('x')].data as Float64Array)], [1, -1, 1]);
});

test('bad requests get typed errors', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', [3]);
  const i = b.input('i', 'int64', [3]);
  const graph = b.build({ loss: x.sum(), vec: x.mul(2), idx: i });
  assert.throws(() => grad(graph, 'nope', ['x']), { code: 'E_AUTODIFF', message: /no output named "nope"/ });
  assert.throws(() => grad(graph, 'vec', ['x']), { code: 'E_AUTODIFF', message: /must be a float scalar/ });
  assert.throws(() => grad(graph, 'loss', ['i']), { code: 'E_AUTODIFF', message: /not differentiable/ });
  assert.throws(() => grad(graph, 'loss', ['w']), { code: 'E_AUTODIFF', message: /not an input or initializer/ });
});
