// Int8 weight quantization for frozen matmuls: the per-row quantizer Op.QuantMatMul is defined by, and the
// graph pass that turns every matmul against a frozen rank-2 weight into one. Adapter training keeps the base
// weights frozen, so the pass quantizes the forward projections (x Wᵀ, int8 products, activations rounded per
// row) and the input gradients of the backward pass (dy W, the same quantized weight dequantized, float
// products): the gradients are those of the quantized-weight model, straight through the forward rounding of
// the activations.

import { RoadsterError } from '../errors.ts';
import type { Graph, Node } from './ir.ts';
import { Op, type OpParams } from './ops.ts';

/**
 * The version of the quantized numerics (weights per row; forward activations per row since version 2, per
 * tensor before; since version 3, `int8-all` keeps the output head's gradient product in float32): training
 * checkpoints record it, so that a run resumes only on the numbers it started with.
 */
export const INT8_SCHEME_VERSION = 3;

/** w [rows, cols] as int8 rows and one scale per row: w ≈ q[r, c] · scale[r]. */
export interface QuantizedRows {
  readonly q: Int8Array;
  /** float32 values (stored as float32 so the float32 and float64 kernels use the same numbers). */
  readonly scale: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Symmetric per-row int8 quantization: scale = max|row| / 127 (1 for an all-zero row), q = round(w / scale)
 * with ties away from zero, clamped to [-127, 127].
 */
export function quantizeRows(w: Float32Array | Float64Array, rows: number, cols: number): QuantizedRows {
  if (w.length !== rows * cols) throw new RoadsterError('E_SHAPE', `quantizeRows: ${w.length} values are not ${rows} × ${cols}`);
  const q = new Int8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[r * cols + c]));
    if (!Number.isFinite(max)) throw new RoadsterError('E_WEIGHTS', `quantizeRows: row ${r} has a non-finite value`);
    const s = max === 0 ? 1 : Math.fround(max / 127);
    scale[r] = s;
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c] / s;
      q[r * cols + c] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
    }
  }
  return { q, scale, rows, cols };
}

/** Q(w) as floats, [rows, cols] (transposed to [cols, rows] with `transpose`). */
export function dequantizeRows(t: QuantizedRows, transpose: boolean): Float64Array {
  const out = new Float64Array(t.rows * t.cols);
  for (let r = 0; r < t.rows; r++) {
    for (let c = 0; c < t.cols; c++) out[transpose ? c * t.rows + r : r * t.cols + c] = t.q[r * t.cols + c] * t.scale[r];
  }
  return out;
}

/** The int8 matrix transposed: [cols, rows]. */
export function transposeInt8(t: QuantizedRows): Int8Array {
  const out = new Int8Array(t.rows * t.cols);
  for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) out[c * t.rows + r] = t.q[r * t.cols + c];
  return out;
}

function isFrozenMatrix(graph: Graph, value: number): boolean {
  const info = graph.values[value];
  const producer = graph.nodes[info.node];
  return (producer.op === Op.Initializer || producer.op === Op.Constant) && info.shape.length === 2 && (info.dtype === 'float32' || info.dtype === 'float64');
}

/** Element-wise steps between a softmax and the output gradient built from it (the cross-entropy VJP's). */
const SOFTMAX_GRADIENT_STEPS: ReadonlySet<Op> = new Set([Op.Mul, Op.Sub, Op.Add, Op.Div, Op.Neg, Op.Cast, Op.Reshape]);

/**
 * Whether an output gradient is built from softmax probabilities within `depth` element-wise steps, as the
 * cross-entropy's (softmax(z) − onehot(label)) · scale is. Such a row holds one large entry and a long tail
 * of small ones that 8 bits round to zero, and the tail's sum is a large part of the gradient.
 */
function isSoftmaxGradient(graph: Graph, value: number, depth: number): boolean {
  const node = graph.nodes[graph.values[value].node];
  if (node.op === Op.Softmax) return true;
  if (depth === 0 || !SOFTMAX_GRADIENT_STEPS.has(node.op)) return false;
  return node.inputs.some((v) => isSoftmaxGradient(graph, v, depth - 1));
}

/**
 * Rewrites every MatMul whose right operand is a frozen rank-2 weight (an initializer or constant) and whose
 * left operand is not transposed into a QuantMatMul: the forward products round each row of their input (a
 * token) to 8 bits (int8 kernels); the cotangent products of a backward pass (nodes autodiff created) multiply
 * the dequantized weight exactly, unless `roundCotangents`, which rounds the output gradients to 8 bits per
 * tensor (int8 kernels), except the output head's: its gradient is softmax probabilities, whose small entries
 * 8 bits would drop (BENCHMARKS.md measures the fit either way). Value ids, shapes and outputs are unchanged;
 * returns the same graph when nothing qualifies.
 */
export function quantizeFrozenMatMuls(graph: Graph, options: { roundCotangents?: boolean } = {}): Graph {
  let changed = false;
  const nodes = graph.nodes.map((n): Node => {
    if (n.op !== Op.MatMul) return n;
    const p = n.params as OpParams[Op.MatMul];
    if (p.transA || !isFrozenMatrix(graph, n.inputs[1])) return n;
    changed = true;
    const roundGradient = options.roundCotangents === true && !isSoftmaxGradient(graph, n.inputs[0], 3);
    const rounding = n.cotangent !== true ? 'row' : roundGradient ? 'tensor' : 'none';
    const params: OpParams[Op.QuantMatMul] = { transB: p.transB, rounding };
    return Object.freeze({ ...n, op: Op.QuantMatMul, params });
  });
  return changed ? Object.freeze({ ...graph, nodes: Object.freeze(nodes) }) : graph;
}
