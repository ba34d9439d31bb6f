// The tracer: model code calls methods on `Tensor` handles, and each call appends one node to a
// `GraphBuilder`, with its shape and dtype inferred on the spot. `build()` freezes the result into an
// immutable `Graph`. Shape errors are reported here, at trace time, with the op's name and both shapes.

import { RoadsterError } from '../errors.ts';
import { type DType, type HostArray, allocHostArray, dtypeOfHostArray } from './dtype.ts';
import {
  type Dim,
  type Shape,
  dim as canonicalDim,
  dimAdd,
  dimDivExact,
  dimProduct,
  dimSymbols,
  formatShape,
  isStaticDim,
  shapeEqual,
} from './dim.ts';
import type { Graph, GraphOutput, Node, ValueInfo } from './ir.ts';
import { type InputRounding, Op, type OpParams } from './ops.ts';
import { SHAPE_RULES, ShapeMismatch, type ShapeRule, broadcastShapes } from './shape-rules.ts';

interface MutableNode {
  id: number;
  op: Op;
  params: OpParams[Op];
  inputs: number[];
  outputs: number[];
  name: string;
  region?: number;
  recompute?: boolean;
  cotangent?: boolean;
}

/** Something a binary op accepts: a tensor or a JS number (becomes a scalar constant of the tensor's dtype). */
export type TensorLike = Tensor | number;

/** Element-wise arithmetic, whose broadcasting can stand in for an explicit Expand of an operand. */
const ARITHMETIC: ReadonlySet<Op> = new Set([Op.Add, Op.Sub, Op.Mul, Op.Div]);

/**
 * `t`, or the input of the Expand that produced it when broadcasting that input against `other` gives the same
 * shape: the gradient of a reduction (an Expand of [B, T, 1] to [B, T, D]) then feeds the next product without
 * being written out, and the Expand is left dead.
 */
function unexpanded(t: Tensor, other: Tensor): Tensor {
  const source = t.builder.expandedFrom(t);
  if (!source) return t;
  try {
    return shapeEqual(broadcastShapes(source.shape, other.shape), broadcastShapes(t.shape, other.shape)) ? source : t;
  } catch {
    return t; // not broadcastable: the op itself reports it
  }
}

/** Accumulates nodes while model code runs. One builder traces one graph. */
export class GraphBuilder {
  private readonly nodes: MutableNode[] = [];
  private readonly values: ValueInfo[] = [];
  private readonly names = new Set<string>();
  private readonly inputNames = new Set<string>();
  private readonly scalars = new Map<string, Tensor>();
  private readonly scopes: string[] = [];
  private region: { id: number; recompute: boolean } | undefined;
  private regions = 0;
  private inCotangent = false;

  /** A builder that starts with every node of `graph` (used by autodiff to append the backward pass). */
  static from(graph: Graph): GraphBuilder {
    const b = new GraphBuilder();
    for (const n of graph.nodes) {
      b.nodes.push({ ...n, params: n.params, inputs: [...n.inputs], outputs: [...n.outputs] });
      if (n.region !== undefined) b.regions = Math.max(b.regions, n.region);
      b.names.add(n.name);
      if (n.op === Op.Input) b.inputNames.add((n.params as OpParams[Op.Input]).name);
    }
    b.values.push(...graph.values);
    return b;
  }

  /** The tensor handle of an existing value. */
  tensor(valueId: number): Tensor {
    if (!this.values[valueId]) throw new RoadsterError('E_GRAPH', `no value with id ${valueId}`);
    return new Tensor(this, valueId);
  }

  /** Runs `fn` with node names prefixed by `prefix/` (nested scopes join with "."). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * Traces `fn` as one backward stage (see `Node.region`): the backward pass completes the gradients of the
   * graph inputs used inside the stage before it moves on. Stages do not nest.
   */
  stage<T>(fn: () => T): T {
    return this.region === undefined ? this.inRegion(false, fn) : fn();
  }

  /**
   * Traces `fn` as a recomputation region (activation checkpointing): the backward pass recomputes its nodes
   * from the region's inputs instead of keeping their outputs, trading one more forward for memory. Regions do
   * not nest; leaves (inputs, weights, constants) created inside are not part of the region.
   */
  checkpoint<T>(fn: () => T): T {
    return this.region === undefined ? this.inRegion(true, fn) : fn();
  }

  /** Traces `fn` with its nodes marked as cotangent computations (autodiff runs VJP rules through this). */
  cotangents<T>(fn: () => T): T {
    const outer = this.inCotangent;
    this.inCotangent = true;
    try {
      return fn();
    } finally {
      this.inCotangent = outer;
    }
  }

  private inRegion<T>(recompute: boolean, fn: () => T): T {
    this.region = { id: ++this.regions, recompute };
    try {
      return fn();
    } finally {
      this.region = undefined;
    }
  }

  /** A graph input. Strings in `shape` are symbolic dimensions (e.g. "B", "T") bound at run time. */
  input(name: string, dtype: DType, shape: readonly Dim[]): Tensor {
    if (this.inputNames.has(name)) throw new RoadsterError('E_GRAPH', `graph input "${name}" is declared twice`);
    const canon = shape.map(canonicalDim);
    for (const d of canon) {
      if (!isStaticDim(d) && dimSymbols(d).join('*') !== d) {
        throw new RoadsterError('E_SHAPE', `input "${name}": dimension "${d}" must be a plain symbol such as "B" or "T"`);
      }
    }
    this.inputNames.add(name);
    return this.apply(Op.Input, { name, dtype, shape: canon }, [], name)[0];
  }

  /** A frozen weight, stored in the graph (an ONNX initializer). Its name is its checkpoint name. */
  initializer(name: string, data: HostArray, shape: readonly number[]): Tensor {
    const dtype = dtypeOfHostArray(data);
    if (!dtype) throw new RoadsterError('E_DTYPE', `initializer "${name}": unsupported array type`);
    return this.apply(Op.Initializer, { name, dtype, shape: [...shape], data }, [], name)[0];
  }

  /** A literal tensor. */
  constant(values: HostArray | readonly number[], dtype: DType, shape?: readonly number[]): Tensor {
    const data = Array.isArray(values) || !dtypeOfHostArray(values) ? fill(dtype, values as readonly number[]) : (values as HostArray);
    if (dtypeOfHostArray(data) !== dtype) throw new RoadsterError('E_DTYPE', `constant: data is not ${dtype}`);
    return this.apply(Op.Constant, { dtype, shape: shape ? [...shape] : [data.length], data }, [])[0];
  }

  /** A scalar constant, shared across uses. */
  scalar(value: number, dtype: DType): Tensor {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let t = this.scalars.get(key);
    if (!t) {
      t = this.constant([value], dtype, []);
      this.scalars.set(key, t);
    }
    return t;
  }

  /** Appends one node; returns handles to its outputs. */
  apply<O extends Op>(op: O, params: OpParams[O], inputs: readonly Tensor[], name?: string): Tensor[] {
    for (const t of inputs) {
      if (t.builder !== this) throw new RoadsterError('E_GRAPH', `${op}: input comes from another graph builder`);
    }
    const infos = inputs.map((t) => this.values[t.id]);
    const nodeName = this.uniqueName(name ?? op);
    let types;
    try {
      types = (SHAPE_RULES[op] as ShapeRule<O>)(infos, params);
    } catch (e) {
      if (!(e instanceof ShapeMismatch)) throw e;
      const shapes = infos.map((i) => `${i.dtype}${formatShape(i.shape)}`).join(', ');
      throw new RoadsterError('E_SHAPE', `${nodeName} (${op}): ${e.message}; inputs: ${shapes || 'none'}`);
    }
    const id = this.nodes.length;
    const outputs = types.map((t, index) => {
      const v: ValueInfo = { id: this.values.length, dtype: t.dtype, shape: t.shape, node: id, index };
      this.values.push(v);
      return v.id;
    });
    const node: MutableNode = { id, op, params, inputs: inputs.map((t) => t.id), outputs, name: nodeName };
    if (this.region !== undefined && inputs.length > 0) {
      node.region = this.region.id;
      if (this.region.recompute) node.recompute = true;
    }
    if (this.inCotangent && inputs.length > 0) node.cotangent = true;
    this.nodes.push(node);
    return outputs.map((v) => new Tensor(this, v));
  }

  /** Renames the node that produced `t` (within the current scope). */
  rename(t: Tensor, name: string): void {
    const node = this.nodes[this.values[t.id].node];
    this.names.delete(node.name);
    node.name = this.uniqueName(name);
  }

  info(t: Tensor): ValueInfo {
    return this.values[t.id];
  }

  /** The input of the Expand that produced `t`, when one did, else undefined. */
  expandedFrom(t: Tensor): Tensor | undefined {
    const node = this.nodes[this.values[t.id].node];
    return node.op === Op.Expand ? new Tensor(this, node.inputs[0]) : undefined;
  }

  /** The literal data of `t` when a `constant` produced it, else undefined. */
  constantData(t: Tensor): HostArray | undefined {
    const node = this.nodes[this.values[t.id].node];
    return node.op === Op.Constant ? (node.params as OpParams[Op.Constant]).data : undefined;
  }

  /** Freezes the traced nodes into a graph with the given named outputs. */
  build(outputs: Record<string, Tensor> | readonly [string, Tensor][]): Graph {
    const entries = Array.isArray(outputs) ? outputs : Object.entries(outputs);
    const seen = new Set<string>();
    const outs: GraphOutput[] = entries.map(([name, t]) => {
      if (seen.has(name)) throw new RoadsterError('E_GRAPH', `output "${name}" is given twice`);
      if (this.inputNames.has(name)) throw new RoadsterError('E_GRAPH', `output "${name}" has the name of an input`);
      if (t.builder !== this) throw new RoadsterError('E_GRAPH', `output "${name}" comes from another graph builder`);
      seen.add(name);
      return { name, value: t.id };
    });
    const nodes: Node[] = this.nodes.map((n) =>
      Object.freeze({ ...n, inputs: Object.freeze([...n.inputs]), outputs: Object.freeze([...n.outputs]) }),
    );
    return Object.freeze({ nodes: Object.freeze(nodes), values: Object.freeze([...this.values]), outputs: Object.freeze(outs) });
  }

  private uniqueName(base: string): string {
    const full = this.scopes.length > 0 ? `${this.scopes.join('.')}/${base}` : base;
    let name = full;
    for (let i = 1; this.names.has(name); i++) name = `${full}_${i}`;
    this.names.add(name);
    return name;
  }
}

function fill(dtype: DType, values: readonly number[]): HostArray {
  const out = allocHostArray(dtype, values.length);
  values.forEach((v, i) => {
    if (out instanceof BigInt64Array) out[i] = BigInt(v);
    else out[i] = v;
  });
  return out;
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new RoadsterError('E_SHAPE', `${what}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** A handle to one traced value. Methods append nodes to the builder and return new handles. */
export class Tensor {
  constructor(
    readonly builder: GraphBuilder,
    readonly id: number,
  ) {}

  get dtype(): DType {
    return this.builder.info(this).dtype;
  }
  get shape(): Shape {
    return this.builder.info(this).shape;
  }
  get rank(): number {
    return this.shape.length;
  }

  /** Names the node that produced this tensor; returns this, so it chains. */
  named(name: string): Tensor {
    this.builder.rename(this, name);
    return this;
  }

  private lift(x: TensorLike): Tensor {
    return typeof x === 'number' ? this.builder.scalar(x, this.dtype) : x;
  }
  private un(op: Op): Tensor {
    return this.builder.apply(op, {} as OpParams[Op.Neg], [this])[0];
  }
  private bin(op: Op, other: TensorLike): Tensor {
    const [a, b] = [this, this.lift(other)];
    if (!ARITHMETIC.has(op)) return this.builder.apply(op, {} as OpParams[Op.Add], [a, b])[0];
    // one operand at a time, so that the result keeps its shape when both were expanded
    const a1 = unexpanded(a, b);
    return this.builder.apply(op, {} as OpParams[Op.Add], [a1, unexpanded(b, a1)])[0];
  }

  add(o: TensorLike): Tensor { return this.bin(Op.Add, o); }
  sub(o: TensorLike): Tensor { return this.bin(Op.Sub, o); }
  mul(o: TensorLike): Tensor { return this.bin(Op.Mul, o); }
  div(o: TensorLike): Tensor { return this.bin(Op.Div, o); }
  pow(o: TensorLike): Tensor { return this.bin(Op.Pow, o); }
  neg(): Tensor { return this.un(Op.Neg); }
  sqrt(): Tensor { return this.un(Op.Sqrt); }
  reciprocal(): Tensor { return this.un(Op.Reciprocal); }
  exp(): Tensor { return this.un(Op.Exp); }
  log(): Tensor { return this.un(Op.Log); }
  sin(): Tensor { return this.un(Op.Sin); }
  cos(): Tensor { return this.un(Op.Cos); }
  sigmoid(): Tensor { return this.un(Op.Sigmoid); }
  tanh(): Tensor { return this.un(Op.Tanh); }
  erf(): Tensor { return this.un(Op.Erf); }
  /** x · sigmoid(x). */
  silu(): Tensor { return this.mul(this.sigmoid()); }

  eq(o: TensorLike): Tensor { return this.bin(Op.Equal, o); }
  lt(o: TensorLike): Tensor { return this.bin(Op.Less, o); }
  le(o: TensorLike): Tensor { return this.bin(Op.LessEqual, o); }
  gt(o: TensorLike): Tensor { return this.bin(Op.Greater, o); }
  ge(o: TensorLike): Tensor { return this.bin(Op.GreaterEqual, o); }
  and(o: Tensor): Tensor { return this.bin(Op.And, o); }
  or(o: Tensor): Tensor { return this.bin(Op.Or, o); }
  not(): Tensor { return this.un(Op.Not); }

  /** this ? a : b, element-wise with broadcasting (this must be bool). */
  where(a: TensorLike, b: TensorLike): Tensor {
    const ref = typeof a === 'number' ? (typeof b === 'number' ? undefined : b) : a;
    if (!ref) throw new RoadsterError('E_USAGE', 'where: at least one branch must be a tensor');
    const lift = (x: TensorLike) => (typeof x === 'number' ? this.builder.scalar(x, ref.dtype) : x);
    return this.builder.apply(Op.Where, {}, [this, lift(a), lift(b)])[0];
  }

  /** op(this) @ op(other) over the last two axes; batch axes broadcast. */
  matmul(other: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
    return this.builder.apply(Op.MatMul, { transA: opts.transA ?? false, transB: opts.transB ?? false }, [this, other])[0];
  }

  private axes(axes: number | readonly number[] | undefined, what: string): number[] {
    const list = axes === undefined ? this.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : axes;
    return list.map((a) => normAxis(a, this.rank, what)).sort((a, b) => a - b);
  }
  /** Sum over `axes` (all axes when omitted). */
  sum(axes?: number | readonly number[], keepdims = false): Tensor {
    return this.builder.apply(Op.ReduceSum, { axes: this.axes(axes, 'sum'), keepdims }, [this])[0];
  }
  mean(axes?: number | readonly number[], keepdims = false): Tensor {
    return this.builder.apply(Op.ReduceMean, { axes: this.axes(axes, 'mean'), keepdims }, [this])[0];
  }
  max(axes?: number | readonly number[], keepdims = false): Tensor {
    return this.builder.apply(Op.ReduceMax, { axes: this.axes(axes, 'max'), keepdims }, [this])[0];
  }
  softmax(axis = -1): Tensor {
    return this.builder.apply(Op.Softmax, { axis: normAxis(axis, this.rank, 'softmax') }, [this])[0];
  }
  logSoftmax(axis = -1): Tensor {
    return this.builder.apply(Op.LogSoftmax, { axis: normAxis(axis, this.rank, 'logSoftmax') }, [this])[0];
  }

  /** Reshape; at most one entry may be -1 (inferred). */
  reshape(shape: readonly Dim[]): Tensor {
    const target = shape.map((d) => (d === -1 ? -1 : canonicalDim(d)));
    const hole = target.indexOf(-1);
    if (hole >= 0) {
      if (target.indexOf(-1, hole + 1) >= 0) throw new RoadsterError('E_SHAPE', 'reshape: more than one -1');
      const known = dimProduct(target.filter((_, i) => i !== hole));
      const inferred = dimDivExact(dimProduct(this.shape), known);
      if (inferred === undefined) {
        throw new RoadsterError(
          'E_SHAPE',
          `reshape: cannot infer -1 in ${formatShape(shape)} from ${formatShape(this.shape)}; write the dimension out`,
        );
      }
      target[hole] = inferred;
    }
    return this.builder.apply(Op.Reshape, { shape: target }, [this])[0];
  }
  transpose(perm: readonly number[]): Tensor {
    return this.builder.apply(Op.Transpose, { perm: perm.map((a) => normAxis(a, this.rank, 'transpose')) }, [this])[0];
  }
  /** Swaps two axes. */
  swapAxes(a: number, b: number): Tensor {
    const perm = this.shape.map((_, i) => i);
    const [x, y] = [normAxis(a, this.rank, 'swapAxes'), normAxis(b, this.rank, 'swapAxes')];
    [perm[x], perm[y]] = [perm[y], perm[x]];
    return this.transpose(perm);
  }
  /**
   * this[start:end] along `axis`, Python-style: negative indices count from the end, `end` omitted means to
   * the end. Indices must lie inside the axis (no clamping).
   */
  slice(axis: number, start: Dim, end?: Dim): Tensor {
    const a = normAxis(axis, this.rank, 'slice');
    const size = this.shape[a];
    const resolve = (i: Dim): Dim => (typeof i === 'number' && i < 0 ? dimAdd(size, i) : canonicalDim(i));
    return this.builder.apply(Op.Slice, { axis: a, start: resolve(start), end: end === undefined ? size : resolve(end) }, [this])[0];
  }
  /** Zero padding along one axis. */
  pad(axis: number, before: Dim, after: Dim): Tensor {
    return this.builder.apply(Op.Pad, { axis: normAxis(axis, this.rank, 'pad'), before: canonicalDim(before), after: canonicalDim(after) }, [this])[0];
  }
  split(axis: number, sizes: readonly Dim[]): Tensor[] {
    return this.builder.apply(Op.Split, { axis: normAxis(axis, this.rank, 'split'), sizes: sizes.map(canonicalDim) }, [this]);
  }
  expand(shape: readonly Dim[]): Tensor {
    return this.builder.apply(Op.Expand, { shape: shape.map(canonicalDim) }, [this])[0];
  }
  squeeze(axes: number | readonly number[]): Tensor {
    const list = (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis(a, this.rank, 'squeeze'));
    return this.builder.apply(Op.Squeeze, { axes: list.sort((a, b) => a - b) }, [this])[0];
  }
  unsqueeze(axes: number | readonly number[]): Tensor {
    const list = typeof axes === 'number' ? [axes] : axes;
    const rank = this.rank + list.length;
    return this.builder.apply(Op.Unsqueeze, { axes: list.map((a) => normAxis(a, rank, 'unsqueeze')).sort((a, b) => a - b) }, [this])[0];
  }
  /** this @ op(Q(w)) with w a constant or initializer quantized to int8 per row (see Op.QuantMatMul). */
  quantMatmul(w: Tensor, options: { transB?: boolean; rounding?: InputRounding } = {}): Tensor {
    return this.builder.apply(Op.QuantMatMul, { transB: options.transB ?? false, rounding: options.rounding ?? 'row' }, [this, w])[0];
  }
  /** numpy.take(this, indices, axis). */
  gather(indices: Tensor, axis = 0): Tensor {
    return this.builder.apply(Op.Gather, { axis: normAxis(axis, this.rank, 'gather') }, [this, indices])[0];
  }
  cast(to: DType): Tensor {
    return this.builder.apply(Op.Cast, { to }, [this])[0];
  }
  /** Mean cross-entropy of these logits [..., V] against int64 labels [...], skipping `ignoreIndex`. */
  crossEntropy(labels: Tensor, ignoreIndex = -100): Tensor {
    return this.builder.apply(Op.CrossEntropy, { ignoreIndex }, [this, labels])[0];
  }
}

/** Concatenation along `axis`. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new RoadsterError('E_USAGE', 'concat of no tensors');
  const b = tensors[0].builder;
  return b.apply(Op.Concat, { axis: normAxis(axis, tensors[0].rank, 'concat') }, tensors)[0];
}

/** Scatter-add: the transpose of gather along `axis` into an axis of `size`. */
export function scatterAdd(indices: Tensor, updates: Tensor, axis: number, size: Dim): Tensor {
  const a = normAxis(axis, updates.rank - indices.rank + 1, 'scatterAdd');
  return updates.builder.apply(Op.ScatterAdd, { axis: a, size: canonicalDim(size) }, [indices, updates])[0];
}
