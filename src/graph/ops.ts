// The primitive ops of roadster's graph IR: one enum and one typed parameter map. Every rule table (shapes,
// VJPs, ONNX lowering, reference evaluation in tests) is a mapped type over `Op`, so adding an op without its
// rules is a compile error. ONNX op-type strings appear only in the lowering table, never here.

import type { DType, HostArray } from './dtype.ts';
import type { Dim, Shape } from './dim.ts';

/** How a quantized matmul rounds its float input (OpParams[Op.QuantMatMul]). */
export type InputRounding = 'none' | 'row' | 'tensor';

export enum Op {
  // Leaves
  Input = 'Input',
  Initializer = 'Initializer',
  Constant = 'Constant',
  // Element-wise, NumPy broadcasting
  Add = 'Add',
  Sub = 'Sub',
  Mul = 'Mul',
  Div = 'Div',
  Pow = 'Pow',
  Neg = 'Neg',
  Sqrt = 'Sqrt',
  Reciprocal = 'Reciprocal',
  Exp = 'Exp',
  Log = 'Log',
  Sin = 'Sin',
  Cos = 'Cos',
  Sigmoid = 'Sigmoid',
  Tanh = 'Tanh',
  Erf = 'Erf',
  Where = 'Where',
  // Comparisons and logic (bool results, no gradient)
  Equal = 'Equal',
  Less = 'Less',
  LessEqual = 'LessEqual',
  Greater = 'Greater',
  GreaterEqual = 'GreaterEqual',
  And = 'And',
  Or = 'Or',
  Not = 'Not',
  // Linear algebra and reductions
  MatMul = 'MatMul',
  QuantMatMul = 'QuantMatMul',
  ReduceSum = 'ReduceSum',
  ReduceMean = 'ReduceMean',
  ReduceMax = 'ReduceMax',
  Softmax = 'Softmax',
  LogSoftmax = 'LogSoftmax',
  // Layout
  Reshape = 'Reshape',
  Transpose = 'Transpose',
  Slice = 'Slice',
  Pad = 'Pad',
  Concat = 'Concat',
  Split = 'Split',
  Expand = 'Expand',
  Squeeze = 'Squeeze',
  Unsqueeze = 'Unsqueeze',
  Gather = 'Gather',
  ScatterAdd = 'ScatterAdd',
  Cast = 'Cast',
  // Losses
  CrossEntropy = 'CrossEntropy',
}

export const ALL_OPS: readonly Op[] = Object.values(Op);

type NoParams = Record<string, never>;

/** Parameters of each op. Axes are always normalised to non-negative integers by the tracer. */
export interface OpParams {
  [Op.Input]: { name: string; dtype: DType; shape: Shape };
  [Op.Initializer]: { name: string; dtype: DType; shape: readonly number[]; data: HostArray };
  [Op.Constant]: { dtype: DType; shape: readonly number[]; data: HostArray };
  [Op.Add]: NoParams;
  [Op.Sub]: NoParams;
  [Op.Mul]: NoParams;
  [Op.Div]: NoParams;
  [Op.Pow]: NoParams;
  [Op.Neg]: NoParams;
  [Op.Sqrt]: NoParams;
  [Op.Reciprocal]: NoParams;
  [Op.Exp]: NoParams;
  [Op.Log]: NoParams;
  [Op.Sin]: NoParams;
  [Op.Cos]: NoParams;
  [Op.Sigmoid]: NoParams;
  [Op.Tanh]: NoParams;
  [Op.Erf]: NoParams;
  /** inputs: condition (bool), a, b → condition ? a : b */
  [Op.Where]: NoParams;
  [Op.Equal]: NoParams;
  [Op.Less]: NoParams;
  [Op.LessEqual]: NoParams;
  [Op.Greater]: NoParams;
  [Op.GreaterEqual]: NoParams;
  [Op.And]: NoParams;
  [Op.Or]: NoParams;
  [Op.Not]: NoParams;
  /** op(A) @ op(B) over the last two axes, batch axes broadcast; both operands have rank >= 2. */
  [Op.MatMul]: { transA: boolean; transB: boolean };
  /**
   * inputs: x [..., M, K] (float), w (a constant or initializer of rank 2) → x @ op(Q(w)), where Q(w) is w
   * quantized to int8 per row (symmetric, scale max|row| / 127, see quantize.ts). `rounding` "row" makes the
   * float32 kernel also round each row of x to 8 bits (scale max|row| / 127; int8 products), "tensor" rounds x
   * to uint8 with one scale (ONNX Runtime's DynamicQuantizeMatMul); with "none", and always in float64, x
   * multiplies the dequantized weight exactly.
   */
  [Op.QuantMatMul]: { transB: boolean; rounding: InputRounding };
  [Op.ReduceSum]: { axes: readonly number[]; keepdims: boolean };
  [Op.ReduceMean]: { axes: readonly number[]; keepdims: boolean };
  [Op.ReduceMax]: { axes: readonly number[]; keepdims: boolean };
  [Op.Softmax]: { axis: number };
  [Op.LogSoftmax]: { axis: number };
  /** Target shape, fully specified (the tracer resolves -1). */
  [Op.Reshape]: { shape: Shape };
  [Op.Transpose]: { perm: readonly number[] };
  /** x[start:end] along one axis, 0 <= start <= end <= dim (the tracer resolves negative indices). */
  [Op.Slice]: { axis: number; start: Dim; end: Dim };
  /** Zero padding along one axis: `before` zeros, the input, `after` zeros. */
  [Op.Pad]: { axis: number; before: Dim; after: Dim };
  [Op.Concat]: { axis: number };
  [Op.Split]: { axis: number; sizes: readonly Dim[] };
  [Op.Expand]: { shape: Shape };
  /** Axes of the input to drop (each of size 1). */
  [Op.Squeeze]: { axes: readonly number[] };
  /** Axes of the output that are new size-1 axes. */
  [Op.Unsqueeze]: { axes: readonly number[] };
  /** inputs: data, indices (int64) → data with `axis` replaced by the indices' shape (numpy.take). */
  [Op.Gather]: { axis: number };
  /**
   * inputs: indices (int64), updates → zeros whose `axis` has size `size`, with each update slice added at its
   * index (repeated indices accumulate). The transpose of Gather.
   */
  [Op.ScatterAdd]: { axis: number; size: Dim };
  [Op.Cast]: { to: DType };
  /**
   * inputs: logits [..., V] (float), labels [...] (int64) → scalar mean of -log softmax(logits)[label] over
   * the positions whose label is not `ignoreIndex`.
   */
  [Op.CrossEntropy]: { ignoreIndex: number };
}

/** Ops whose output is a fresh leaf rather than a function of inputs. */
export function isLeafOp(op: Op): op is Op.Input | Op.Initializer | Op.Constant {
  return op === Op.Input || op === Op.Initializer || op === Op.Constant;
}
