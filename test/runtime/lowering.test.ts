// Every op lowered to ONNX and run by ONNX Runtime, in float32 and float64, against hand-computed or
// obviously-correct expected values: symbolic batch/sequence dims, broadcasting, multi-output Split, Slice to
// "T-1", Reshape to "B*T", Expand to a symbolic shape, ScatterAdd with repeated indices, CrossEntropy with
// ignored labels, MatMul with every transpose combination. The case table is a mapped type over `Op`, so a new
// op without a case is a compile error.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TOLERANCE, assertAllClose } from '../support/all-close.ts';
import type { DType } from '../../src/graph/dtype.ts';
import { ALL_OPS, Op } from '../../src/graph/ops.ts';
import { GraphBuilder, type Tensor, concat, scatterAdd } from '../../src/graph/tracer.ts';
import { type HostTensor, bool, float32, float64, int64, toNumbers } from '../../src/runtime/host-tensor.ts';
import { Runtime } from '../../src/runtime/runtime.ts';

type FloatDType = 'float32' | 'float64';
type Expected = { shape: number[]; values: number[] };
interface Case {
  name: string;
  build(b: GraphBuilder, dt: FloatDType): Record<string, Tensor>;
  feeds(dt: FloatDType): Record<string, HostTensor>;
  expect: Record<string, Expected>;
}

const f = (dt: FloatDType, shape: number[], values: number[]) => (dt === 'float32' ? float32(shape, values) : float64(shape, values));
const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);
const ex = (shape: number[], values: number[]): Expected => ({ shape, values });

/** Row-major [m,k] @ [k,n]. */
function mm(a: number[], b: number[], m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out.push(range(k, 0).reduce((s, t) => s + a[i * k + t] * b[t * n + j], 0));
  return out;
}
/** Row-major transpose of an [r,c] matrix. */
const tr = (a: number[], r: number, c: number) => range(r * c, 0).map((i) => a[(i % r) * c + Math.floor(i / r)]);

/** Mean of logsumexp(row) - row[label] over labels other than `ignore`. */
function ce(logits: number[], labels: number[], v: number, ignore: number): number {
  let sum = 0;
  let count = 0;
  labels.forEach((l, i) => {
    if (l === ignore) return;
    const row = logits.slice(i * v, i * v + v);
    sum += Math.log(row.reduce((s, x) => s + Math.exp(x), 0)) - row[l];
    count++;
  });
  return sum / count;
}

const A = range(12); // logical A [2, 2, 3]
const W = range(6); // logical W [3, 2]
const AW = [...mm(A.slice(0, 6), W, 2, 3, 2), ...mm(A.slice(6), W, 2, 3, 2)];
const matmulCase = (transA: boolean, transB: boolean): Case => ({
  name: `transA=${transA} transB=${transB}, batch B broadcast against a rank-2 weight`,
  build: (b, dt) => ({ y: b.input('a', dt, ['B', transA ? 3 : 2, transA ? 2 : 3]).matmul(b.input('w', dt, transB ? [2, 3] : [3, 2]), { transA, transB }) }),
  feeds: (dt) => ({
    a: f(dt, transA ? [2, 3, 2] : [2, 2, 3], transA ? [...tr(A.slice(0, 6), 2, 3), ...tr(A.slice(6), 2, 3)] : A),
    w: f(dt, transB ? [2, 3] : [3, 2], transB ? tr(W, 3, 2) : W),
  }),
  expect: { y: ex([2, 2, 2], AW) },
});

const unary = (fn: (t: Tensor) => Tensor, xs: number[], ys: number[]): Case[] => [
  { name: 'element-wise over a symbolic batch', build: (b, dt) => ({ y: fn(b.input('x', dt, ['N'])) }), feeds: (dt) => ({ x: f(dt, [xs.length], xs) }), expect: { y: ex([xs.length], ys) } },
];

const cmp = (fn: (a: Tensor, b: Tensor) => Tensor, float: number[], int: number[], boolean: number[]): Case[] => [
  { name: 'float, broadcast', build: (b, dt) => ({ y: fn(b.input('a', dt, [3]), b.input('b', dt, [1])) }), feeds: (dt) => ({ a: f(dt, [3], [1, 2, 3]), b: f(dt, [1], [2]) }), expect: { y: ex([3], float) } },
  { name: 'int64', build: (b) => ({ y: fn(b.input('a', 'int64', [3]), b.input('b', 'int64', [3])) }), feeds: () => ({ a: int64([3], [1, 5, -2]), b: int64([3], [1, 4, 0]) }), expect: { y: ex([3], int) } },
  { name: 'bool', build: (b) => ({ y: fn(b.input('a', 'bool', [4]), b.input('b', 'bool', [4])) }), feeds: () => ({ a: bool([4], [0, 0, 1, 1]), b: bool([4], [0, 1, 0, 1]) }), expect: { y: ex([4], boolean) } },
];

const logic = (fn: (a: Tensor, b: Tensor) => Tensor, ys: number[]): Case[] => [
  { name: 'bool, broadcast', build: (b) => ({ y: fn(b.input('a', 'bool', [2, 2]), b.input('b', 'bool', [2])) }), feeds: () => ({ a: bool([2, 2], [0, 0, 1, 1]), b: bool([2], [0, 1]) }), expect: { y: ex([2, 2], ys) } },
];

const LOGITS = [0, 0, 0, 1, 2, 3, 3, -1, 0.5, 2, 2, -4]; // [B=2, T=2, V=3]

const CASES: { [O in Op]: Case[] } = {
  [Op.Input]: [
    { name: 'an input returned as an output', build: (b, dt) => ({ y: b.input('x', dt, ['B', 2]) }), feeds: (dt) => ({ x: f(dt, [2, 2], [1, 2, 3, 4]) }), expect: { y: ex([2, 2], [1, 2, 3, 4]) } },
    { name: 'bool in and out', build: (b) => ({ y: b.input('m', 'bool', [3]).not() }), feeds: () => ({ m: bool([3], [1, 0, 1]) }), expect: { y: ex([3], [0, 1, 0]) } },
  ],
  [Op.Initializer]: [
    {
      name: 'weights used and returned',
      build: (b, dt) => {
        const w = b.initializer('w', dt === 'float32' ? new Float32Array([2, 3]) : new Float64Array([2, 3]), [2]);
        return { y: b.input('x', dt, ['B', 2]).mul(w), w };
      },
      feeds: (dt) => ({ x: f(dt, [2, 2], [1, 2, 3, 4]) }),
      expect: { y: ex([2, 2], [2, 6, 6, 12]), w: ex([2], [2, 3]) },
    },
  ],
  [Op.Constant]: [
    {
      name: 'literal used and returned',
      build: (b, dt) => {
        const c = b.constant([10, 20], dt, [2]);
        return { y: b.input('x', dt, [2]).add(c), c, k: b.constant([7], 'int64', []) };
      },
      feeds: (dt) => ({ x: f(dt, [2], [1, 2]) }),
      expect: { y: ex([2], [11, 22]), c: ex([2], [10, 20]), k: ex([], [7]) },
    },
  ],
  [Op.Add]: [
    { name: '[B,T,3] + [3]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 'T', 3]).add(b.input('bias', dt, [3])) }), feeds: (dt) => ({ x: f(dt, [1, 2, 3], range(6)), bias: f(dt, [3], [10, 20, 30]) }), expect: { y: ex([1, 2, 3], [11, 22, 33, 14, 25, 36]) } },
    { name: 'int64', build: (b) => ({ y: b.input('a', 'int64', [2]).add(5) }), feeds: () => ({ a: int64([2], [1, -7]) }), expect: { y: ex([2], [6, -2]) } },
  ],
  [Op.Sub]: [{ name: '[2,1] - [3]', build: (b, dt) => ({ y: b.input('a', dt, [2, 1]).sub(b.input('b', dt, [3])) }), feeds: (dt) => ({ a: f(dt, [2, 1], [1, 2]), b: f(dt, [3], [10, 20, 30]) }), expect: { y: ex([2, 3], [-9, -19, -29, -8, -18, -28]) } }],
  [Op.Mul]: [{ name: 'by a scalar', build: (b, dt) => ({ y: b.input('x', dt, ['B', 2]).mul(3) }), feeds: (dt) => ({ x: f(dt, [2, 2], [1, 2, 3, -4]) }), expect: { y: ex([2, 2], [3, 6, 9, -12]) } }],
  [Op.Div]: [{ name: '[4] / [1]', build: (b, dt) => ({ y: b.input('x', dt, [4]).div(b.input('d', dt, [1])) }), feeds: (dt) => ({ x: f(dt, [4], [1, 2, 3, 4]), d: f(dt, [1], [2]) }), expect: { y: ex([4], [0.5, 1, 1.5, 2]) } }],
  [Op.Pow]: [{ name: 'squares and roots', build: (b, dt) => ({ y: b.input('x', dt, [3]).pow(b.input('p', dt, [3])) }), feeds: (dt) => ({ x: f(dt, [3], [3, 9, 2]), p: f(dt, [3], [2, 0.5, -1]) }), expect: { y: ex([3], [9, 3, 0.5]) } }],
  [Op.Neg]: [...unary((t) => t.neg(), [1, -2, 0], [-1, 2, -0]), { name: 'int64', build: (b) => ({ y: b.input('x', 'int64', [2]).neg() }), feeds: () => ({ x: int64([2], [3, -4]) }), expect: { y: ex([2], [-3, 4]) } }],
  [Op.Sqrt]: unary((t) => t.sqrt(), [4, 9, 2], [2, 3, Math.SQRT2]),
  [Op.Reciprocal]: unary((t) => t.reciprocal(), [2, 4, -0.5], [0.5, 0.25, -2]),
  [Op.Exp]: unary((t) => t.exp(), [0, 1, -1], [1, Math.E, 1 / Math.E]),
  [Op.Log]: unary((t) => t.log(), [1, Math.E, 0.5], [0, 1, -Math.LN2]),
  [Op.Sin]: unary((t) => t.sin(), [0, Math.PI / 2, Math.PI / 6, -Math.PI / 2], [0, 1, 0.5, -1]),
  [Op.Cos]: unary((t) => t.cos(), [0, Math.PI / 3, Math.PI], [1, 0.5, -1]),
  [Op.Sigmoid]: [...unary((t) => t.sigmoid(), [0, Math.log(3), -Math.log(3)], [0.5, 0.75, 0.25]), ...unary((t) => t.silu(), [0, Math.log(3)], [0, 0.75 * Math.log(3)])],
  [Op.Tanh]: unary((t) => t.tanh(), [0, Math.LN2, -Math.LN2], [0, 0.6, -0.6]),
  [Op.Erf]: unary(
    (t) => t.erf(),
    [0, 0.1, 0.5, 1, -1.5, 2, 3, 7, -7, 1e-3],
    [0, 0.1124629160182848922, 0.5204998778130465377, 0.8427007929497148693, -0.9661051464753107271, 0.9953222650189527342, 0.9999779095030014146, 1, -1, 0.001128378790969456],
  ),
  [Op.Where]: [
    { name: 'bool [3] ? [2,3] : scalar', build: (b, dt) => ({ y: b.input('c', 'bool', [3]).where(b.input('a', dt, [2, 3]), -1) }), feeds: (dt) => ({ c: bool([3], [1, 0, 1]), a: f(dt, [2, 3], range(6)) }), expect: { y: ex([2, 3], [1, -1, 3, 4, -1, 6]) } },
    { name: 'bool branches', build: (b) => ({ y: b.input('c', 'bool', [4]).where(b.input('a', 'bool', [4]), b.input('b', 'bool', [4])) }), feeds: () => ({ c: bool([4], [1, 1, 0, 0]), a: bool([4], [0, 1, 0, 1]), b: bool([4], [1, 0, 1, 0]) }), expect: { y: ex([4], [0, 1, 1, 0]) } },
    { name: 'int64 branches', build: (b) => ({ y: b.input('c', 'bool', [2]).where(b.input('a', 'int64', [2]), 0) }), feeds: () => ({ c: bool([2], [0, 1]), a: int64([2], [5, 6]) }), expect: { y: ex([2], [0, 6]) } },
  ],
  [Op.Equal]: cmp((a, b) => a.eq(b), [0, 1, 0], [1, 0, 0], [1, 0, 0, 1]),
  [Op.Less]: cmp((a, b) => a.lt(b), [1, 0, 0], [0, 0, 1], [0, 1, 0, 0]),
  [Op.LessEqual]: cmp((a, b) => a.le(b), [1, 1, 0], [1, 0, 1], [1, 1, 0, 1]),
  [Op.Greater]: cmp((a, b) => a.gt(b), [0, 0, 1], [0, 1, 0], [0, 0, 1, 0]),
  [Op.GreaterEqual]: cmp((a, b) => a.ge(b), [0, 1, 1], [1, 1, 0], [1, 0, 1, 1]),
  [Op.And]: logic((a, b) => a.and(b), [0, 0, 0, 1]),
  [Op.Or]: logic((a, b) => a.or(b), [0, 1, 1, 1]),
  [Op.Not]: [{ name: 'bool', build: (b) => ({ y: b.input('a', 'bool', ['N']).not() }), feeds: () => ({ a: bool([2], [0, 1]) }), expect: { y: ex([2], [1, 0]) } }],
  [Op.MatMul]: [
    matmulCase(false, false),
    matmulCase(true, false),
    matmulCase(false, true),
    matmulCase(true, true),
    {
      name: 'batch dims broadcast both ways: [2,1,2,3] @ [3,3,2]',
      build: (b, dt) => ({ y: b.input('a', dt, [2, 1, 2, 3]).matmul(b.input('b', dt, [3, 3, 2])) }),
      feeds: (dt) => ({ a: f(dt, [2, 1, 2, 3], A), b: f(dt, [3, 3, 2], range(18)) }),
      expect: { y: ex([2, 3, 2, 2], [0, 1].flatMap((i) => [0, 1, 2].flatMap((j) => mm(A.slice(6 * i, 6 * i + 6), range(6, 1 + 6 * j), 2, 3, 2)))) },
    },
  ],
  [Op.QuantMatMul]: [
    {
      // weight rows and input rows with max |v| = 127 (scale 1) quantize exactly
      name: 'int8 weight and 8-bit input rows both exact: x [B,2,3] @ Q(w)ᵀ, w [2,3]',
      build: (b, dt) => ({ y: b.input('x', dt, ['B', 2, 3]).quantMatmul(b.constant([127, -1, 2, 5, 6, -127], dt, [2, 3]), { transB: true }) }),
      feeds: (dt) => ({ x: f(dt, [1, 2, 3], [0, 127, 10, 3, -127, 5]) }),
      expect: { y: ex([1, 2, 2], mm([0, 127, 10, 3, -127, 5], tr([127, -1, 2, 5, 6, -127], 2, 3), 2, 3, 2)) },
    },
    {
      // per tensor: inputs spanning 0..255 (scale 1, zero point 0) quantize exactly
      name: 'rounding per tensor, exact: x [B,2,3] @ Q(w)ᵀ, w [2,3]',
      build: (b, dt) => ({ y: b.input('x', dt, ['B', 2, 3]).quantMatmul(b.constant([127, -1, 2, 5, 6, -127], dt, [2, 3]), { transB: true, rounding: 'tensor' }) }),
      feeds: (dt) => ({ x: f(dt, [1, 2, 3], [0, 255, 10, 3, 4, 5]) }),
      expect: { y: ex([1, 2, 2], mm([0, 255, 10, 3, 4, 5], tr([127, -1, 2, 5, 6, -127], 2, 3), 2, 3, 2)) },
    },
    {
      // w row scales 1 and 2 fold into x: [[127, 2], [2, -254]], whose rows (scales 1 and 2) round exactly
      name: 'x [2,2] @ Q(w), w [2,3] not transposed: w scales fold into x, rows rounded separately',
      build: (b, dt) => ({ y: b.input('x', dt, [2, 2]).quantMatmul(b.constant([127, 0, -3, 254, 2, 0], dt, [2, 3])) }),
      feeds: (dt) => ({ x: f(dt, [2, 2], [127, 1, 2, -127]) }),
      expect: { y: ex([2, 3], mm([127, 1, 2, -127], [127, 0, -3, 254, 2, 0], 2, 2, 3)) },
    },
  ],
  [Op.ReduceSum]: [
    { name: 'one axis', build: (b, dt) => ({ y: b.input('x', dt, ['B', 3]).sum(1) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)) }), expect: { y: ex([2], [6, 15]) } },
    { name: 'all axes, keepdims', build: (b, dt) => ({ y: b.input('x', dt, [2, 3]).sum(undefined, true) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)) }), expect: { y: ex([1, 1], [21]) } },
    { name: 'no axes is the identity', build: (b, dt) => ({ y: b.input('x', dt, [2]).sum([]) }), feeds: (dt) => ({ x: f(dt, [2], [1, 2]) }), expect: { y: ex([2], [1, 2]) } },
    { name: 'int64', build: (b) => ({ y: b.input('x', 'int64', [3]).sum(0) }), feeds: () => ({ x: int64([3], [1, 2, -5]) }), expect: { y: ex([], [-2]) } },
  ],
  [Op.ReduceMean]: [{ name: 'axis 0 of [B,3]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 3]).mean(0) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)) }), expect: { y: ex([3], [2.5, 3.5, 4.5]) } }],
  [Op.ReduceMax]: [{ name: 'last axis, keepdims', build: (b, dt) => ({ y: b.input('x', dt, ['B', 3]).max(-1, true) }), feeds: (dt) => ({ x: f(dt, [2, 3], [1, 5, 2, -3, -1, -2]) }), expect: { y: ex([2, 1], [5, -1]) } }],
  [Op.Softmax]: [{ name: 'last axis', build: (b, dt) => ({ y: b.input('x', dt, ['B', 3]).softmax() }), feeds: (dt) => ({ x: f(dt, [1, 3], [0, Math.LN2, Math.log(3)]) }), expect: { y: ex([1, 3], [1 / 6, 2 / 6, 3 / 6]) } }],
  [Op.LogSoftmax]: [{ name: 'axis 0', build: (b, dt) => ({ y: b.input('x', dt, [3, 'B']).logSoftmax(0) }), feeds: (dt) => ({ x: f(dt, [3, 1], [0, Math.LN2, Math.log(3)]) }), expect: { y: ex([3, 1], [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6)]) } }],
  [Op.Reshape]: [
    { name: '[B,T,2] → [B*T, 2]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 'T', 2]).reshape(['B*T', 2]) }), feeds: (dt) => ({ x: f(dt, [2, 3, 2], range(12)) }), expect: { y: ex([6, 2], range(12)) } },
    { name: '[1,1] → scalar', build: (b, dt) => ({ y: b.input('x', dt, [1, 1]).reshape([]) }), feeds: (dt) => ({ x: f(dt, [1, 1], [5]) }), expect: { y: ex([], [5]) } },
    { name: 'zero-size batch', build: (b, dt) => ({ y: b.input('x', dt, ['B', 2]).reshape([2, 'B']) }), feeds: (dt) => ({ x: f(dt, [0, 2], []) }), expect: { y: ex([2, 0], []) } },
    { name: '[B,T,4] → [B,T,2,2] (dims copied in place)', build: (b, dt) => ({ y: b.input('x', dt, ['B', 'T', 4]).reshape(['B', 'T', 2, 2]) }), feeds: (dt) => ({ x: f(dt, [1, 2, 4], range(8)) }), expect: { y: ex([1, 2, 2, 2], range(8)) } },
    { name: '[B,4,T] → [B,2,2*T] on a zero-size batch', build: (b, dt) => ({ y: b.input('x', dt, ['B', 4, 'T']).reshape(['B', 2, '2*T']) }), feeds: (dt) => ({ x: f(dt, [0, 4, 3], []) }), expect: { y: ex([0, 2, 6], []) } },
  ],
  [Op.Transpose]: [{ name: '[B,3] → [3,B]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 3]).transpose([1, 0]) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)) }), expect: { y: ex([3, 2], [1, 4, 2, 5, 3, 6]) } }],
  [Op.Slice]: [
    { name: 'x[:, 0:T-1]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 'T']).slice(1, 0, -1) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)) }), expect: { y: ex([2, 2], [1, 2, 4, 5]) } },
    { name: 'x[1:T] (shifted labels)', build: (b) => ({ y: b.input('ids', 'int64', ['T']).slice(0, 1) }), feeds: () => ({ ids: int64([4], [7, 8, 9, 10]) }), expect: { y: ex([3], [8, 9, 10]) } },
  ],
  [Op.Pad]: [
    { name: 'axis 1: one before, two after', build: (b, dt) => ({ y: b.input('x', dt, ['B', 2]).pad(1, 1, 2) }), feeds: (dt) => ({ x: f(dt, [2, 2], range(4)) }), expect: { y: ex([2, 5], [0, 1, 2, 0, 0, 0, 3, 4, 0, 0]) } },
    { name: 'symbolic padding: T zeros before', build: (b, dt) => ({ y: b.input('x', dt, ['T']).pad(0, 'T', 0) }), feeds: (dt) => ({ x: f(dt, [2], [5, 6]) }), expect: { y: ex([4], [0, 0, 5, 6]) } },
  ],
  [Op.Concat]: [{ name: '[B,2] ++ [B,1] on axis 1', build: (b, dt) => ({ y: concat([b.input('a', dt, ['B', 2]), b.input('b', dt, ['B', 1])], 1) }), feeds: (dt) => ({ a: f(dt, [2, 2], range(4)), b: f(dt, [2, 1], [9, 8]) }), expect: { y: ex([2, 3], [1, 2, 9, 3, 4, 8]) } }],
  [Op.Split]: [
    {
      name: 'two outputs along axis 1',
      build: (b, dt) => {
        const [p, q] = b.input('x', dt, ['B', 5]).split(1, [2, 3]);
        return { p, q };
      },
      feeds: (dt) => ({ x: f(dt, [2, 5], range(10)) }),
      expect: { p: ex([2, 2], [1, 2, 6, 7]), q: ex([2, 3], [3, 4, 5, 8, 9, 10]) },
    },
    {
      name: 'symbolic sizes [1, T-1]',
      build: (b, dt) => {
        const [first, rest] = b.input('x', dt, ['T']).split(0, [1, 'T-1']);
        return { first, rest };
      },
      feeds: (dt) => ({ x: f(dt, [3], [4, 5, 6]) }),
      expect: { first: ex([1], [4]), rest: ex([2], [5, 6]) },
    },
  ],
  [Op.Expand]: [
    { name: '[B,T,1] → [B,T,3] (symbolic dims kept)', build: (b, dt) => ({ y: b.input('x', dt, ['B', 'T', 1]).expand(['B', 'T', 3]) }), feeds: (dt) => ({ x: f(dt, [1, 2, 1], [4, 5]) }), expect: { y: ex([1, 2, 3], [4, 4, 4, 5, 5, 5]) } },
    { name: '[1,3] → [B,3] with B bound by another input', build: (b, dt) => ({ y: b.input('x', dt, [1, 3]).expand(['B', 3]), n: b.input('ids', 'int64', ['B']).sum(0) }), feeds: (dt) => ({ x: f(dt, [1, 3], [1, 2, 3]), ids: int64([2], [0, 0]) }), expect: { y: ex([2, 3], [1, 2, 3, 1, 2, 3]), n: ex([], [0]) } },
  ],
  [Op.Squeeze]: [{ name: '[B,1,3] → [B,3]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 1, 3]).squeeze(1) }), feeds: (dt) => ({ x: f(dt, [1, 1, 3], range(3)) }), expect: { y: ex([1, 3], range(3)) } }],
  [Op.Unsqueeze]: [{ name: '[B,3] → [1,B,3,1]', build: (b, dt) => ({ y: b.input('x', dt, ['B', 3]).unsqueeze([0, 3]) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)) }), expect: { y: ex([1, 2, 3, 1], range(6)) } }],
  [Op.Gather]: [
    { name: 'embedding rows by [B,T] ids', build: (b, dt) => ({ y: b.input('emb', dt, [4, 2]).gather(b.input('ids', 'int64', ['B', 'T'])) }), feeds: (dt) => ({ emb: f(dt, [4, 2], range(8)), ids: int64([1, 3], [3, 0, 3]) }), expect: { y: ex([1, 3, 2], [7, 8, 1, 2, 7, 8]) } },
    { name: 'axis 1', build: (b, dt) => ({ y: b.input('x', dt, [2, 3]).gather(b.input('i', 'int64', [2]), 1) }), feeds: (dt) => ({ x: f(dt, [2, 3], range(6)), i: int64([2], [2, 0]) }), expect: { y: ex([2, 2], [3, 1, 6, 4]) } },
  ],
  [Op.ScatterAdd]: [
    { name: 'axis 0, repeated indices accumulate', build: (b, dt) => ({ y: scatterAdd(b.input('i', 'int64', ['N']), b.input('u', dt, ['N', 2]), 0, 4) }), feeds: (dt) => ({ i: int64([3], [0, 2, 0]), u: f(dt, [3, 2], range(6)) }), expect: { y: ex([4, 2], [6, 8, 0, 0, 3, 4, 0, 0]) } },
    { name: 'axis 1', build: (b, dt) => ({ y: scatterAdd(b.input('i', 'int64', [3]), b.input('u', dt, [2, 3]), 1, 2) }), feeds: (dt) => ({ i: int64([3], [1, 1, 0]), u: f(dt, [2, 3], range(6)) }), expect: { y: ex([2, 2], [3, 3, 6, 9]) } },
    { name: 'embedding gradient: [B,T] ids, [B,T,2] updates', build: (b, dt) => ({ y: scatterAdd(b.input('ids', 'int64', ['B', 'T']), b.input('g', dt, ['B', 'T', 2]), 0, 3) }), feeds: (dt) => ({ ids: int64([2, 2], [2, 0, 2, 2]), g: f(dt, [2, 2, 2], range(8)) }), expect: { y: ex([3, 2], [3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8]) } },
  ],
  [Op.Cast]: [
    { name: 'float → int64 truncates', build: (b, dt) => ({ y: b.input('x', dt, [3]).cast('int64') }), feeds: (dt) => ({ x: f(dt, [3], [1.7, -1.7, 3]) }), expect: { y: ex([3], [1, -1, 3]) } },
    { name: 'bool → float', build: (b, dt) => ({ y: b.input('m', 'bool', [2]).cast(dt) }), feeds: () => ({ m: bool([2], [1, 0]) }), expect: { y: ex([2], [1, 0]) } },
  ],
  [Op.CrossEntropy]: [
    { name: '[B,T,V] logits with an ignored label', build: (b, dt) => ({ loss: b.input('logits', dt, ['B', 'T', 3]).crossEntropy(b.input('labels', 'int64', ['B', 'T'])) }), feeds: (dt) => ({ logits: f(dt, [2, 2, 3], LOGITS), labels: int64([2, 2], [0, -100, 1, 2]) }), expect: { loss: ex([], [ce(LOGITS, [0, -100, 1, 2], 3, -100)]) } },
    { name: 'custom ignore index, rank-2 logits', build: (b, dt) => ({ loss: b.input('logits', dt, ['N', 3]).crossEntropy(b.input('labels', 'int64', ['N']), 1) }), feeds: (dt) => ({ logits: f(dt, [4, 3], LOGITS), labels: int64([4], [1, 2, 0, 1]) }), expect: { loss: ex([], [ce(LOGITS, [1, 2, 0, 1], 3, 1)]) } },
  ],
};

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

for (const dt of ['float32', 'float64'] as const) {
  describe(`every op lowers and runs in ${dt}`, () => {
    for (const op of ALL_OPS) {
      for (const c of CASES[op]) {
        test(`${op}: ${c.name}`, async () => {
          const b = new GraphBuilder();
          const compiled = await runtime.compile(b.build(c.build(b, dt)));
          const out = await compiled.run(c.feeds(dt));
          for (const spec of compiled.outputs) {
            const want = c.expect[spec.name];
            const got = out[spec.name];
            assert.equal(got.dtype, spec.dtype as DType, `${spec.name}: dtype`);
            assert.deepEqual(got.shape, want.shape, `${spec.name}: shape`);
            if (got.dtype === 'float32' || got.dtype === 'float64') assertAllClose(toNumbers(got), want.values, TOLERANCE[got.dtype], spec.name);
            else assert.deepEqual(toNumbers(got), want.values, spec.name);
          }
        });
      }
    }
  });
}

test('float64 Erf series: reference values to 3e-15, odd, within [-1, 1], float32 Erf to float32 precision', async () => {
  const half = Array.from({ length: 141 }, (_, i) => i * 0.05);
  const xs = [...half.slice(1).map((x) => -x).reverse(), ...half];
  const graphs = (['float32', 'float64'] as const).map((dt) => {
    const b = new GraphBuilder();
    return b.build({ y: b.input('x', dt, [xs.length]).erf() });
  });
  const [y32, y64] = await Promise.all(
    graphs.map(async (g, i) => toNumbers((await (await runtime.compile(g)).run({ x: i === 0 ? float32([xs.length], xs) : float64([xs.length], xs) })).y)),
  );
  assertAllClose(y32, y64, TOLERANCE.float32, 'erf float32 vs float64');
  for (let i = 0; i < xs.length; i++) {
    assert.ok(y64[i] === -y64[xs.length - 1 - i], `odd at ${xs[i]}`);
    assert.ok(Math.abs(y64[i]) <= 1, `bounded at ${xs[i]}`);
    if (i > 0) assert.ok(y64[i] >= y64[i - 1] - 4e-15, `monotone up to rounding at ${xs[i]}`);
  }
  const reference: [number, number][] = [[0.5, 0.5204998778130465377], [1, 0.8427007929497148693], [1.5, 0.9661051464753107271], [2, 0.9953222650189527342], [3, 0.9999779095030014146], [4, 0.9999999845827420997], [5, 0.9999999999984625402]];
  for (const [x, want] of reference) assert.ok(Math.abs(y64[xs.indexOf(x)] - want) <= 3e-15, `erf(${x}) = ${y64[xs.indexOf(x)]}, want ${want}`);
});
