// Element types of graph values and the typed arrays that hold them on the host.

import { RoadsterError } from '../errors.ts';

/** Element types a graph value can have. */
export type DType = 'float32' | 'float64' | 'int64' | 'bool';

/** Host storage for each dtype. int64 uses BigInt64Array, as onnxruntime-node expects. */
export interface HostArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}
export type HostArray = HostArrayOf[DType];

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'bool'];

export function isFloat(dtype: DType): boolean {
  switch (dtype) {
    case 'float32':
    case 'float64':
      return true;
    case 'int64':
    case 'bool':
      return false;
  }
}

/** Allocates a zero-filled host array of `size` elements. */
export function allocHostArray<D extends DType>(dtype: D, size: number): HostArrayOf[D] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size) as HostArrayOf[D];
    case 'float64':
      return new Float64Array(size) as HostArrayOf[D];
    case 'int64':
      return new BigInt64Array(size) as HostArrayOf[D];
    case 'bool':
      return new Uint8Array(size) as HostArrayOf[D];
  }
  throw new RoadsterError('E_DTYPE', `unknown dtype "${String(dtype)}"`);
}

/** The dtype a host array stores, or undefined for arrays no dtype maps to. */
export function dtypeOfHostArray(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'bool';
  return undefined;
}
