// An independent float64 reference interpreter for the graph IR, written in plain TypeScript loops. Tests
// compare ONNX Runtime's results against it. Float values are computed in float64 whatever the graph dtype.

import { type Dim, evalDim } from '../../src/graph/dim.ts';
import type { Graph, Node } from '../../src/graph/ir.ts';
import type { DType } from '../../src/graph/dtype.ts';
import { type InputRounding, Op, type OpParams } from '../../src/graph/ops.ts';
import { dequantizeRows, quantizeRows } from '../../src/graph/quantize.ts';

export interface RefTensor {
  shape: number[];
  /** Float values (any float dtype) as float64; int64 as bigint; bool as 0/1. */
  data: Float64Array | BigInt64Array | Uint8Array;
}

type Env = Map<string, number>;
/** `dtype` is the graph dtype of the node's first output (float32 kernels that round differ from float64). */
type RefRule<O extends Op> = (inputs: RefTensor[], p: OpParams[O], env: Env, node: Node, dtype: DType) => RefTensor[];

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const strides = (shape: readonly number[]) => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
};
const num = (t: RefTensor, i: number) => Number(t.data[i]);

function unravel(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = index % shape[i];
    index = Math.floor(index / shape[i]);
  }
  return out;
}

function broadcastShape(shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((s) => s[s.length - rank + i] ?? 1)));
}

/** Offset into `shape` (broadcast to `out`) for the output multi-index `idx`. */
function bcastOffset(idx: number[], shape: readonly number[], st: number[]): number {
  let off = 0;
  const lead = idx.length - shape.length;
  for (let i = 0; i < shape.length; i++) off += (shape[i] === 1 ? 0 : idx[lead + i]) * st[i];
  return off;
}

function elementwise(inputs: RefTensor[], f: (...xs: number[]) => number, kind: 'float' | 'bool' | 'same'): RefTensor[] {
  const shape = broadcastShape(inputs.map((t) => t.shape));
  const n = size(shape);
  const isInt = inputs.some((t) => t.data instanceof BigInt64Array) && kind === 'same';
  const out = kind === 'bool' ? new Uint8Array(n) : isInt ? new BigInt64Array(n) : new Float64Array(n);
  const sts = inputs.map((t) => strides(t.shape));
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    const xs = inputs.map((t, k) => num(t, bcastOffset(idx, t.shape, sts[k])));
    const v = f(...xs);
    if (out instanceof BigInt64Array) out[i] = BigInt(Math.trunc(v));
    else out[i] = v;
  }
  return [{ shape, data: out }];
}

const un = <O extends Op>(f: (x: number) => number): RefRule<O> => (xs) => elementwise(xs, f, 'same');
const bin = <O extends Op>(f: (a: number, b: number) => number): RefRule<O> => (xs) => elementwise(xs, f, 'same');
const cmp = <O extends Op>(f: (a: number, b: number) => boolean): RefRule<O> => (xs) => elementwise(xs, (a, b) => (f(a, b) ? 1 : 0), 'bool');

function erf(x: number): number {
  // Series for |x| < 3, continued fraction beyond: accurate to ~1e-15.
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

function reduce(x: RefTensor, axes: readonly number[], keepdims: boolean, init: number, f: (acc: number, v: number) => number): RefTensor {
  const outShapeKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = size(outShapeKeep);
  const out = new Float64Array(n).fill(init);
  const st = strides(outShapeKeep);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    let off = 0;
    idx.forEach((v, k) => (off += (axes.includes(k) ? 0 : v) * st[k]));
    out[off] = f(out[off], num(x, i));
  }
  const shape = keepdims ? outShapeKeep : x.shape.filter((_, i) => !axes.includes(i));
  return { shape, data: x.data instanceof BigInt64Array ? BigInt64Array.from(out, (v) => BigInt(v)) : out };
}

/** Moves values of `x` to new positions: out[i] = x[map(i)] over an output of `shape`. */
function permute(x: RefTensor, shape: number[], source: (idx: number[]) => number[] | null): RefTensor {
  const n = size(shape);
  const out = new (x.data.constructor as { new (n: number): RefTensor['data'] })(n);
  const st = strides(x.shape);
  for (let i = 0; i < n; i++) {
    const src = source(unravel(i, shape));
    if (src === null) continue;
    (out as Float64Array)[i] = (x.data as Float64Array)[src.reduce((acc, v, k) => acc + v * st[k], 0)];
  }
  return { shape, data: out };
}

function softmaxAlong(x: RefTensor, axis: number, log: boolean): RefTensor {
  const m = reduce(x, [axis], true, -Infinity, Math.max);
  const [shifted] = elementwise([x, m], (a, b) => Math.exp(a - b), 'float');
  const s = reduce(shifted, [axis], true, 0, (a, v) => a + v);
  if (log) return elementwise([x, m, s], (a, mm, ss) => a - mm - Math.log(ss), 'float')[0];
  return elementwise([shifted, s], (a, ss) => a / ss, 'float')[0];
}

function matmul(a: RefTensor, b: RefTensor, p: OpParams[Op.MatMul]): RefTensor {
  const [am, ak] = p.transA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
  const bn = p.transB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const batch = broadcastShape([a.shape.slice(0, -2), b.shape.slice(0, -2)]);
  const shape = [...batch, am, bn];
  const out = new Float64Array(size(shape));
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const [aSt, bSt] = [strides(aBatch), strides(bBatch)];
  const aMat = a.shape.at(-2)! * a.shape.at(-1)!;
  const bMat = b.shape.at(-2)! * b.shape.at(-1)!;
  for (let t = 0; t < size(batch); t++) {
    const idx = unravel(t, batch);
    const ao = bcastOffset(idx, aBatch, aSt) * aMat;
    const bo = bcastOffset(idx, bBatch, bSt) * bMat;
    const aCols = a.shape.at(-1)!;
    const bCols = b.shape.at(-1)!;
    for (let i = 0; i < am; i++) {
      for (let j = 0; j < bn; j++) {
        let acc = 0;
        for (let k = 0; k < ak; k++) {
          const av = p.transA ? num(a, ao + k * aCols + i) : num(a, ao + i * aCols + k);
          const bv = p.transB ? num(b, bo + j * bCols + k) : num(b, bo + k * bCols + j);
          acc += av * bv;
        }
        out[(t * am + i) * bn + j] = acc;
      }
    }
  }
  return { shape, data: out };
}

const dimOf = (d: Dim, env: Env) => evalDim(d, env);

/** Round half to even, as C's nearbyint in the default rounding mode. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * x @ op(Q(w)). float64 (or rounding "none"): the dequantized weight. float32 with rounding: the lowering's
 * kernels emulated with float32 rounding. x is scaled by w's row scales first when w is not transposed. Then it
 * becomes uint8, either per row around 128 with scale max|row| / 127 (the lowering's QuantizeLinear, then ORT's
 * MatMulIntegerToFloat), or per tensor (ORT's DynamicQuantizeMatMul: range widened to include 0,
 * scale = range / 255, zero point = round(-min / scale)). The integer products accumulate exactly and are
 * multiplied by the weight scale (transposed w) and x's scale.
 */
function quantMatmul(x: RefTensor, w: RefTensor, transB: boolean, rounding: InputRounding, dtype: DType): RefTensor {
  const [rows, cols] = w.shape;
  const quant = quantizeRows(w.data as Float64Array, rows, cols);
  if (dtype === 'float64' || rounding === 'none') {
    return matmul(x, { shape: transB ? [cols, rows] : [rows, cols], data: dequantizeRows(quant, transB) }, { transA: false, transB: false });
  }
  const k = x.shape.at(-1)!;
  const n = transB ? rows : cols;
  const xs = Float64Array.from(x.data as Float64Array, (v, i) => (transB ? v : Math.fround(v * quant.scale[i % k])));
  const m = xs.length / k;
  // [scale, zero point] of each row
  const params: [number, number][] = [];
  if (rounding === 'tensor') {
    let [lo, hi] = [0, 0];
    for (const v of xs) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    const scale = Math.fround((hi - lo) / 255);
    const zp = scale === 0 ? 0 : Math.max(0, Math.min(255, roundHalfEven(Math.fround(-lo / scale))));
    for (let i = 0; i < m; i++) params.push([scale, zp]);
  } else {
    for (let i = 0; i < m; i++) {
      let absMax = 0;
      for (let t = 0; t < k; t++) absMax = Math.max(absMax, Math.abs(xs[i * k + t]));
      params.push([Math.max(Math.fround(absMax / 127), 2 ** -126), 128]);
    }
  }
  const out = new Float64Array(m * n);
  const q = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    const [scale, zp] = params[i];
    for (let t = 0; t < k; t++) q[t] = scale === 0 ? 0 : Math.max(0, Math.min(255, roundHalfEven(Math.fround(xs[i * k + t] / scale)) + zp));
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += (q[t] - zp) * (transB ? quant.q[j * cols + t] : quant.q[t * cols + j]);
      const wScale = transB ? quant.scale[j] : 1;
      // DynamicQuantizeMatMul multiplies by the product of the scales; the row path by w's scale, then x's
      out[i * n + j] = rounding === 'tensor' ? Math.fround(acc * Math.fround(scale * wScale)) : Math.fround(Math.fround(acc * wScale) * scale);
    }
  }
  return { shape: [...x.shape.slice(0, -1), n], data: out };
}

export const REFERENCE_RULES: { [O in Op]: RefRule<O> } = {
  [Op.Input]: () => {
    throw new Error('inputs are fed');
  },
  [Op.Initializer]: (_, p) => [{ shape: [...p.shape], data: toRefData(p.data) }],
  [Op.Constant]: (_, p) => [{ shape: [...p.shape], data: toRefData(p.data) }],
  [Op.Add]: bin((a, b) => a + b),
  [Op.Sub]: bin((a, b) => a - b),
  [Op.Mul]: bin((a, b) => a * b),
  [Op.Div]: (xs) => elementwise(xs, (a, b) => a / b, xs[0].data instanceof BigInt64Array ? 'same' : 'float'),
  [Op.Pow]: bin((a, b) => Math.pow(a, b)),
  [Op.Neg]: un((x) => -x),
  [Op.Sqrt]: un(Math.sqrt),
  [Op.Reciprocal]: un((x) => 1 / x),
  [Op.Exp]: un(Math.exp),
  [Op.Log]: un(Math.log),
  [Op.Sin]: un(Math.sin),
  [Op.Cos]: un(Math.cos),
  [Op.Sigmoid]: un((x) => 1 / (1 + Math.exp(-x))),
  [Op.Tanh]: un(Math.tanh),
  [Op.Erf]: un(erf),
  [Op.Where]: ([c, a, b]) => elementwise([c, a, b], (cv, av, bv) => (cv ? av : bv), a.data instanceof BigInt64Array ? 'same' : 'float'),
  [Op.Equal]: cmp((a, b) => a === b),
  [Op.Less]: cmp((a, b) => a < b),
  [Op.LessEqual]: cmp((a, b) => a <= b),
  [Op.Greater]: cmp((a, b) => a > b),
  [Op.GreaterEqual]: cmp((a, b) => a >= b),
  [Op.And]: cmp((a, b) => a !== 0 && b !== 0),
  [Op.Or]: cmp((a, b) => a !== 0 || b !== 0),
  [Op.Not]: (xs) => elementwise(xs, (a) => (a ? 0 : 1), 'bool'),
  [Op.MatMul]: ([a, b], p) => [matmul(a, b, p)],
  [Op.QuantMatMul]: ([x, w], p, _env, _node, dtype) => [quantMatmul(x, w, p.transB, p.rounding, dtype)],
  [Op.ReduceSum]: ([x], p) => [reduce(x, p.axes, p.keepdims, 0, (a, v) => a + v)],
  [Op.ReduceMean]: ([x], p) => {
    const n = p.axes.reduce((acc, a) => acc * x.shape[a], 1);
    const s = reduce(x, p.axes, p.keepdims, 0, (a, v) => a + v);
    return [{ shape: s.shape, data: (s.data as Float64Array).map((v) => v / n) }];
  },
  [Op.ReduceMax]: ([x], p) => [reduce(x, p.axes, p.keepdims, -Infinity, Math.max)],
  [Op.Softmax]: ([x], p) => [softmaxAlong(x, p.axis, false)],
  [Op.LogSoftmax]: ([x], p) => [softmaxAlong(x, p.axis, true)],
  [Op.Reshape]: ([x], p, env) => [{ shape: p.shape.map((d) => dimOf(d, env)), data: x.data }],
  [Op.Transpose]: ([x], p) => [permute(x, p.perm.map((i) => x.shape[i]), (idx) => {
    const src = new Array<number>(idx.length);
    p.perm.forEach((from, to) => (src[from] = idx[to]));
    return src;
  })],
  [Op.Slice]: ([x], p, env) => {
    const start = dimOf(p.start, env);
    const shape = [...x.shape];
    shape[p.axis] = dimOf(p.end, env) - start;
    return [permute(x, shape, (idx) => idx.map((v, k) => (k === p.axis ? v + start : v)))];
  },
  [Op.Pad]: ([x], p, env) => {
    const before = dimOf(p.before, env);
    const shape = [...x.shape];
    shape[p.axis] += before + dimOf(p.after, env);
    return [permute(x, shape, (idx) => {
      const v = idx[p.axis] - before;
      return v < 0 || v >= x.shape[p.axis] ? null : idx.map((w, k) => (k === p.axis ? v : w));
    })];
  },
  [Op.Concat]: (xs, p) => {
    const shape = [...xs[0].shape];
    shape[p.axis] = xs.reduce((acc, t) => acc + t.shape[p.axis], 0);
    const n = size(shape);
    const out = new (xs[0].data.constructor as { new (n: number): RefTensor['data'] })(n);
    for (let i = 0; i < n; i++) {
      const idx = unravel(i, shape);
      let k = 0;
      let v = idx[p.axis];
      while (v >= xs[k].shape[p.axis]) v -= xs[k++].shape[p.axis];
      idx[p.axis] = v;
      const st = strides(xs[k].shape);
      (out as Float64Array)[i] = (xs[k].data as Float64Array)[idx.reduce((acc, w, j) => acc + w * st[j], 0)];
    }
    return [{ shape, data: out }];
  },
  [Op.Split]: ([x], p, env) => {
    let start = 0;
    return p.sizes.map((d) => {
      const len = dimOf(d, env);
      const s = start;
      start += len;
      const shape = [...x.shape];
      shape[p.axis] = len;
      return permute(x, shape, (idx) => idx.map((v, k) => (k === p.axis ? v + s : v)));
    });
  },
  [Op.Expand]: ([x], p, env) => {
    const shape = p.shape.map((d) => dimOf(d, env));
    return [permute(x, shape, (idx) => {
      const lead = idx.length - x.shape.length;
      return x.shape.map((d, k) => (d === 1 ? 0 : idx[lead + k]));
    })];
  },
  [Op.Squeeze]: ([x], p) => [{ shape: x.shape.filter((_, i) => !p.axes.includes(i)), data: x.data }],
  [Op.Unsqueeze]: ([x], p) => {
    const shape: number[] = [];
    let k = 0;
    for (let i = 0; i < x.shape.length + p.axes.length; i++) shape.push(p.axes.includes(i) ? 1 : x.shape[k++]);
    return [{ shape, data: x.data }];
  },
  [Op.Gather]: ([x, ind], p) => {
    const ir = ind.shape.length;
    const shape = [...x.shape.slice(0, p.axis), ...ind.shape, ...x.shape.slice(p.axis + 1)];
    const ist = strides(ind.shape);
    return [permute(x, shape, (idx) => {
      const at = idx.slice(p.axis, p.axis + ir).reduce((acc, v, k) => acc + v * ist[k], 0);
      let i = num(ind, at);
      if (i < 0) i += x.shape[p.axis];
      return [...idx.slice(0, p.axis), i, ...idx.slice(p.axis + ir)];
    })];
  },
  [Op.ScatterAdd]: ([ind, upd], p, env) => {
    const ir = ind.shape.length;
    const axisSize = dimOf(p.size, env);
    const shape = [...upd.shape.slice(0, p.axis), axisSize, ...upd.shape.slice(p.axis + ir)];
    const out = new Float64Array(size(shape));
    const st = strides(shape);
    const ist = strides(ind.shape);
    for (let i = 0; i < upd.data.length; i++) {
      const idx = unravel(i, upd.shape);
      let target = num(ind, idx.slice(p.axis, p.axis + ir).reduce((acc, v, k) => acc + v * ist[k], 0));
      if (target < 0) target += axisSize;
      const full = [...idx.slice(0, p.axis), target, ...idx.slice(p.axis + ir)];
      out[full.reduce((acc, v, k) => acc + v * st[k], 0)] += num(upd, i);
    }
    return [{ shape, data: out }];
  },
  [Op.Cast]: ([x], p) => {
    switch (p.to) {
      case 'float32':
        return [{ shape: x.shape, data: Float64Array.from(x.data as ArrayLike<number>, (v) => Math.fround(Number(v))) }];
      case 'float64':
        return [{ shape: x.shape, data: Float64Array.from(x.data as ArrayLike<number>, Number) }];
      case 'int64':
        return [{ shape: x.shape, data: BigInt64Array.from(x.data as ArrayLike<number>, (v) => BigInt(Math.trunc(Number(v)))) }];
      case 'bool':
        return [{ shape: x.shape, data: Uint8Array.from(x.data as ArrayLike<number>, (v) => (Number(v) !== 0 ? 1 : 0)) }];
    }
  },
  [Op.CrossEntropy]: ([logits, labels], p) => {
    const v = logits.shape.at(-1)!;
    const ls = softmaxAlong(logits, logits.shape.length - 1, true);
    let total = 0;
    let count = 0;
    for (let i = 0; i < labels.data.length; i++) {
      const label = num(labels, i);
      if (label === p.ignoreIndex) continue;
      total -= (ls.data as Float64Array)[i * v + label];
      count++;
    }
    return [{ shape: [], data: Float64Array.of(total / count) }];
  },
};

function toRefData(data: ArrayLike<number | bigint>): RefTensor['data'] {
  if (data instanceof BigInt64Array) return data;
  if (data instanceof Uint8Array) return data;
  return Float64Array.from(data as ArrayLike<number>);
}

/** Evaluates every output of `graph` for the given feeds (float feeds as float64 arrays). */
export function evaluateReference(graph: Graph, feeds: Record<string, RefTensor>): Record<string, RefTensor> {
  const values = new Map<number, RefTensor>();
  const env: Env = new Map();
  for (const node of graph.nodes) {
    if (node.op === Op.Input) {
      const p = node.params as OpParams[Op.Input];
      const feed = feeds[p.name];
      if (!feed) throw new Error(`reference: missing feed ${p.name}`);
      p.shape.forEach((d, i) => typeof d === 'string' && env.set(d, feed.shape[i]));
      values.set(node.outputs[0], { shape: feed.shape, data: toRefData(feed.data) });
      continue;
    }
    const inputs = node.inputs.map((v) => values.get(v)!);
    const outs = (REFERENCE_RULES[node.op] as RefRule<Op>)(inputs, node.params, env, node, graph.values[node.outputs[0]].dtype);
    node.outputs.forEach((v, i) => values.set(v, outs[i]));
  }
  return Object.fromEntries(graph.outputs.map((o) => [o.name, values.get(o.value)!]));
}
