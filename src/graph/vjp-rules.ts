// Vector-Jacobian products, one rule per op: given the cotangents of a node's outputs, return the cotangents
// of its inputs (null where an input is not differentiable or not needed). Broadcasting is undone by summing
// back to each input's shape. Derivations that take more than a line are in docs/autodiff.md.

import { RoadsterError } from '../errors.ts';
import { type Dim, type Shape, dimAdd, dimEqual, dimProduct, dimSub, isStaticDim } from './dim.ts';
import { isFloat } from './dtype.ts';
import { Op, type OpParams } from './ops.ts';
import { type GraphBuilder, type Tensor, concat, scatterAdd } from './tracer.ts';

export interface VjpContext<O extends Op> {
  readonly b: GraphBuilder;
  readonly params: OpParams[O];
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** Cotangent of each output, or null when nothing downstream needs it. */
  readonly grads: readonly (Tensor | null)[];
  /** Whether input i needs a cotangent. */
  readonly needs: (i: number) => boolean;
}

export type VjpRule<O extends Op> = (ctx: VjpContext<O>) => (Tensor | null)[];

/** Sums `g` down to `shape` (the inverse of NumPy broadcasting). */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  const gs = g.shape;
  const lead = gs.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead || (dimEqual(shape[i - lead], 1) && !dimEqual(gs[i], 1))) axes.push(i);
  }
  const summed = axes.length > 0 ? g.sum(axes, true) : g;
  return summed.rank === shape.length && summed.shape.every((d, i) => dimEqual(d, shape[i])) ? summed : summed.reshape(shape);
}

/** The inverse of `indices` when it is a permutation of 0..n-1 (static n), else null. */
function inversePermutation(indices: ArrayLike<number | bigint> | undefined, n: Dim): number[] | null {
  if (!indices || !isStaticDim(n) || indices.length !== n) return null;
  const inverse = new Array<number>(n).fill(-1);
  for (let k = 0; k < n; k++) {
    const v = Number(indices[k]);
    if (!Number.isInteger(v) || v < 0 || v >= n || inverse[v] !== -1) return null;
    inverse[v] = k;
  }
  return inverse;
}

/** Zeros with the shape and dtype of `t`. */
export function zerosLike(t: Tensor): Tensor {
  return t.builder.scalar(0, t.dtype).expand(t.shape);
}

/** Expands a reduced cotangent back over the reduced axes of `shape`. */
function unreduce(g: Tensor, axes: readonly number[], keepdims: boolean, shape: Shape): Tensor {
  return (keepdims || axes.length === 0 ? g : g.unsqueeze(axes)).expand(shape);
}

function requireStatic(d: Dim, what: string): number {
  if (!isStaticDim(d)) throw new RoadsterError('E_AUTODIFF', `${what}: the gradient needs a static size, got "${d}"`);
  return d;
}

const none = (ctx: { inputs: readonly Tensor[] }) => ctx.inputs.map(() => null);

export const VJP_RULES: { [O in Op]: VjpRule<O> } = {
  [Op.Input]: () => [],
  [Op.Initializer]: () => [],
  [Op.Constant]: () => [],
  // d(a + b) = da + db
  [Op.Add]: ({ inputs: [a, b], grads: [g] }) => [unbroadcast(g!, a.shape), unbroadcast(g!, b.shape)],
  // d(a - b) = da - db
  [Op.Sub]: ({ inputs: [a, b], grads: [g] }) => [unbroadcast(g!, a.shape), unbroadcast(g!.neg(), b.shape)],
  // d(a b) = b da + a db
  [Op.Mul]: ({ inputs: [a, b], grads: [g], needs }) => [
    needs(0) ? unbroadcast(g!.mul(b), a.shape) : null,
    needs(1) ? unbroadcast(g!.mul(a), b.shape) : null,
  ],
  // d(a / b) = da / b - (a / b) db / b
  [Op.Div]: ({ inputs: [a, b], outputs: [y], grads: [g], needs }) => {
    const ga = g!.div(b);
    return [needs(0) ? unbroadcast(ga, a.shape) : null, needs(1) ? unbroadcast(ga.mul(y).neg(), b.shape) : null];
  },
  // d(x^p) = p x^(p-1) dx + x^p log(x) dp
  [Op.Pow]: ({ inputs: [x, p], outputs: [y], grads: [g], needs }) => [
    needs(0) ? unbroadcast(g!.mul(p).mul(x.pow(p.sub(1))), x.shape) : null,
    needs(1) ? unbroadcast(g!.mul(y).mul(x.log()), p.shape) : null,
  ],
  // d(-x) = -dx
  [Op.Neg]: ({ grads: [g] }) => [g!.neg()],
  // d(sqrt x) = dx / (2 sqrt x)
  [Op.Sqrt]: ({ outputs: [y], grads: [g] }) => [g!.mul(0.5).div(y)],
  // d(1/x) = -dx / x^2
  [Op.Reciprocal]: ({ outputs: [y], grads: [g] }) => [g!.mul(y.mul(y)).neg()],
  // d(exp x) = exp(x) dx
  [Op.Exp]: ({ outputs: [y], grads: [g] }) => [g!.mul(y)],
  // d(log x) = dx / x
  [Op.Log]: ({ inputs: [x], grads: [g] }) => [g!.div(x)],
  // d(sin x) = cos(x) dx
  [Op.Sin]: ({ inputs: [x], grads: [g] }) => [g!.mul(x.cos())],
  // d(cos x) = -sin(x) dx
  [Op.Cos]: ({ inputs: [x], grads: [g] }) => [g!.mul(x.sin()).neg()],
  // d(sigmoid x) = s (1 - s) dx
  [Op.Sigmoid]: ({ outputs: [y], grads: [g] }) => [g!.mul(y.mul(y.neg().add(1)))],
  // d(tanh x) = (1 - tanh^2 x) dx
  [Op.Tanh]: ({ outputs: [y], grads: [g] }) => [g!.mul(y.mul(y).neg().add(1))],
  // d(erf x) = 2/sqrt(pi) exp(-x^2) dx
  [Op.Erf]: ({ inputs: [x], grads: [g] }) => [g!.mul(x.mul(x).neg().exp().mul(2 / Math.sqrt(Math.PI)))],
  // d(c ? a : b) = c ? da : db
  [Op.Where]: ({ inputs: [c, a, b], grads: [g], needs }) => [
    null,
    needs(1) ? unbroadcast(c.where(g!, 0), a.shape) : null,
    needs(2) ? unbroadcast(c.where(0, g!), b.shape) : null,
  ],
  [Op.Equal]: none,
  [Op.Less]: none,
  [Op.LessEqual]: none,
  [Op.Greater]: none,
  [Op.GreaterEqual]: none,
  [Op.And]: none,
  [Op.Or]: none,
  [Op.Not]: none,
  // C = A'B' with A' = opA(A), B' = opB(B): dA' = dC B'^T, dB' = A'^T dC (docs/autodiff.md#matmul)
  [Op.MatMul]: ({ inputs: [a, b], grads: [g], params: { transA, transB }, needs }) => {
    const ga = !needs(0) ? null : transA ? b.matmul(g!, { transA: transB, transB: true }) : g!.matmul(b, { transB: !transB });
    const gb = !needs(1) ? null : transB ? g!.matmul(a, { transA: true, transB: transA }) : a.matmul(g!, { transA: !transA });
    return [ga && unbroadcast(ga, a.shape), gb && unbroadcast(gb, b.shape)];
  },
  // y = x op(Q(w)): dx = dy op(Q(w))ᵀ, the same quantized weight the other way round, without rounding dy
  // (straight through the forward rounding of x); w is frozen
  [Op.QuantMatMul]: ({ inputs: [x, w], grads: [g], params: { transB }, needs }) => {
    if (needs(1)) throw new RoadsterError('E_AUTODIFF', 'the weight of a quantized matmul is frozen: it has no gradient');
    return [needs(0) ? unbroadcast(g!.quantMatmul(w, { transB: !transB, rounding: 'none' }), x.shape) : null, null];
  },
  // d(sum x) = broadcast(dy)
  [Op.ReduceSum]: ({ inputs: [x], grads: [g], params }) => [unreduce(g!, params.axes, params.keepdims, x.shape)],
  // d(mean x) = broadcast(dy) / n
  [Op.ReduceMean]: ({ inputs: [x], grads: [g], params }) => {
    const n = requireStatic(dimProduct(params.axes.map((a) => x.shape[a])), 'mean');
    return [unreduce(g!.mul(1 / n), params.axes, params.keepdims, x.shape)];
  },
  // d(max x) = broadcast(dy) on the arg-max positions, shared equally among ties
  [Op.ReduceMax]: ({ inputs: [x], outputs: [y], grads: [g], params }) => {
    const hit = x.eq(unreduce(y, params.axes, params.keepdims, x.shape)).cast(x.dtype);
    const share = hit.div(hit.sum(params.axes, true));
    return [unreduce(g!, params.axes, params.keepdims, x.shape).mul(share)];
  },
  // d(softmax x) = y (dy - sum(dy y))
  [Op.Softmax]: ({ outputs: [y], grads: [g], params: { axis } }) => [y.mul(g!.sub(g!.mul(y).sum(axis, true)))],
  // d(log softmax x) = dy - exp(y) sum(dy)
  [Op.LogSoftmax]: ({ outputs: [y], grads: [g], params: { axis } }) => [g!.sub(y.exp().mul(g!.sum(axis, true)))],
  // reshape back
  [Op.Reshape]: ({ inputs: [x], grads: [g] }) => [g!.reshape(x.shape)],
  // transpose by the inverse permutation
  [Op.Transpose]: ({ grads: [g], params: { perm } }) => {
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g!.transpose(inverse)];
  },
  // zero-pad the cotangent back to the full axis
  [Op.Slice]: ({ inputs: [x], grads: [g], params: { axis, start, end } }) => [
    g!.pad(axis, start, dimSub(x.shape[axis], end)),
  ],
  // slice the padding off
  [Op.Pad]: ({ inputs: [x], grads: [g], params: { axis, before } }) => [g!.slice(axis, before, dimAdd(before, x.shape[axis]))],
  // each input gets its slice of the cotangent
  [Op.Concat]: ({ inputs, grads: [g], params: { axis }, needs }) => {
    let offset: Dim = 0;
    return inputs.map((t, i) => {
      const start = offset;
      offset = dimAdd(offset, t.shape[axis]);
      return needs(i) ? g!.slice(axis, start, offset) : null;
    });
  },
  // concatenate the cotangents (zeros for unused outputs)
  [Op.Split]: ({ outputs, grads, params: { axis } }) => [concat(outputs.map((o, i) => grads[i] ?? zerosLike(o)), axis)],
  // sum over the broadcast axes
  [Op.Expand]: ({ inputs: [x], grads: [g] }) => [unbroadcast(g!, x.shape)],
  [Op.Squeeze]: ({ grads: [g], params: { axes } }) => [g!.unsqueeze(axes)],
  [Op.Unsqueeze]: ({ grads: [g], params: { axes } }) => [g!.squeeze(axes)],
  // d(take(x, i)) = scatter-add of dy at i
  // a constant permutation of the axis (e.g. swapping halves) is undone by the inverse permutation, a plain
  // gather; any other indices scatter-add the cotangent back
  [Op.Gather]: ({ b, inputs: [x, i], grads: [g], params: { axis } }) => {
    const inverse = inversePermutation(b.constantData(i), x.shape[axis]);
    if (inverse) return [g!.gather(b.constant(inverse, 'int64', [inverse.length]), axis), null];
    return [scatterAdd(i, g!, axis, x.shape[axis]), null];
  },
  // d(scatter-add(u at i)) = take(dy, i)
  [Op.ScatterAdd]: ({ inputs: [i], grads: [g], params: { axis } }) => [null, g!.gather(i, axis)],
  // cast the cotangent back; integer and bool inputs have none
  [Op.Cast]: ({ inputs: [x], grads: [g] }) => [isFloat(x.dtype) && isFloat(g!.dtype) ? g!.cast(x.dtype) : null],
  // d(mean CE)/dlogits = (softmax(z) - onehot(label)) · [label ≠ ignore] · dy / count (docs/autodiff.md#cross-entropy)
  [Op.CrossEntropy]: ({ b, inputs: [logits, labels], grads: [g], params: { ignoreIndex } }) => {
    const vocab = requireStatic(logits.shape.at(-1)!, 'cross-entropy vocabulary');
    const iota = b.constant(Array.from({ length: vocab }, (_, k) => k), 'int64', [vocab]);
    const keep = labels.eq(ignoreIndex).not().cast(logits.dtype); // [...]
    const scale = g!.div(keep.sum()); // []
    const onehot = labels.unsqueeze(-1).eq(iota).cast(logits.dtype); // [..., V]
    return [logits.softmax(-1).sub(onehot).mul(keep.mul(scale).unsqueeze(-1)), null];
  },
};
