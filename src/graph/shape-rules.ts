// Shape and dtype inference, one rule per op. Rules see the inputs' dtypes and (symbolic) shapes and the op's
// parameters; they throw ShapeMismatch with what was expected, and the tracer adds the op's name and shapes.

import { type DType, isFloat } from './dtype.ts';
import {
  type Dim,
  type Shape,
  dimAdd,
  dimEqual,
  dimProduct,
  dimSub,
  formatShape,
  isStaticDim,
} from './dim.ts';
import { Op, type OpParams } from './ops.ts';

export interface TypeInfo {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** Thrown by rules; the tracer turns it into a RoadsterError that names the op and its input shapes. */
export class ShapeMismatch extends Error {}

export type ShapeRule<O extends Op> = (inputs: readonly TypeInfo[], params: OpParams[O]) => TypeInfo[];

function fail(message: string): never {
  throw new ShapeMismatch(message);
}

function arity(inputs: readonly TypeInfo[], n: number): void {
  if (inputs.length !== n) fail(`expected ${n} input(s), got ${inputs.length}`);
}

function requireFloat(t: TypeInfo, what = 'input'): void {
  if (!isFloat(t.dtype)) fail(`${what} must be float32 or float64, got ${t.dtype}`);
}

function sameDType(inputs: readonly TypeInfo[]): DType {
  const d = inputs[0].dtype;
  for (const t of inputs) if (t.dtype !== d) fail(`dtypes differ: ${inputs.map((i) => i.dtype).join(' vs ')}`);
  return d;
}

/** NumPy broadcasting of any number of shapes; symbolic dims must match exactly or meet a 1. */
export function broadcastShapes(...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k];
      if (dimEqual(e, 1)) continue;
      if (dimEqual(d, 1)) d = e;
      else if (!dimEqual(d, e)) fail(`cannot broadcast ${shapes.map(formatShape).join(' with ')} (axis ${i}: ${d} vs ${e})`);
    }
    out.push(d);
  }
  return out;
}

function unary(inputs: readonly TypeInfo[]): TypeInfo[] {
  arity(inputs, 1);
  requireFloat(inputs[0]);
  return [inputs[0]];
}

function binaryArith(inputs: readonly TypeInfo[]): TypeInfo[] {
  arity(inputs, 2);
  const dtype = sameDType(inputs);
  if (dtype === 'bool') fail('arithmetic on bool values; cast them first');
  return [{ dtype, shape: broadcastShapes(inputs[0].shape, inputs[1].shape) }];
}

function floatBinary(inputs: readonly TypeInfo[]): TypeInfo[] {
  const [out] = binaryArith(inputs);
  requireFloat(out);
  return [out];
}

function compare(inputs: readonly TypeInfo[]): TypeInfo[] {
  arity(inputs, 2);
  sameDType(inputs);
  return [{ dtype: 'bool', shape: broadcastShapes(inputs[0].shape, inputs[1].shape) }];
}

function logic(inputs: readonly TypeInfo[]): TypeInfo[] {
  arity(inputs, 2);
  if (inputs.some((t) => t.dtype !== 'bool')) fail('logical ops take bool inputs');
  return [{ dtype: 'bool', shape: broadcastShapes(inputs[0].shape, inputs[1].shape) }];
}

function checkAxis(axis: number, rank: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
}

function reduce(inputs: readonly TypeInfo[], p: { axes: readonly number[]; keepdims: boolean }): TypeInfo[] {
  arity(inputs, 1);
  const [x] = inputs;
  if (x.dtype === 'bool') fail('cannot reduce bool values; cast them first');
  for (const a of p.axes) checkAxis(a, x.shape.length);
  if (new Set(p.axes).size !== p.axes.length) fail(`repeated axes ${formatShape(p.axes)}`);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!p.axes.includes(i)) shape.push(d);
    else if (p.keepdims) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

function softmaxLike(inputs: readonly TypeInfo[], p: { axis: number }): TypeInfo[] {
  arity(inputs, 1);
  requireFloat(inputs[0]);
  checkAxis(p.axis, inputs[0].shape.length);
  return [inputs[0]];
}

function leafShape(shape: Shape): Shape {
  for (const d of shape) if (isStaticDim(d) && (!Number.isInteger(d) || d < 0)) fail(`bad dimension ${d}`);
  return shape;
}

function dataLength(p: { shape: readonly number[]; data: { length: number } }): void {
  const size = p.shape.reduce((a, b) => a * b, 1);
  if (p.data.length !== size) fail(`data has ${p.data.length} elements but shape ${formatShape(p.shape)} needs ${size}`);
}

/** The static value of a dim when known, for bound checks. */
function maybeLess(a: Dim, b: Dim): boolean {
  return isStaticDim(a) && isStaticDim(b) && a < b;
}

export const SHAPE_RULES: { [O in Op]: ShapeRule<O> } = {
  [Op.Input]: (inputs, p) => (arity(inputs, 0), [{ dtype: p.dtype, shape: leafShape(p.shape) }]),
  [Op.Initializer]: (inputs, p) => (arity(inputs, 0), dataLength(p), [{ dtype: p.dtype, shape: leafShape(p.shape) }]),
  [Op.Constant]: (inputs, p) => (arity(inputs, 0), dataLength(p), [{ dtype: p.dtype, shape: leafShape(p.shape) }]),
  [Op.Add]: binaryArith,
  [Op.Sub]: binaryArith,
  [Op.Mul]: binaryArith,
  [Op.Div]: binaryArith,
  [Op.Pow]: floatBinary,
  [Op.Neg]: (inputs) => {
    arity(inputs, 1);
    if (inputs[0].dtype === 'bool') fail('cannot negate bool values');
    return [inputs[0]];
  },
  [Op.Sqrt]: unary,
  [Op.Reciprocal]: unary,
  [Op.Exp]: unary,
  [Op.Log]: unary,
  [Op.Sin]: unary,
  [Op.Cos]: unary,
  [Op.Sigmoid]: unary,
  [Op.Tanh]: unary,
  [Op.Erf]: unary,
  [Op.Where]: (inputs) => {
    arity(inputs, 3);
    const [c, a, b] = inputs;
    if (c.dtype !== 'bool') fail(`condition must be bool, got ${c.dtype}`);
    const dtype = sameDType([a, b]);
    return [{ dtype, shape: broadcastShapes(c.shape, a.shape, b.shape) }];
  },
  [Op.Equal]: compare,
  [Op.Less]: compare,
  [Op.LessEqual]: compare,
  [Op.Greater]: compare,
  [Op.GreaterEqual]: compare,
  [Op.And]: logic,
  [Op.Or]: logic,
  [Op.Not]: (inputs) => {
    arity(inputs, 1);
    if (inputs[0].dtype !== 'bool') fail('Not takes a bool input');
    return [inputs[0]];
  },
  [Op.MatMul]: (inputs, p) => {
    arity(inputs, 2);
    const dtype = sameDType(inputs);
    requireFloat(inputs[0]);
    const [a, b] = inputs.map((t) => t.shape);
    if (a.length < 2 || b.length < 2) fail(`both operands need rank >= 2, got ${formatShape(a)} and ${formatShape(b)}`);
    const [m, ka] = p.transA ? [a.at(-1)!, a.at(-2)!] : [a.at(-2)!, a.at(-1)!];
    const [kb, n] = p.transB ? [b.at(-1)!, b.at(-2)!] : [b.at(-2)!, b.at(-1)!];
    if (!dimEqual(ka, kb)) fail(`inner dimensions differ: ${ka} vs ${kb} (shapes ${formatShape(a)} @ ${formatShape(b)})`);
    const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
    return [{ dtype, shape: [...batch, m, n] }];
  },
  [Op.QuantMatMul]: (inputs, p) => {
    arity(inputs, 2);
    const [x, w] = inputs;
    requireFloat(x);
    if (w.dtype !== x.dtype) fail(`weight dtype ${w.dtype} differs from input dtype ${x.dtype}`);
    if (w.shape.length !== 2) fail(`the weight must have rank 2, got ${formatShape(w.shape)}`);
    if (x.shape.length < 2) fail(`the input needs rank >= 2, got ${formatShape(x.shape)}`);
    const [k, n] = p.transB ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
    if (!dimEqual(x.shape.at(-1)!, k)) fail(`inner dimensions differ: ${x.shape.at(-1)} vs ${k} (shapes ${formatShape(x.shape)} @ ${formatShape(w.shape)})`);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), n] }];
  },
  [Op.ReduceSum]: reduce,
  [Op.ReduceMean]: (inputs, p) => (requireFloat(inputs[0]), reduce(inputs, p)),
  [Op.ReduceMax]: reduce,
  [Op.Softmax]: softmaxLike,
  [Op.LogSoftmax]: softmaxLike,
  [Op.Reshape]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    const from = dimProduct(x.shape);
    const to = dimProduct(p.shape);
    if (!dimEqual(from, to)) fail(`cannot reshape ${formatShape(x.shape)} (${from} elements) to ${formatShape(p.shape)} (${to})`);
    return [{ dtype: x.dtype, shape: p.shape }];
  },
  [Op.Transpose]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    const sorted = [...p.perm].sort((a, b) => a - b);
    if (p.perm.length !== x.shape.length || sorted.some((v, i) => v !== i)) {
      fail(`perm ${formatShape(p.perm)} is not a permutation of the ${x.shape.length} axes`);
    }
    return [{ dtype: x.dtype, shape: p.perm.map((i) => x.shape[i]) }];
  },
  [Op.Slice]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    checkAxis(p.axis, x.shape.length);
    const size = x.shape[p.axis];
    if (maybeLess(p.start, 0) || maybeLess(p.end, p.start) || maybeLess(size, p.end)) {
      fail(`slice [${p.start}:${p.end}] does not fit axis ${p.axis} of size ${size}`);
    }
    const shape = [...x.shape];
    shape[p.axis] = dimSub(p.end, p.start);
    return [{ dtype: x.dtype, shape }];
  },
  [Op.Pad]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    checkAxis(p.axis, x.shape.length);
    if (maybeLess(p.before, 0) || maybeLess(p.after, 0)) fail(`negative padding ${p.before}, ${p.after}`);
    const shape = [...x.shape];
    shape[p.axis] = dimAdd(dimAdd(p.before, x.shape[p.axis]), p.after);
    return [{ dtype: x.dtype, shape }];
  },
  [Op.Concat]: (inputs, p) => {
    if (inputs.length < 1) fail('concat needs at least one input');
    const dtype = sameDType(inputs);
    const rank = inputs[0].shape.length;
    checkAxis(p.axis, rank);
    let total: Dim = 0;
    for (const t of inputs) {
      if (t.shape.length !== rank || t.shape.some((d, i) => i !== p.axis && !dimEqual(d, inputs[0].shape[i]))) {
        fail(`shapes differ off axis ${p.axis}: ${inputs.map((i) => formatShape(i.shape)).join(', ')}`);
      }
      total = dimAdd(total, t.shape[p.axis]);
    }
    const shape = [...inputs[0].shape];
    shape[p.axis] = total;
    return [{ dtype, shape }];
  },
  [Op.Split]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    checkAxis(p.axis, x.shape.length);
    const total = p.sizes.reduce<Dim>((acc, d) => dimAdd(acc, d), 0);
    if (!dimEqual(total, x.shape[p.axis])) fail(`sizes ${formatShape(p.sizes)} do not add up to axis size ${x.shape[p.axis]}`);
    return p.sizes.map((d) => {
      const shape = [...x.shape];
      shape[p.axis] = d;
      return { dtype: x.dtype, shape };
    });
  },
  [Op.Expand]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    if (p.shape.length < x.shape.length) fail(`cannot expand rank ${x.shape.length} to rank ${p.shape.length}`);
    const out = broadcastShapes(x.shape, p.shape);
    if (!out.every((d, i) => dimEqual(d, p.shape[i]))) fail(`cannot expand ${formatShape(x.shape)} to ${formatShape(p.shape)}`);
    return [{ dtype: x.dtype, shape: p.shape }];
  },
  [Op.Squeeze]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    for (const a of p.axes) {
      checkAxis(a, x.shape.length);
      if (!dimEqual(x.shape[a], 1)) fail(`axis ${a} has size ${x.shape[a]}, not 1`);
    }
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !p.axes.includes(i)) }];
  },
  [Op.Unsqueeze]: (inputs, p) => {
    arity(inputs, 1);
    const [x] = inputs;
    const rank = x.shape.length + p.axes.length;
    for (const a of p.axes) checkAxis(a, rank);
    if (new Set(p.axes).size !== p.axes.length) fail(`repeated axes ${formatShape(p.axes)}`);
    const shape: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(p.axes.includes(i) ? 1 : x.shape[k++]);
    return [{ dtype: x.dtype, shape }];
  },
  [Op.Gather]: (inputs, p) => {
    arity(inputs, 2);
    const [data, indices] = inputs;
    checkAxis(p.axis, data.shape.length);
    if (indices.dtype !== 'int64') fail(`indices must be int64, got ${indices.dtype}`);
    const shape = [...data.shape.slice(0, p.axis), ...indices.shape, ...data.shape.slice(p.axis + 1)];
    return [{ dtype: data.dtype, shape }];
  },
  [Op.ScatterAdd]: (inputs, p) => {
    arity(inputs, 2);
    const [indices, updates] = inputs;
    if (indices.dtype !== 'int64') fail(`indices must be int64, got ${indices.dtype}`);
    if (!isFloat(updates.dtype)) fail(`updates must be float32 or float64, got ${updates.dtype}`);
    const k = indices.shape.length;
    checkAxis(p.axis, updates.shape.length - k + 1);
    if (updates.shape.length < p.axis + k) fail(`updates ${formatShape(updates.shape)} too small for axis ${p.axis}`);
    const mid = updates.shape.slice(p.axis, p.axis + k);
    if (!mid.every((d, i) => dimEqual(d, indices.shape[i]))) {
      fail(`updates ${formatShape(updates.shape)} do not hold indices ${formatShape(indices.shape)} at axis ${p.axis}`);
    }
    const shape = [...updates.shape.slice(0, p.axis), p.size, ...updates.shape.slice(p.axis + k)];
    return [{ dtype: updates.dtype, shape }];
  },
  [Op.Cast]: (inputs, p) => (arity(inputs, 1), [{ dtype: p.to, shape: inputs[0].shape }]),
  [Op.CrossEntropy]: (inputs) => {
    arity(inputs, 2);
    const [logits, labels] = inputs;
    requireFloat(logits, 'logits');
    if (labels.dtype !== 'int64') fail(`labels must be int64, got ${labels.dtype}`);
    const lead = logits.shape.slice(0, -1);
    if (lead.length !== labels.shape.length || !lead.every((d, i) => dimEqual(d, labels.shape[i]))) {
      fail(`logits ${formatShape(logits.shape)} need labels of shape ${formatShape(lead)}, got ${formatShape(labels.shape)}`);
    }
    return [{ dtype: logits.dtype, shape: [] }];
  },
};
