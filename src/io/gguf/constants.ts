// Constants of the GGUF file format, version 3, as ggml defines them (ggml/include/gguf.h, ggml/include/ggml.h
// and the format description docs/gguf.md of the ggml project): the magic, the metadata value types, the tensor
// element types roadster writes, and the default alignment of the tensor data.

/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
/** The only version written; versions 2 and 3 are read (they differ only in byte order handling). */
export const GGUF_VERSION = 3;
/** Alignment of the data section and of each tensor when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** `gguf_type`: the type tag of a metadata value. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Byte size of each fixed-size value type (strings and arrays have none). */
export const GGUF_SCALAR_SIZE: { readonly [T in GgufValueType]: number | null } = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.STRING]: null,
  [GgufValueType.ARRAY]: null,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** `ggml_type` values of the tensor element types roadster writes and reads (the others are quantized blocks). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
}

/** Bytes per element of each supported tensor type. */
export const GGML_TYPE_SIZE: { readonly [T in GgmlType]: number } = {
  [GgmlType.F32]: 4,
  [GgmlType.F16]: 2,
};

/** `llama_ftype` (`general.file_type`): what most tensors of the file are. */
export enum LlamaFileType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
}

/** `llama_token_type` (`tokenizer.ggml.token_type`). */
export enum GgufTokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}
