// Typed GGUF metadata values and their constructors. llama.cpp reads each key with one exact type (a
// `llama.context_length` written as INT32 instead of UINT32 is refused at load), so every value carries its
// type tag explicitly instead of being inferred from a JS number.

import { GgufValueType } from './constants.ts';

/** The value types that hold a JS number. */
export type GgufNumberType =
  | GgufValueType.UINT8
  | GgufValueType.INT8
  | GgufValueType.UINT16
  | GgufValueType.INT16
  | GgufValueType.UINT32
  | GgufValueType.INT32
  | GgufValueType.FLOAT32
  | GgufValueType.FLOAT64;

/** The value types that hold a bigint. */
export type GgufBigIntType = GgufValueType.UINT64 | GgufValueType.INT64;

/** Any type an array element may have (nested arrays are not supported). */
export type GgufItemType = Exclude<GgufValueType, GgufValueType.ARRAY>;

/** One array element, of the JS type its item type maps to. */
export type GgufItem = number | bigint | boolean | string;

/** A metadata value with its type tag: a discriminated union on `type`. */
export type GgufValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: GgufValueType.BOOL; readonly value: boolean }
  | { readonly type: GgufValueType.STRING; readonly value: string }
  | { readonly type: GgufValueType.ARRAY; readonly itemType: GgufItemType; readonly value: readonly GgufItem[] };

/** Metadata in file order: key to value. */
export type GgufMetadata = ReadonlyMap<string, GgufValue>;

/** Constructors of typed values, named by GGUF type. */
export const gguf = {
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  u64: (value: bigint): GgufValue => ({ type: GgufValueType.UINT64, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  strings: (value: readonly string[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value }),
  f32s: (value: readonly number[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.FLOAT32, value }),
};
