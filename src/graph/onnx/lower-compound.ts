// Multi-node lowerings used by the rule table in lower-rules.ts: symbolic dimensions computed at run time,
// ScatterAdd through ScatterND, CrossEntropy through SoftmaxCrossEntropyLoss, QuantMatMul through ONNX
// Runtime's DynamicQuantizeMatMul with int8 weights, and decompositions for types
// that ONNX Runtime's CPU provider has no kernel for (float64 Erf; bool Where and ordered comparisons).
// Together with lower-rules.ts this is the only place ONNX op-type strings appear.

import { type Dim, type Shape, dimEqual, dimProduct, dimTerms, isStaticShape } from '../dim.ts';
import type { DType } from '../dtype.ts';
import { type InputRounding, Op, type OpParams } from '../ops.ts';
import type { LowerContext } from './context.ts';
import { RoadsterError } from '../../errors.ts';
import { dequantizeRows, quantizeRows, transposeInt8 } from '../quantize.ts';
import { MS_DOMAIN, int8TensorProto, onnxElemType, uint8TensorProto } from './proto.ts';

/** A symbol's value, int64 [1]: Shape(input, start=axis, end=axis+1), read once per graph. */
function symbolValue(ctx: LowerContext, symbol: string): string {
  return ctx.cached(`dim(${symbol})`, () => {
    const { input, axis } = ctx.symbol(symbol);
    return ctx.emit('Shape', [input], { start: axis, end: axis + 1 })[0];
  });
}

/** A product of symbols ("B*T"), int64 [1], built left to right from cached prefixes. */
function monomialValue(ctx: LowerContext, symbols: readonly string[]): string {
  if (symbols.length === 1) return symbolValue(ctx, symbols[0]);
  return ctx.cached(`dim(${symbols.join('*')})`, () =>
    ctx.emit('Mul', [monomialValue(ctx, symbols.slice(0, -1)), symbolValue(ctx, symbols.at(-1)!)])[0],
  );
}

/** A dimension as an int64 [1] tensor: a constant, or Σ coeff·monomial computed once per graph. */
export function dimValue(ctx: LowerContext, d: Dim): string {
  if (typeof d === 'number') return ctx.constInt64([d]);
  return ctx.cached(`dim(${d})`, () => {
    let acc: string | undefined;
    let constant = 0;
    for (const [coeff, symbols] of dimTerms(d)) {
      if (symbols.length === 0) {
        constant += coeff;
        continue;
      }
      const mono = monomialValue(ctx, symbols);
      const term = coeff === 1 ? mono : ctx.emit('Mul', [mono, ctx.constInt64([coeff])])[0];
      acc = acc === undefined ? term : ctx.emit('Add', [acc, term])[0];
    }
    return constant === 0 ? acc! : ctx.emit('Add', [acc!, ctx.constInt64([constant])])[0];
  });
}

/** A list of dimensions (a shape, pads, split sizes) as an int64 [n] tensor; runs of static dims share one constant. */
export function dimsValue(ctx: LowerContext, dims: Shape): string {
  if (isStaticShape(dims)) return ctx.constInt64(dims);
  return ctx.cached(`dims[${dims.join(',')}]`, () => {
    const parts: string[] = [];
    let run: number[] = [];
    for (const d of dims) {
      if (typeof d === 'number') {
        run.push(d);
        continue;
      }
      if (run.length > 0) parts.push(ctx.constInt64(run));
      run = [];
      parts.push(dimValue(ctx, d));
    }
    if (run.length > 0) parts.push(ctx.constInt64(run));
    return ctx.emit('Concat', parts, { axis: 0 })[0];
  });
}

/**
 * Reshape with a constant shape operand where the symbolic dims allow it, which spares the nodes that compute
 * the shape at run time: either every symbolic output dim equals the input's dim on the same axis and is written
 * 0 (copy the input's dim; allowzero=0, so only without literal zeros), or there is one symbolic dim, written -1.
 * (-1 next to a copied dim would fail on an empty input, whose size leaves -1 undetermined.)
 */
export function reshape(ctx: LowerContext, target: Shape): void {
  const from = ctx.inType(0).shape;
  const dims = target.map((d, i) => (typeof d === 'number' ? d : i < from.length && dimEqual(from[i], d) ? 0 : -1));
  const inferred = dims.filter((d) => d === -1).length;
  const constant = !target.includes(0) && (inferred === 0 || (inferred === 1 && !dims.includes(0)));
  if (isStaticShape(target) || !constant) {
    ctx.emit('Reshape', [ctx.inputs[0], dimsValue(ctx, target)], { allowzero: 1 }, ctx.outputs);
    return;
  }
  ctx.emit('Reshape', [ctx.inputs[0], ctx.constInt64(dims)], { allowzero: 0 }, ctx.outputs);
}

/**
 * Expand with a constant shape operand when every symbolic target dim is the input's own (right-aligned) dim,
 * written 1 so that broadcasting keeps it (no run-time shape nodes).
 */
export function expand(ctx: LowerContext, target: Shape): void {
  const from = ctx.inType(0).shape;
  const offset = target.length - from.length;
  const dims: number[] = [];
  for (const [i, d] of target.entries()) {
    if (typeof d === 'number') dims.push(d);
    else if (i >= offset && dimEqual(from[i - offset], d)) dims.push(1);
    else {
      ctx.emit('Expand', [ctx.inputs[0], dimsValue(ctx, target)], {}, ctx.outputs);
      return;
    }
  }
  ctx.emit('Expand', [ctx.inputs[0], ctx.constInt64(dims)], {}, ctx.outputs);
}

/** Swaps the last two axes of a value of the given rank. */
export function transposeLast2(ctx: LowerContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.emit('Transpose', [x], { perm })[0];
}

/**
 * x @ op(Q(w)) for a frozen w [R, C] quantized per row (q int8, one scale per row). In float32, rounding "row"
 * rounds each row of x (a token) to 8 bits and runs ORT's MatMulIntegerToFloat, "tensor" runs ORT's
 * DynamicQuantizeMatMul, which rounds x to uint8 with one scale (int8 products either way): with transB,
 * B = qᵀ [C, R] and the row scales are B's column scales; without, x @ diag(scale) q = (x ⊙ scale) @ q, the
 * scales folded into x before it is rounded. Rounding "none", and float64, multiply by the dequantized weight.
 * Each copy of the weight is made once per lowering.
 */
export function quantMatMul(ctx: LowerContext, transB: boolean, rounding: InputRounding): void {
  const w = ctx.leafInput(1);
  if (!w || !(w.data instanceof Float32Array || w.data instanceof Float64Array)) {
    throw new RoadsterError('E_ONNX', `${ctx.node.name}: a quantized matmul needs a float weight that is an initializer or constant`);
  }
  const [rows, cols] = w.shape;
  const [x] = ctx.inputs;
  const quant = ctx.memo(`int8:${w.name}`, () => quantizeRows(w.data as Float32Array | Float64Array, rows, cols));
  if (ctx.inType(0).dtype === 'float64') {
    const shape = transB ? [cols, rows] : [rows, cols];
    const b = ctx.cached(`int8:${w.name}:dequantized${transB ? 'T' : ''}`, () =>
      ctx.initializer(ctx.initializerName(`${w.name}.dequantized${transB ? 'T' : ''}`), 'float64', shape, dequantizeRows(quant, transB)),
    );
    ctx.emit('MatMul', [x, b], {}, ctx.outputs);
    return;
  }
  if (rounding === 'none') {
    // the dequantized weight [R, C] as float32, used as it is or transposed inside FusedMatMul
    const deq = ctx.cached(`int8:${w.name}:dequantized32`, () =>
      ctx.initializer(ctx.initializerName(`${w.name}.dequantized`), 'float32', [rows, cols], Float32Array.from(dequantizeRows(quant, false))),
    );
    if (!transB) ctx.emit('MatMul', [x, deq], {}, ctx.outputs);
    else if (ctx.options.contribOps) ctx.emit('FusedMatMul', [x, deq], { transA: 0, transB: 1 }, ctx.outputs, MS_DOMAIN);
    else ctx.emit('MatMul', [x, transposeLast2(ctx, deq, 2)], {}, ctx.outputs);
    return;
  }
  const scale = ctx.cached(`int8:${w.name}:scale`, () => ctx.initializer(ctx.initializerName(`${w.name}.scale`), 'float32', [rows], quant.scale));
  const b = transB
    ? ctx.cached(`int8:${w.name}:T`, () => ctx.tensorInitializer(int8TensorProto(ctx.initializerName(`${w.name}.int8T`), [cols, rows], transposeInt8(quant))))
    : ctx.cached(`int8:${w.name}:q`, () => ctx.tensorInitializer(int8TensorProto(ctx.initializerName(`${w.name}.int8`), [rows, cols], quant.q)));
  if (rounding === 'tensor') {
    const a = transB ? x : ctx.declare(ctx.emit('Mul', [x, scale])[0], 'float32', ctx.inType(0).shape);
    if (ctx.options.contribOps) {
      ctx.emit('DynamicQuantizeMatMul', [a, b, transB ? scale : ctx.constScalar('float32', 1)], {}, ctx.outputs, MS_DOMAIN);
    } else {
      // the same in standard operators: a to uint8 with one scale and zero point, integer products, both scales
      const [qa, aScale, aZero] = ctx.emit('DynamicQuantizeLinear', [a], {}, 3);
      const acc = ctx.emit('MatMulInteger', [qa, b, aZero])[0];
      const products = ctx.emit('Cast', [acc], { to: onnxElemType('float32') })[0];
      const scales = transB ? ctx.emit('Mul', [aScale, scale])[0] : aScale;
      ctx.emit('Mul', [products, scales], {}, ctx.outputs);
    }
    return;
  }
  const inShape = ctx.inType(0).shape;
  const k = inShape.at(-1)!;
  if (typeof k !== 'number') throw new RoadsterError('E_ONNX', `${ctx.node.name}: a quantized matmul needs a static inner dim, got "${k}"`);
  const outShape = ctx.outType(0).shape;
  const n = outShape.at(-1)!;
  const l = dimProduct(inShape.slice(0, -1)); // rows: the product of the leading dims
  const x2 = ctx.declare(ctx.emit('Reshape', [x, ctx.constInt64([-1, k])], { allowzero: 0 })[0], 'float32', [l, k]);
  const a = transB ? x2 : ctx.declare(ctx.emit('Mul', [x2, scale])[0], 'float32', [l, k]);
  const [q, rowScale] = quantizeRowsUint8(ctx, a, l, k); // [L, K] uint8, [L, 1]
  const one = ctx.constScalar('float32', 1);
  const zero = ctx.cached('const/uint8(128)', () => ctx.tensorInitializer(uint8TensorProto(ctx.initializerName('const/uint8(128)'), [], Uint8Array.of(128))));
  const products = ctx.declare(
    ctx.options.contribOps
      ? ctx.emit('MatMulIntegerToFloat', [q, b, one, transB ? scale : one, zero], {}, 1, MS_DOMAIN)[0]
      : integerProducts(ctx, q, b, zero, transB ? scale : null),
    'float32',
    [l, n],
  );
  const scaled = ctx.declare(ctx.emit('Mul', [products, rowScale])[0], 'float32', [l, n]);
  ctx.emit('Reshape', [scaled, dimsValue(ctx, outShape)], { allowzero: 1 }, ctx.outputs);
}

/** MatMulIntegerToFloat in standard operators: MatMulInteger (int32 sums), Cast, times the column scales. */
function integerProducts(ctx: LowerContext, q: string, b: string, zero: string, columnScale: string | null): string {
  const acc = ctx.emit('MatMulInteger', [q, b, zero])[0];
  const products = ctx.emit('Cast', [acc], { to: onnxElemType('float32') })[0];
  return columnScale === null ? products : ctx.emit('Mul', [products, columnScale])[0];
}

/**
 * Symmetric per-row rounding of a [L, K] float32 value to uint8 around 128: scale = max|row| / 127 (the
 * smallest normal float32 for an all-zero row), q = saturate(round_half_even(a / scale) + 128). Returns q and
 * the scales [L, 1].
 */
function quantizeRowsUint8(ctx: LowerContext, a: string, rows: Dim, cols: number): [string, string] {
  const abs = ctx.declare(ctx.emit('Abs', [a])[0], 'float32', [rows, cols]);
  const absMax = ctx.declare(ctx.emit('ReduceMax', [abs], { axes: [1], keepdims: 1 })[0], 'float32', [rows, 1]);
  const ratio = ctx.declare(ctx.emit('Div', [absMax, ctx.constScalar('float32', 127)])[0], 'float32', [rows, 1]);
  const rowScale = ctx.declare(ctx.emit('Max', [ratio, ctx.constScalar('float32', 2 ** -126)])[0], 'float32', [rows, 1]);
  const flat = ctx.declare(ctx.emit('Reshape', [rowScale, ctx.constInt64([-1])], { allowzero: 0 })[0], 'float32', [rows]);
  // per-axis zero points must have the scales' length: one [L] tensor of 128s per graph and row count
  const zeros = ctx.cached(`uint8(128)[${rows}]`, () => {
    const value = { tensor: uint8TensorProto('value', [1], Uint8Array.of(128)) };
    return ctx.declare(ctx.emit('ConstantOfShape', [dimsValue(ctx, [rows])], { value })[0], 'uint8', [rows]);
  });
  const q = ctx.declare(ctx.emit('QuantizeLinear', [a, flat, zeros], { axis: 0 })[0], 'uint8', [rows, cols]);
  return [q, rowScale];
}

/**
 * ScatterAdd(indices I, updates [pre, I, post]) along `axis` into [pre, size, post]: move the index axes of the
 * updates to the front, ScatterND(zeros [size, pre, post], indices[..., None], updates, reduction=add), move
 * the scattered axis back to `axis`.
 */
export function scatterAdd(ctx: LowerContext, p: OpParams[Op.ScatterAdd]): void {
  const [indices, updates] = ctx.inputs;
  const k = ctx.inType(0).shape.length;
  const ru = ctx.inType(1).shape.length;
  const out = ctx.outType();
  const a = p.axis;
  const range = (lo: number, hi: number) => Array.from({ length: hi - lo }, (_, i) => lo + i);
  const toFront = [...range(a, a + k), ...range(0, a), ...range(a + k, ru)];
  const front = a === 0 ? updates : ctx.emit('Transpose', [updates], { perm: toFront })[0];
  const zerosShape = [out.shape[a], ...out.shape.slice(0, a), ...out.shape.slice(a + 1)];
  const zeros = ctx.emit('ConstantOfShape', [dimsValue(ctx, zerosShape)], { value: { tensor: ctx.scalarTensor(out.dtype, 0) } })[0];
  const idx = ctx.emit('Unsqueeze', [indices, ctx.constInt64([k])])[0];
  if (a === 0) {
    ctx.emit('ScatterND', [zeros, idx, front], { reduction: 'add' }, ctx.outputs);
    return;
  }
  const scattered = ctx.emit('ScatterND', [zeros, idx, front], { reduction: 'add' })[0];
  const ro = out.shape.length;
  ctx.emit('Transpose', [scattered], { perm: [...range(1, a + 1), 0, ...range(a + 1, ro)] }, ctx.outputs);
}

/**
 * CrossEntropy(logits [..., V], labels [...]): flatten to [N, V] and [N], then SoftmaxCrossEntropyLoss with
 * reduction "mean", which divides by the number of labels that are not `ignoreIndex` (PyTorch's convention).
 */
export function crossEntropy(ctx: LowerContext, p: OpParams[Op.CrossEntropy]): void {
  let [logits, labels] = ctx.inputs;
  const shape = ctx.inType(0).shape;
  if (shape.length !== 2) {
    const n = dimProduct(shape.slice(0, -1));
    const rows = [n, shape.at(-1)!];
    logits = ctx.declare(ctx.emit('Reshape', [logits, dimsValue(ctx, rows)], { allowzero: 1 })[0], ctx.inType(0).dtype, rows);
    labels = ctx.declare(ctx.emit('Reshape', [labels, dimsValue(ctx, [n])], { allowzero: 1 })[0], 'int64', [n]);
  }
  ctx.emit('SoftmaxCrossEntropyLoss', [logits, labels], { reduction: 'mean', ignore_index: p.ignoreIndex }, ctx.outputs);
}

/**
 * erf series coefficients in w = x²/36: d_n = 36^n · 2^n / (1·3·…·(2n+1)), enough terms for float64 at |x| = 6.
 * Scaling keeps every coefficient in [1e-3, 1e15]: ORT's basic optimizer drops `y + c` when c casts to float32
 * zero, which unscaled coefficients below 1e-45 would.
 */
const ERF_CLAMP = 6;
const ERF_COEFFS: readonly number[] = (() => {
  const z = ERF_CLAMP * ERF_CLAMP;
  const coeffs = [1];
  let sum = 1;
  for (let n = 1; !(n > z && coeffs[n - 1] < 1e-17 * sum); n++) {
    coeffs.push((coeffs[n - 1] * 2 * z) / (2 * n + 1));
    sum += coeffs[n];
  }
  return coeffs;
})();

/**
 * float64 erf, which ORT's CPU provider lacks: erf(x) = 2/√π · x · e^(-x²) · Σ d_n (x²/36)^n (all terms positive, so
 * no cancellation; error about 1e-15), with x clamped to ±6 where erf is ±1 in float64 and the result to [-1, 1].
 */
export function erfFloat64(ctx: LowerContext): void {
  const [x] = ctx.inputs;
  const dt: DType = 'float64';
  const c = clamp(ctx, x, ctx.constScalar(dt, -ERF_CLAMP), ctx.constScalar(dt, ERF_CLAMP));
  const z = ctx.emit('Mul', [c, c])[0];
  const w = ctx.emit('Div', [z, ctx.constScalar(dt, ERF_CLAMP * ERF_CLAMP)])[0];
  let acc = ctx.constScalar(dt, ERF_COEFFS.at(-1)!);
  for (let n = ERF_COEFFS.length - 2; n >= 0; n--) {
    acc = ctx.emit('Add', [ctx.emit('Mul', [acc, w])[0], ctx.constScalar(dt, ERF_COEFFS[n])])[0];
  }
  const gauss = ctx.emit('Exp', [ctx.emit('Neg', [z])[0]])[0];
  const scaled = ctx.emit('Mul', [c, ctx.constScalar(dt, 2 / Math.sqrt(Math.PI))])[0];
  const y = ctx.emit('Mul', [ctx.emit('Mul', [scaled, gauss])[0], acc])[0];
  clamp(ctx, y, ctx.constScalar(dt, -1), ctx.constScalar(dt, 1), ctx.outputs); // rounding reaches 1 + 4e-16
}

/** min(max(x, lo), hi) through Where, which (unlike Min/Max) keeps NaN. */
function clamp(ctx: LowerContext, x: string, lo: string, hi: string, outputs: readonly string[] | number = 1): string {
  const low = ctx.emit('Where', [ctx.emit('Less', [x, lo])[0], lo, x])[0];
  return ctx.emit('Where', [ctx.emit('Greater', [low, hi])[0], hi, low], {}, outputs)[0];
}

/** Ordered comparisons of bool values (false < true), which ONNX types do not allow: written as logic. */
export function boolCompare(ctx: LowerContext, op: Op.Less | Op.LessEqual | Op.Greater | Op.GreaterEqual): void {
  const [a, b] = ctx.inputs;
  switch (op) {
    case Op.Less: // a < b ⇔ ¬a ∧ b
      ctx.emit('And', [ctx.emit('Not', [a])[0], b], {}, ctx.outputs);
      return;
    case Op.LessEqual: // a ≤ b ⇔ ¬a ∨ b
      ctx.emit('Or', [ctx.emit('Not', [a])[0], b], {}, ctx.outputs);
      return;
    case Op.Greater: // a > b ⇔ a ∧ ¬b
      ctx.emit('And', [a, ctx.emit('Not', [b])[0]], {}, ctx.outputs);
      return;
    case Op.GreaterEqual: // a ≥ b ⇔ a ∨ ¬b
      ctx.emit('Or', [a, ctx.emit('Not', [b])[0]], {}, ctx.outputs);
      return;
  }
}

/** Where on bool branches (no ORT kernel): (c ∧ a) ∨ (¬c ∧ b). */
export function boolWhere(ctx: LowerContext): void {
  const [c, a, b] = ctx.inputs;
  const left = ctx.emit('And', [c, a])[0];
  const right = ctx.emit('And', [ctx.emit('Not', [c])[0], b])[0];
  ctx.emit('Or', [left, right], {}, ctx.outputs);
}

/** ONNX `to` attribute of a Cast. */
export function castTo(dtype: DType): number {
  return onnxElemType(dtype);
}

/** A graph output that needs its own value (it is a leaf, or shares a value with another output). */
export function outputAlias(ctx: LowerContext, from: string, to: string): void {
  ctx.named(`output(${to})`, () => ctx.emit('Identity', [from], {}, [to]));
}
