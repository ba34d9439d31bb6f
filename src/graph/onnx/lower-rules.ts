// ONNX lowering, one rule per IR op (opset 17). Each rule emits the ONNX nodes of one IR node through the
// emitter context and writes the IR node's outputs (`ctx.outputs`). ONNX op-type strings appear only here and
// in lower-compound.ts (the multi-node lowerings these rules call).

import { Op, type OpParams } from '../ops.ts';
import type { LowerContext } from './context.ts';
import {
  boolCompare,
  boolWhere,
  castTo,
  crossEntropy,
  dimValue,
  dimsValue,
  erfFloat64,
  expand,
  quantMatMul,
  reshape,
  scatterAdd,
  transposeLast2,
} from './lower-compound.ts';
import { type Attrs, MS_DOMAIN } from './proto.ts';

/** Emits the ONNX nodes for one IR node whose context `ctx` is positioned on. */
export type LowerRule<O extends Op> = (ctx: LowerContext, params: OpParams[O]) => void;

/** One ONNX node with the IR node's inputs and outputs. */
const direct =
  (opType: string, attrs: (p: never) => Attrs = () => ({})) =>
  (ctx: LowerContext, p: unknown): void => {
    ctx.emit(opType, ctx.inputs, attrs(p as never), ctx.outputs);
  };

/** Reductions and squeezes treat an empty axes list as "all axes"; ours means "none", i.e. identity. */
function identity(ctx: LowerContext): void {
  ctx.emit('Identity', ctx.inputs, {}, ctx.outputs);
}

/** Comparisons: direct, except ordered comparisons of bools, which ONNX does not type. */
const compare =
  (opType: string, op: Op.Less | Op.LessEqual | Op.Greater | Op.GreaterEqual) =>
  (ctx: LowerContext): void => {
    if (ctx.inType(0).dtype === 'bool') boolCompare(ctx, op);
    else ctx.emit(opType, ctx.inputs, {}, ctx.outputs);
  };

export const LOWER_RULES: { [O in Op]: LowerRule<O> } = {
  // graph inputs are declared up front by lowerToOnnx (all of them, so that every symbol has a source)
  [Op.Input]: () => {},
  // frozen weights: initializer named after the node, raw_data viewing the host array
  [Op.Initializer]: (ctx, p) => void ctx.initializer(ctx.outputs[0], p.dtype, p.shape, p.data),
  // literals: initializers as well
  [Op.Constant]: (ctx, p) => void ctx.initializer(ctx.outputs[0], p.dtype, p.shape, p.data),
  // a + b
  [Op.Add]: direct('Add'),
  // a - b
  [Op.Sub]: direct('Sub'),
  // a · b
  [Op.Mul]: direct('Mul'),
  // a / b
  [Op.Div]: direct('Div'),
  // a ^ b
  [Op.Pow]: direct('Pow'),
  // -x
  [Op.Neg]: direct('Neg'),
  // √x
  [Op.Sqrt]: direct('Sqrt'),
  // 1 / x
  [Op.Reciprocal]: direct('Reciprocal'),
  // e^x
  [Op.Exp]: direct('Exp'),
  // ln x
  [Op.Log]: direct('Log'),
  // sin x
  [Op.Sin]: direct('Sin'),
  // cos x
  [Op.Cos]: direct('Cos'),
  // 1 / (1 + e^-x)
  [Op.Sigmoid]: direct('Sigmoid'),
  // tanh x
  [Op.Tanh]: direct('Tanh'),
  // erf x = 2/√π ∫₀ˣ e^(-t²) dt; float64 has no ORT CPU kernel and goes through a series
  [Op.Erf]: (ctx) => (ctx.inType(0).dtype === 'float64' ? erfFloat64(ctx) : ctx.emit('Erf', ctx.inputs, {}, ctx.outputs)),
  // c ? a : b; bool branches have no ORT CPU kernel and go through logic
  [Op.Where]: (ctx) => (ctx.inType(1).dtype === 'bool' ? boolWhere(ctx) : ctx.emit('Where', ctx.inputs, {}, ctx.outputs)),
  // a = b
  [Op.Equal]: direct('Equal'),
  // a < b
  [Op.Less]: compare('Less', Op.Less),
  // a ≤ b
  [Op.LessEqual]: compare('LessOrEqual', Op.LessEqual),
  // a > b
  [Op.Greater]: compare('Greater', Op.Greater),
  // a ≥ b
  [Op.GreaterEqual]: compare('GreaterOrEqual', Op.GreaterEqual),
  // a ∧ b
  [Op.And]: direct('And'),
  // a ∨ b
  [Op.Or]: direct('Or'),
  // ¬x
  [Op.Not]: direct('Not'),
  // op(A) @ op(B): float32 with a transpose goes to ORT's FusedMatMul, which transposes inside the kernel (no
  // transposed copy of a weight, no layout transpose merged into a slow one); float64 (FusedMatMul has no
  // float64 kernel), plain products and standard-only lowerings use Transpose of the last two axes + MatMul
  [Op.MatMul]: (ctx, p) => {
    let [a, b] = ctx.inputs;
    if ((p.transA || p.transB) && ctx.inType(0).dtype === 'float32' && ctx.options.contribOps) {
      ctx.emit('FusedMatMul', [a, b], { transA: +p.transA, transB: +p.transB }, ctx.outputs, MS_DOMAIN);
      return;
    }
    if (p.transA) a = transposeLast2(ctx, a, ctx.inType(0).shape.length);
    if (p.transB) b = transposeLast2(ctx, b, ctx.inType(1).shape.length);
    ctx.emit('MatMul', [a, b], {}, ctx.outputs);
  },
  // x @ op(Q(w)), w quantized to int8 per row (lower-compound.ts)
  [Op.QuantMatMul]: (ctx, p) => quantMatMul(ctx, p.transB, p.rounding),
  // Σ over axes (opset 13+: axes is an input)
  [Op.ReduceSum]: (ctx, p) =>
    p.axes.length === 0
      ? identity(ctx)
      : ctx.emit('ReduceSum', [ctx.inputs[0], ctx.constInt64(p.axes)], { keepdims: +p.keepdims }, ctx.outputs),
  // mean over axes (opset 17: axes is an attribute)
  [Op.ReduceMean]: (ctx, p) =>
    p.axes.length === 0 ? identity(ctx) : ctx.emit('ReduceMean', ctx.inputs, { axes: p.axes, keepdims: +p.keepdims }, ctx.outputs),
  // max over axes (opset 17: axes is an attribute)
  [Op.ReduceMax]: (ctx, p) =>
    p.axes.length === 0 ? identity(ctx) : ctx.emit('ReduceMax', ctx.inputs, { axes: p.axes, keepdims: +p.keepdims }, ctx.outputs),
  // e^x / Σ e^x along one axis (opset 13+ semantics)
  [Op.Softmax]: direct('Softmax', (p: OpParams[Op.Softmax]) => ({ axis: p.axis })),
  // x - log Σ e^x along one axis
  [Op.LogSoftmax]: direct('LogSoftmax', (p: OpParams[Op.LogSoftmax]) => ({ axis: p.axis })),
  // same elements, new (possibly symbolic) shape: a constant operand where possible, else computed at run time
  [Op.Reshape]: (ctx, p) => reshape(ctx, p.shape),
  // y[perm(i)] = x[i]
  [Op.Transpose]: direct('Transpose', (p: OpParams[Op.Transpose]) => ({ perm: p.perm })),
  // x[start:end] along one axis
  [Op.Slice]: (ctx, p) =>
    ctx.emit('Slice', [ctx.inputs[0], dimValue(ctx, p.start), dimValue(ctx, p.end), ctx.constInt64([p.axis])], {}, ctx.outputs),
  // zeros before and after along one axis (constant mode, pads input of length 2·rank)
  [Op.Pad]: (ctx, p) => {
    const rank = ctx.inType(0).shape.length;
    const pads = Array.from({ length: 2 * rank }, (_, i) => (i === p.axis ? p.before : i === rank + p.axis ? p.after : 0));
    ctx.emit('Pad', [ctx.inputs[0], dimsValue(ctx, pads)], { mode: 'constant' }, ctx.outputs);
  },
  // [a; b; ...] along one axis
  [Op.Concat]: direct('Concat', (p: OpParams[Op.Concat]) => ({ axis: p.axis })),
  // the inverse of Concat, sizes as an input
  [Op.Split]: (ctx, p) => ctx.emit('Split', [ctx.inputs[0], dimsValue(ctx, p.sizes)], { axis: p.axis }, ctx.outputs),
  // broadcast to a (possibly symbolic) shape
  [Op.Expand]: (ctx, p) => expand(ctx, p.shape),
  // drop size-1 axes (axes as an input)
  [Op.Squeeze]: (ctx, p) =>
    p.axes.length === 0 ? identity(ctx) : ctx.emit('Squeeze', [ctx.inputs[0], ctx.constInt64(p.axes)], {}, ctx.outputs),
  // insert size-1 axes (axes as an input)
  [Op.Unsqueeze]: (ctx, p) =>
    p.axes.length === 0 ? identity(ctx) : ctx.emit('Unsqueeze', [ctx.inputs[0], ctx.constInt64(p.axes)], {}, ctx.outputs),
  // y = take(x, indices, axis)
  [Op.Gather]: direct('Gather', (p: OpParams[Op.Gather]) => ({ axis: p.axis })),
  // y[.., idx[j], ..] += u[.., j, ..]: ScatterND with reduction=add into zeros
  [Op.ScatterAdd]: scatterAdd,
  // element type conversion
  [Op.Cast]: direct('Cast', (p: OpParams[Op.Cast]) => ({ to: castTo(p.to) })),
  // mean over non-ignored rows of -log softmax(logits)[label]
  [Op.CrossEntropy]: crossEntropy,
};
