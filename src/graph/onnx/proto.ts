// The ONNX protobuf schema (static protobufjs code from `onnx-proto`) and the small conversions lowering needs:
// roadster dtypes to ONNX element types, attribute values to AttributeProto, host arrays to raw_data views.

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { RoadsterError } from '../../errors.ts';
import type { DType, HostArray } from '../dtype.ts';
import type { Dim } from '../dim.ts';

/** The protobufjs message classes (`onnx.ModelProto.encode`, ...). */
export const onnx = onnxProto.onnx;
export type ModelProto = OnnxTypes.IModelProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;
export type AttributeProto = OnnxTypes.IAttributeProto;

/** Opset and IR version every lowered model declares. */
export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

const ELEM_TYPE: { [D in DType]: number } = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** ONNX TensorProto.DataType of a roadster dtype. */
export function onnxElemType(dtype: DType): number {
  return ELEM_TYPE[dtype];
}

/**
 * An attribute value. Numbers are INT attributes and number arrays INTS (lowering needs no float attributes);
 * strings are STRING; `{ tensor }` is a TENSOR attribute.
 */
export type AttrValue = number | readonly number[] | string | { tensor: TensorProto };
export type Attrs = Readonly<Record<string, AttrValue>>;

const A = onnx.AttributeProto.AttributeType;

/** AttributeProto list of an attribute record, in key order. */
export function encodeAttrs(attrs: Attrs): AttributeProto[] {
  return Object.entries(attrs).map(([name, v]): AttributeProto => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new RoadsterError('E_ONNX', `attribute ${name}=${v} is not an integer`);
      return { name, type: A.INT, i: v };
    }
    if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
    if (Array.isArray(v)) return { name, type: A.INTS, ints: [...v] };
    return { name, type: A.TENSOR, t: (v as { tensor: TensorProto }).tensor };
  });
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** raw_data for a host array: a view of its bytes (ONNX raw_data is little-endian), never a copy. */
export function rawBytes(data: HostArray): Uint8Array {
  if (!LITTLE_ENDIAN) throw new RoadsterError('E_ONNX', 'ONNX raw_data is little-endian; big-endian hosts are not supported');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A TensorProto holding `data` as raw_data. */
export function tensorProto(name: string, dtype: DType, shape: readonly number[], data: HostArray): TensorProto {
  return { name, dataType: onnxElemType(dtype), dims: [...shape], rawData: rawBytes(data) };
}

/** A TensorProto of int8 values as raw_data (a view, no copy). */
export function int8TensorProto(name: string, shape: readonly number[], data: Int8Array): TensorProto {
  return { name, dataType: onnx.TensorProto.DataType.INT8, dims: [...shape], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A uint8 tensor (zero points of quantized activations), raw little-endian bytes. */
export function uint8TensorProto(name: string, shape: readonly number[], data: Uint8Array): TensorProto {
  return { name, dataType: onnx.TensorProto.DataType.UINT8, dims: [...shape], rawData: data };
}

/** ONNX Runtime's contrib operator domain. */
export const MS_DOMAIN = 'com.microsoft';
/** Opset versions of the non-default domains that lowering may emit; a model imports those it uses. */
export const DOMAIN_VERSIONS: Readonly<Record<string, number>> = { [MS_DOMAIN]: 1 };

/**
 * ValueInfo of a value: static dims as dim_value, symbolic ones as dim_param, written as their canonical
 * expression ("B", "B*T", "3*T"), so equal dims carry equal names.
 */
export function valueInfo(name: string, dtype: DType | 'uint8', shape: readonly Dim[]): ValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  const elemType = dtype === 'uint8' ? onnx.TensorProto.DataType.UINT8 : onnxElemType(dtype);
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}
