// Host-side tensors: what callers feed to and get back from a compiled graph. Plain data (dtype, shape, typed
// array), no ONNX Runtime types, so every layer above the runtime can build and read them.

import { RoadsterError } from '../errors.ts';
import { type DType, type HostArray, type HostArrayOf, allocHostArray, dtypeOfHostArray } from '../graph/dtype.ts';

/** A tensor in host memory. `data` is row-major; bool uses Uint8Array (0/1), int64 BigInt64Array. */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: HostArrayOf[D];
}

/** Number of elements of a static shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A host tensor over `data` (not copied); checks that the array type and length fit the dtype and shape. */
export function hostTensor<D extends DType>(dtype: D, shape: readonly number[], data: HostArrayOf[D]): HostTensor<D> {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new RoadsterError('E_USAGE', `bad shape [${shape.join(', ')}]`);
  if (dtypeOfHostArray(data) !== dtype) {
    const want = allocHostArray(dtype, 0).constructor.name;
    throw new RoadsterError('E_DTYPE', `${dtype} tensor needs a ${want}, got ${data.constructor.name}`);
  }
  const size = shapeSize(shape);
  if (data.length !== size) {
    throw new RoadsterError('E_USAGE', `shape [${shape.join(', ')}] needs ${size} elements, got ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

function fromNumbers<D extends DType>(dtype: D, shape: readonly number[], values?: ArrayLike<number | bigint | boolean>): HostTensor<D> {
  const data = allocHostArray(dtype, values ? values.length : shapeSize(shape));
  if (values) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (data instanceof BigInt64Array) data[i] = typeof v === 'bigint' ? v : BigInt(Number(v));
      else (data as Exclude<HostArray, BigInt64Array>)[i] = Number(v);
    }
  }
  return hostTensor(dtype, shape, data);
}

/** float32 tensor from numbers (zeros when `values` is omitted). */
export function float32(shape: readonly number[], values?: ArrayLike<number>): HostTensor<'float32'> {
  return fromNumbers('float32', shape, values);
}

/** float64 tensor from numbers (zeros when `values` is omitted). */
export function float64(shape: readonly number[], values?: ArrayLike<number>): HostTensor<'float64'> {
  return fromNumbers('float64', shape, values);
}

/** int64 tensor from numbers or bigints (zeros when `values` is omitted). */
export function int64(shape: readonly number[], values?: ArrayLike<number | bigint>): HostTensor<'int64'> {
  return fromNumbers('int64', shape, values);
}

/** bool tensor from booleans or 0/1 (false when `values` is omitted). */
export function bool(shape: readonly number[], values?: ArrayLike<boolean | number>): HostTensor<'bool'> {
  return fromNumbers('bool', shape, values);
}

/** The elements as JavaScript numbers (int64 converted with Number, bool as 0/1). */
export function toNumbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}
