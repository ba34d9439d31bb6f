// Safetensors element types: byte sizes, the writer's sort rank, and exact conversions between the float
// encodings (F16, BF16, F32, F64) and JS typed arrays. Follows the `Dtype` enum of the Rust crate
// `safetensors` (huggingface/safetensors, safetensors/src/tensor.rs). All multi-byte data is little-endian,
// as the format requires; typed-array views are used directly, which is valid on little-endian hosts only
// (every platform Node 20 ships for except s390x), so conversions check that once.

import { RoadsterError } from '../../errors.ts';

/** The element types roadster reads and writes (a subset of the Rust crate's `Dtype`). */
export type SafetensorsDtype = 'F64' | 'I64' | 'F32' | 'I32' | 'BF16' | 'F16' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** The float element types, the ones `decodeFloats` and `encodeFloat32` accept. */
export type FloatDtype = 'F64' | 'F32' | 'BF16' | 'F16';

/** Static facts about one dtype. */
export interface DtypeInfo {
  /** Bytes per element. */
  readonly byteSize: number;
  /**
   * Position of the dtype in the Rust crate's `Dtype` enum. The Python/Rust writer orders tensors by this rank,
   * descending, then by name; it is *not* a pure alignment order (I64 sorts before F64, BF16 before F16).
   */
  readonly rustRank: number;
  /** Whether the dtype holds floating-point values. */
  readonly isFloat: boolean;
}

/** Every dtype's facts; a mapped type over `SafetensorsDtype`, so a missing entry is a compile error. */
export const DTYPES: { readonly [D in SafetensorsDtype]: DtypeInfo } = {
  BOOL: { byteSize: 1, rustRank: 0, isFloat: false },
  U8: { byteSize: 1, rustRank: 1, isFloat: false },
  I8: { byteSize: 1, rustRank: 2, isFloat: false },
  // ranks 3, 4: F8_E5M2, F8_E4M3 (not supported)
  I16: { byteSize: 2, rustRank: 5, isFloat: false },
  // rank 6: U16
  F16: { byteSize: 2, rustRank: 7, isFloat: true },
  BF16: { byteSize: 2, rustRank: 8, isFloat: true },
  I32: { byteSize: 4, rustRank: 9, isFloat: false },
  // rank 10: U32
  F32: { byteSize: 4, rustRank: 11, isFloat: true },
  F64: { byteSize: 8, rustRank: 12, isFloat: true },
  I64: { byteSize: 8, rustRank: 13, isFloat: false },
  // rank 14: U64
};

/** True when `name` is one of the supported dtype strings (as written in a safetensors header). */
export function isDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === 'string' && Object.hasOwn(DTYPES, name);
}

/** True when `dtype` is a float dtype. */
export function isFloatDtype(dtype: SafetensorsDtype): dtype is FloatDtype {
  return DTYPES[dtype].isFloat;
}

/** Bytes per element of `dtype`. */
export function dtypeByteSize(dtype: SafetensorsDtype): number {
  return DTYPES[dtype].byteSize;
}

// ---------------------------------------------------------------------------------------------------------------
// Scalar bit conversions

// Scratch for scalar bit casts (float32 <-> uint32); holds no state between calls.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Exact value of an IEEE binary16 bit pattern (subnormals, ±Inf and NaN included). */
export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // subnormal: m · 2^-24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (0x400 + mantissa) * 2 ** (exponent - 25); // normal: (1024 + m) · 2^(e-15-10)
}

/** Exact value of a bfloat16 bit pattern: the upper half of a float32. */
export function bf16BitsToNumber(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

/**
 * binary16 bits of a float32 bit pattern, rounded to nearest, ties to even. Overflow gives ±Inf; NaN stays a
 * quiet NaN with its sign and the top payload bits.
 */
export function f32BitsToF16Bits(f32Bits: number): number {
  const sign = (f32Bits >>> 16) & 0x8000;
  const exponent = (f32Bits >>> 23) & 0xff;
  const mantissa = f32Bits & 0x7fffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const e = exponent - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // |x| >= 2^16: overflow
  if (e <= 0) {
    // Result is subnormal (or zero): value in units of 2^-24 is m24 · 2^(e-14).
    if (e < -10) return sign; // |x| < 2^-25 rounds to zero (2^-25 itself is a tie, and 0 is even)
    const m24 = mantissa | 0x800000;
    const shift = 14 - e; // 14..24
    let half = m24 >>> shift;
    const rest = m24 & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1; // may carry into the smallest normal
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // a carry may reach Inf, as it should
  return sign | half;
}

/**
 * bfloat16 bits of a float32 bit pattern, rounded to nearest, ties to even. NaN stays a quiet NaN with its
 * sign and top payload bits (torch is not consistent here: its scalar path writes 0x7FC0, its AVX path 0xFFFF).
 */
export function f32BitsToBf16Bits(f32Bits: number): number {
  if ((f32Bits & 0x7fffffff) > 0x7f800000) return ((f32Bits >>> 16) | 0x0040) & 0xffff;
  const lsb = (f32Bits >>> 16) & 1;
  return ((f32Bits + 0x7fff + lsb) >>> 16) & 0xffff; // carry may reach Inf, as it should
}

/** binary16 bits of a number, after rounding it to float32 (as a Float32Array source would hold it). */
export function numberToF16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]);
}

/** bfloat16 bits of a number, after rounding it to float32. */
export function numberToBf16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToBf16Bits(scratchU32[0]);
}

// ---------------------------------------------------------------------------------------------------------------
// Array conversions

function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new RoadsterError('E_DTYPE', 'safetensors data is little-endian; this host is big-endian, unsupported.');
  }
}

/** A typed-array view of `bytes` when it is aligned for `size`, else of an aligned copy. */
function alignedBuffer(bytes: Uint8Array, size: number): { buffer: ArrayBuffer; byteOffset: number } {
  if (bytes.byteOffset % size === 0) return { buffer: bytes.buffer as ArrayBuffer, byteOffset: bytes.byteOffset };
  return { buffer: bytes.slice().buffer, byteOffset: 0 };
}

function elementCount(bytes: Uint8Array, dtype: SafetensorsDtype): number {
  const size = DTYPES[dtype].byteSize;
  if (bytes.byteLength % size !== 0) {
    throw new RoadsterError(
      'E_DTYPE',
      `${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each).`,
    );
  }
  return bytes.byteLength / size;
}

function requireFloat(dtype: SafetensorsDtype): asserts dtype is FloatDtype {
  if (!isFloatDtype(dtype)) {
    throw new RoadsterError(
      'E_DTYPE',
      `expected a float dtype (F64, F32, BF16, F16), found ${dtype}; read integer tensors as raw bytes instead.`,
    );
  }
}

/**
 * Decode little-endian float data of `dtype` to a Float32Array. F32 data that is 4-byte aligned is returned
 * as a view (no copy); F16 and BF16 are exact; F64 is rounded to nearest float32.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  requireFloat(dtype);
  assertLittleEndianHost();
  const n = elementCount(bytes, dtype);
  switch (dtype) {
    case 'F32': {
      const { buffer, byteOffset } = alignedBuffer(bytes, 4);
      return new Float32Array(buffer, byteOffset, n);
    }
    case 'F64': {
      const { buffer, byteOffset } = alignedBuffer(bytes, 8);
      return Float32Array.from(new Float64Array(buffer, byteOffset, n));
    }
    case 'BF16': {
      const { buffer, byteOffset } = alignedBuffer(bytes, 2);
      const src = new Uint16Array(buffer, byteOffset, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] << 16; // bf16 is the top half of f32: exact, NaN payload kept
      return new Float32Array(out.buffer);
    }
    case 'F16': {
      const { buffer, byteOffset } = alignedBuffer(bytes, 2);
      const src = new Uint16Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16BitsToNumber(src[i]); // every f16 is exact in f32
      return out;
    }
  }
}

/** Decode little-endian float data of `dtype` to a Float64Array (exact for every float dtype). */
export function decodeToFloat64(bytes: Uint8Array, dtype: SafetensorsDtype): Float64Array {
  requireFloat(dtype);
  assertLittleEndianHost();
  const n = elementCount(bytes, dtype);
  switch (dtype) {
    case 'F64': {
      const { buffer, byteOffset } = alignedBuffer(bytes, 8);
      return new Float64Array(buffer, byteOffset, n);
    }
    case 'F32':
    case 'BF16':
    case 'F16':
      return Float64Array.from(decodeToFloat32(bytes, dtype));
  }
}

/**
 * Encode float32 values as little-endian `dtype` data: F32 as is, F64 exactly, F16 and BF16 rounded to
 * nearest, ties to even. Returns fresh bytes (never a view of `values`).
 */
export function encodeFloat32(values: Float32Array, dtype: FloatDtype): Uint8Array {
  assertLittleEndianHost();
  const n = values.length;
  switch (dtype) {
    case 'F32':
      return new Uint8Array(values.slice().buffer);
    case 'F64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'F16':
    case 'BF16': {
      const bits = new Uint32Array(values.buffer, values.byteOffset, n);
      const out = new Uint16Array(n);
      const convert = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
      for (let i = 0; i < n; i++) out[i] = convert(bits[i]);
      return new Uint8Array(out.buffer);
    }
  }
}

/** The typed arrays a writer accepts as tensor data (see `tensorDataToBytes`). */
export type TensorData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/**
 * Little-endian bytes of `data` stored as `dtype`. A Uint8Array is taken as the raw bytes of any dtype; a
 * Float32Array may be stored as F32, F64, F16 or BF16 (converted); a Uint16Array holds raw F16/BF16 bits; the
 * other typed arrays must match their dtype (Int32Array ↔ I32, BigInt64Array ↔ I64, Float64Array ↔ F64, ...).
 * Matching data is returned as a view, not a copy.
 */
export function tensorDataToBytes(data: TensorData, dtype: SafetensorsDtype): Uint8Array {
  assertLittleEndianHost();
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof Uint8Array) return data;
  if (data instanceof Float32Array) {
    if (dtype === 'F32') return view;
    return isFloatDtype(dtype) ? encodeFloat32(data, dtype) : mismatch(data, dtype);
  }
  const ok =
    (data instanceof Float64Array && dtype === 'F64') ||
    (data instanceof BigInt64Array && dtype === 'I64') ||
    (data instanceof Int32Array && dtype === 'I32') ||
    (data instanceof Int16Array && dtype === 'I16') ||
    (data instanceof Int8Array && dtype === 'I8') ||
    (data instanceof Uint16Array && (dtype === 'F16' || dtype === 'BF16'));
  return ok ? view : mismatch(data, dtype);
}

function mismatch(data: TensorData, dtype: SafetensorsDtype): never {
  throw new RoadsterError(
    'E_DTYPE',
    `cannot store a ${data.constructor.name} as ${dtype}; pass raw bytes (Uint8Array), a Float32Array for a ` +
      'float dtype, or the typed array that matches the dtype (Int32Array for I32, BigInt64Array for I64, ...).',
  );
}
