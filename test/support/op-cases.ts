// The op test table: for every op, small graphs that exercise it (broadcasting and symbolic shapes included),
// used by the forward test (ONNX Runtime vs the float64 reference) and the gradient check (autodiff vs central
// finite differences in float64). `OP_CASES` is a mapped type over `Op`: an op without cases does not compile,
// and test/op-coverage.test.ts fails if an entry is empty.

import type { Dim } from '../../src/graph/dim.ts';
import { Op } from '../../src/graph/ops.ts';
import { type Tensor, concat, scatterAdd } from '../../src/graph/tracer.ts';

export interface InputSpec {
  name: string;
  /** 'float' takes the dtype of the run (float32 or float64). */
  kind: 'float' | 'int64' | 'bool';
  shape: readonly Dim[];
  /** Uniform range for random float / int values. */
  range?: readonly [number, number];
  /** Fixed values (flattened) instead of random ones; a function of the concrete shape. */
  values?: (shape: readonly number[]) => number[];
}

export interface OpCase {
  name: string;
  inputs: readonly InputSpec[];
  /** Each binding of the symbolic dims is run through one compiled graph. */
  bindings: readonly Record<string, number>[];
  fn: (...xs: Tensor[]) => Tensor;
  /** Whether the gradient check applies (false for bool/int results). */
  differentiable: boolean;
}

const f = (name: string, shape: readonly Dim[], range: readonly [number, number] = [-1.5, 1.5]): InputSpec => ({ name, kind: 'float', shape, range });
const i64 = (name: string, shape: readonly Dim[], range: readonly [number, number]): InputSpec => ({ name, kind: 'int64', shape, range });
const fixedInts = (name: string, shape: readonly Dim[], values: (shape: readonly number[]) => number[]): InputSpec => ({ name, kind: 'int64', shape, values });
const bool = (name: string, shape: readonly Dim[]): InputSpec => ({ name, kind: 'bool', shape });

const B = [{ B: 2 }, { B: 3 }];
const BT = [{ B: 2, T: 3 }, { B: 1, T: 5 }];
const one = [{}];

function diff(name: string, inputs: InputSpec[], bindings: readonly Record<string, number>[], fn: OpCase['fn']): OpCase {
  return { name, inputs, bindings, fn, differentiable: true };
}
function nodiff(name: string, inputs: InputSpec[], bindings: readonly Record<string, number>[], fn: OpCase['fn']): OpCase {
  return { name, inputs, bindings, fn, differentiable: false };
}

const binaryCases = (op: string, apply: (a: Tensor, b: Tensor) => Tensor, rangeB: readonly [number, number] = [-1.5, 1.5]) => [
  diff(`${op} same shape`, [f('a', ['B', 3]), f('b', ['B', 3], rangeB)], B, apply),
  diff(`${op} broadcast [B,1,4] with [3,1]`, [f('a', ['B', 1, 4]), f('b', [3, 1], rangeB)], B, apply),
  diff(`${op} broadcast scalar`, [f('a', [2, 3]), f('b', [], rangeB)], one, apply),
];

const unaryCase = (op: string, apply: (x: Tensor) => Tensor, range: readonly [number, number] = [-1.5, 1.5]) => [
  diff(`${op} [B,T,3]`, [f('x', ['B', 'T', 3], range)], BT, apply),
];

const compareCases = (op: string, apply: (a: Tensor, b: Tensor) => Tensor) => [
  nodiff(`${op} int64 broadcast`, [i64('a', ['B', 4], [0, 3]), i64('b', [4], [0, 3])], B, apply),
  nodiff(`${op} float`, [f('a', [3, 4]), f('b', [4])], one, apply),
];

/** A fixed [rows, cols] weight literal in x's dtype, rows of different magnitudes. */
function quantWeight(x: Tensor, rows: number, cols: number): Tensor {
  const values = Array.from({ length: rows * cols }, (_, i) => Math.sin(1.7 * i + 0.3) * (1 + Math.floor(i / cols)));
  return x.builder.constant(values, x.dtype, [rows, cols]);
}

export const OP_CASES: { [O in Op]: readonly OpCase[] } = {
  [Op.Input]: [diff('input passes through', [f('x', ['B', 2])], B, (x) => x.mul(1))],
  [Op.Initializer]: [
    diff('initializer times input', [f('x', ['B', 3])], B, (x) => x.mul(x.builder.initializer('w', Float64Array.of(0.5, -1, 2), [3]).cast(x.dtype))),
  ],
  [Op.Constant]: [diff('constant added', [f('x', [2, 3])], one, (x) => x.add(x.builder.constant([1, 2, 3], x.dtype, [3])))],
  [Op.Add]: binaryCases('add', (a, b) => a.add(b)),
  [Op.Sub]: binaryCases('sub', (a, b) => a.sub(b)),
  [Op.Mul]: binaryCases('mul', (a, b) => a.mul(b)),
  [Op.Div]: binaryCases('div', (a, b) => a.div(b), [0.5, 2]),
  [Op.Pow]: [
    diff('pow tensor exponent', [f('x', ['B', 3], [0.5, 2]), f('p', [3], [-1.5, 2])], B, (x, p) => x.pow(p)),
    diff('pow scalar exponent', [f('x', [2, 3], [0.5, 2])], one, (x) => x.pow(2.5)),
  ],
  [Op.Neg]: unaryCase('neg', (x) => x.neg()),
  [Op.Sqrt]: unaryCase('sqrt', (x) => x.sqrt(), [0.3, 2]),
  [Op.Reciprocal]: unaryCase('reciprocal', (x) => x.reciprocal(), [0.5, 2]),
  [Op.Exp]: unaryCase('exp', (x) => x.exp()),
  [Op.Log]: unaryCase('log', (x) => x.log(), [0.3, 2]),
  [Op.Sin]: unaryCase('sin', (x) => x.sin(), [-3, 3]),
  [Op.Cos]: unaryCase('cos', (x) => x.cos(), [-3, 3]),
  [Op.Sigmoid]: unaryCase('sigmoid', (x) => x.sigmoid(), [-4, 4]),
  [Op.Tanh]: unaryCase('tanh', (x) => x.tanh(), [-2, 2]),
  [Op.Erf]: unaryCase('erf', (x) => x.erf(), [-2, 2]),
  [Op.Where]: [
    diff('where broadcast', [bool('c', ['B', 1, 4]), f('a', ['B', 3, 4]), f('b', [4])], B, (c, a, b) => c.where(a, b)),
    diff('where with scalar branch', [bool('c', [2, 3]), f('a', [2, 3])], one, (c, a) => c.where(a, -1)),
  ],
  [Op.Equal]: compareCases('equal', (a, b) => a.eq(b)),
  [Op.Less]: compareCases('less', (a, b) => a.lt(b)),
  [Op.LessEqual]: compareCases('lessEqual', (a, b) => a.le(b)),
  [Op.Greater]: compareCases('greater', (a, b) => a.gt(b)),
  [Op.GreaterEqual]: compareCases('greaterEqual', (a, b) => a.ge(b)),
  [Op.And]: [nodiff('and', [bool('a', ['B', 3]), bool('b', [3])], B, (a, b) => a.and(b))],
  [Op.Or]: [nodiff('or', [bool('a', ['B', 3]), bool('b', [3])], B, (a, b) => a.or(b))],
  [Op.Not]: [nodiff('not', [bool('a', ['B', 3])], B, (a) => a.not())],
  [Op.MatMul]: [
    diff('matmul plain', [f('a', ['B', 3, 4]), f('b', [4, 5])], B, (a, b) => a.matmul(b)),
    diff('matmul transA', [f('a', [4, 3]), f('b', [4, 5])], one, (a, b) => a.matmul(b, { transA: true })),
    diff('matmul transB', [f('a', ['B', 3, 4]), f('b', [5, 4])], B, (a, b) => a.matmul(b, { transB: true })),
    diff('matmul transA transB', [f('a', [2, 4, 3]), f('b', [5, 4])], one, (a, b) => a.matmul(b, { transA: true, transB: true })),
    diff('matmul broadcast batch', [f('a', ['B', 1, 3, 4]), f('b', [2, 4, 2])], B, (a, b) => a.matmul(b)),
    diff('matmul symbolic inner', [f('a', ['B', 'T', 3]), f('b', ['B', 'T', 2])], BT, (a, b) => a.matmul(b, { transA: true })),
  ],
  [Op.QuantMatMul]: [
    diff('quantized matmul, weight transposed (a linear layer)', [f('x', ['B', 3, 4])], B, (x) => x.quantMatmul(quantWeight(x, 5, 4), { transB: true })),
    diff('quantized matmul, weight as is', [f('x', ['B', 5])], B, (x) => x.quantMatmul(quantWeight(x, 5, 4))),
    diff('quantized matmul without input rounding, weight as is (a backward pass)', [f('x', ['B', 5])], B, (x) => x.quantMatmul(quantWeight(x, 5, 4), { rounding: 'none' })),
    diff('quantized matmul without input rounding, weight transposed', [f('x', [2, 4])], one, (x) => x.quantMatmul(quantWeight(x, 3, 4), { transB: true, rounding: 'none' })),
  ],
  [Op.ReduceSum]: [
    diff('sum all', [f('x', ['B', 3, 4])], B, (x) => x.sum()),
    diff('sum axes 0,2 keepdims', [f('x', ['B', 3, 4])], B, (x) => x.sum([0, 2], true)),
    diff('sum last', [f('x', ['B', 'T', 4])], BT, (x) => x.sum(-1)),
  ],
  [Op.ReduceMean]: [
    diff('mean last keepdims', [f('x', ['B', 'T', 4])], BT, (x) => x.mean(-1, true)),
    diff('mean static axes', [f('x', [2, 3, 4])], one, (x) => x.mean([0, 1])),
  ],
  [Op.ReduceMax]: [
    diff('max last', [f('x', ['B', 3, 5])], B, (x) => x.max(-1)),
    diff('max axes 0,1 keepdims', [f('x', [3, 2, 4])], one, (x) => x.max([0, 1], true)),
  ],
  [Op.Softmax]: [
    diff('softmax last', [f('x', ['B', 'T', 5], [-3, 3])], BT, (x) => x.softmax(-1)),
    diff('softmax middle', [f('x', [2, 4, 3], [-3, 3])], one, (x) => x.softmax(1)),
  ],
  [Op.LogSoftmax]: [
    diff('logSoftmax last', [f('x', ['B', 'T', 5], [-3, 3])], BT, (x) => x.logSoftmax(-1)),
    diff('logSoftmax first', [f('x', [4, 3], [-3, 3])], one, (x) => x.logSoftmax(0)),
  ],
  [Op.Reshape]: [
    diff('reshape merge symbolic', [f('x', ['B', 'T', 4])], BT, (x) => x.reshape(['B*T', 2, 2])),
    diff('reshape infer', [f('x', ['B', 6])], B, (x) => x.reshape(['B', -1, 2])),
  ],
  [Op.Transpose]: [diff('transpose', [f('x', ['B', 3, 4])], B, (x) => x.transpose([2, 0, 1]))],
  [Op.Slice]: [
    diff('slice drop last (T-1)', [f('x', ['B', 'T', 3])], BT, (x) => x.slice(1, 0, -1)),
    diff('slice drop first', [f('x', ['B', 'T', 3])], BT, (x) => x.slice(1, 1)),
    diff('slice static middle', [f('x', [2, 6])], one, (x) => x.slice(1, 2, 5)),
  ],
  [Op.Pad]: [
    diff('pad static', [f('x', [2, 3])], one, (x) => x.pad(1, 2, 1)),
    diff('pad symbolic', [f('x', ['B', 'T'])], BT, (x) => x.pad(0, 1, 'T')),
  ],
  [Op.Concat]: [
    diff('concat last', [f('a', ['B', 2]), f('b', ['B', 3])], B, (a, b) => concat([a, b], -1)),
    diff('concat symbolic axis', [f('a', ['B', 'T', 2]), f('b', ['B', 2, 2])], BT, (a, b) => concat([a, b, a], 1)),
  ],
  [Op.Split]: [
    diff('split, all outputs used', [f('x', ['B', 5])], B, (x) => {
      const [p, q] = x.split(1, [2, 3]);
      return concat([q, p.mul(2)], 1);
    }),
    diff('split, one output unused', [f('x', [2, 'T'])], [{ T: 3 }, { T: 6 }], (x) => x.split(1, [1, 'T-1'])[1]),
  ],
  [Op.Expand]: [
    diff('expand to symbolic', [f('x', [1, 4]), f('y', ['B', 3, 4])], B, (x, y) => x.expand(['B', 3, 4]).mul(y)),
    diff('expand static', [f('x', [3, 1])], one, (x) => x.expand([2, 3, 4])),
  ],
  [Op.Squeeze]: [diff('squeeze', [f('x', ['B', 1, 3, 1])], B, (x) => x.squeeze([1, 3]))],
  [Op.Unsqueeze]: [diff('unsqueeze', [f('x', ['B', 3])], B, (x) => x.unsqueeze([0, 2]))],
  [Op.Gather]: [
    diff('gather rows with repeats', [f('w', [5, 3]), fixedInts('i', ['B', 'T'], (s) => Array.from({ length: s[0] * s[1] }, (_, k) => (k * 3) % 5))], BT, (w, i) => w.gather(i, 0)),
    diff('gather axis 1', [f('x', ['B', 4, 2]), fixedInts('i', [3], () => [3, 0, 3])], B, (x, i) => x.gather(i, 1)),
    // a literal permutation: the gradient is the inverse permutation, not a scatter
    diff('gather a literal permutation (halves swapped)', [f('x', ['B', 2, 3])], B, (x) => x.gather(x.builder.constant([1, 0], 'int64', [2]), 1)),
  ],
  [Op.ScatterAdd]: [
    diff('scatterAdd repeated indices', [fixedInts('i', [4], () => [1, 0, 1, 3]), f('u', ['B', 4, 2])], B, (i, u) => scatterAdd(i, u, 1, 5)),
  ],
  [Op.Cast]: [
    diff('cast float to float64', [f('x', ['B', 3])], B, (x) => x.cast('float64')),
    nodiff('cast int64 to float32', [i64('x', ['B', 3], [-5, 5])], B, (x) => x.cast('float32')),
    nodiff('cast bool to int64', [bool('x', ['B', 3])], B, (x) => x.cast('int64')),
  ],
  [Op.CrossEntropy]: [
    diff(
      'crossEntropy with ignored labels',
      [f('z', ['B', 'T', 6], [-3, 3]), fixedInts('y', ['B', 'T'], (s) => Array.from({ length: s[0] * s[1] }, (_, k) => (k % 4 === 1 ? -100 : (k * 5) % 6)))],
      BT,
      (z, y) => z.crossEntropy(y),
    ),
  ],
};
