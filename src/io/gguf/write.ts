// GGUF v3 writer (ggml's docs/gguf.md): header (magic, version, tensor count, metadata count), the metadata
// key/value pairs, the tensor infos (name, dims innermost-first, ggml type, offset into the data section), zero
// padding to the alignment, then each tensor's data padded to the alignment. As gguf-py's GGUFWriter, tensor
// shapes are given outermost-first (the row-major shape of the array) and reversed into GGUF's dims order.
// The file is written atomically (temporary file + rename), one tensor at a time.

import { RoadsterError } from '../../errors.ts';
import { f32BitsToF16Bits } from '../safetensors/dtypes.ts';
import { writeFileAtomically } from '../safetensors/atomic-write.ts';
import {
  GGML_TYPE_SIZE,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_SCALAR_SIZE,
  GGUF_VERSION,
  GgmlType,
  GgufValueType,
} from './constants.ts';
import type { GgufItem, GgufItemType, GgufMetadata, GgufValue } from './values.ts';

/** One tensor to write: float32 values, stored as `type` (F16 rounds to nearest even). */
export interface GgufTensorToWrite {
  readonly name: string;
  readonly type: GgmlType;
  /** Row-major shape, outermost first (an HF linear weight's [out, in]); written reversed as GGUF dims. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Key of the alignment setting; a UINT32 power of two. */
export const ALIGNMENT_KEY = 'general.alignment';

function bad(message: string): RoadsterError {
  return new RoadsterError('E_GGUF', `cannot write GGUF: ${message}`);
}

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;
  private static readonly encoder = new TextEncoder();

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: bigint | number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  scalar(type: GgufItemType, v: GgufItem, key: string): void {
    const size = GGUF_SCALAR_SIZE[type];
    if (size !== null) this.reserve(size);
    const at = this.length;
    const expect = (ok: boolean, what: string): void => {
      if (!ok) throw bad(`metadata "${key}": ${JSON.stringify(String(v))} is not ${what}`);
    };
    const int = (lo: number, hi: number): number => {
      expect(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi, `an integer in [${lo}, ${hi}]`);
      return v as number;
    };
    switch (type) {
      case GgufValueType.UINT8:
        this.view.setUint8(at, int(0, 0xff));
        break;
      case GgufValueType.INT8:
        this.view.setInt8(at, int(-0x80, 0x7f));
        break;
      case GgufValueType.UINT16:
        this.view.setUint16(at, int(0, 0xffff), true);
        break;
      case GgufValueType.INT16:
        this.view.setInt16(at, int(-0x8000, 0x7fff), true);
        break;
      case GgufValueType.UINT32:
        this.view.setUint32(at, int(0, 0xffffffff), true);
        break;
      case GgufValueType.INT32:
        this.view.setInt32(at, int(-0x80000000, 0x7fffffff), true);
        break;
      case GgufValueType.FLOAT32:
        expect(typeof v === 'number', 'a number');
        this.view.setFloat32(at, v as number, true);
        break;
      case GgufValueType.FLOAT64:
        expect(typeof v === 'number', 'a number');
        this.view.setFloat64(at, v as number, true);
        break;
      case GgufValueType.BOOL:
        expect(typeof v === 'boolean', 'a boolean');
        this.view.setUint8(at, v ? 1 : 0);
        break;
      case GgufValueType.UINT64:
        expect(typeof v === 'bigint' && v >= 0n && v < 1n << 64n, 'a uint64 bigint');
        this.view.setBigUint64(at, v as bigint, true);
        break;
      case GgufValueType.INT64:
        expect(typeof v === 'bigint' && v >= -(1n << 63n) && v < 1n << 63n, 'an int64 bigint');
        this.view.setBigInt64(at, v as bigint, true);
        break;
      case GgufValueType.STRING:
        expect(typeof v === 'string', 'a string');
        this.string(v as string);
        return;
    }
    this.length += size!;
  }
  /** gguf_string: uint64 byte length, then UTF-8 bytes (no terminator). */
  string(s: string): void {
    const bytes = ByteWriter.encoder.encode(s);
    this.u64(bytes.length);
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
  value(key: string, v: GgufValue): void {
    this.u32(v.type);
    if (v.type !== GgufValueType.ARRAY) return this.scalar(v.type, v.value, key);
    if (!Object.hasOwn(GGUF_SCALAR_SIZE, v.itemType) || (v.itemType as GgufValueType) === GgufValueType.ARRAY) {
      throw bad(`metadata "${key}": array item type ${v.itemType} is not supported (nested arrays are not written)`);
    }
    this.u32(v.itemType);
    this.u64(v.value.length);
    for (const item of v.value) this.scalar(v.itemType, item, key);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
    this.buffer.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** The alignment a file uses: `general.alignment` when set (a UINT32 power of two), else 32. */
export function ggufAlignment(metadata: GgufMetadata): number {
  const entry = metadata.get(ALIGNMENT_KEY);
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const a = entry.value;
  if (entry.type !== GgufValueType.UINT32 || typeof a !== 'number' || a <= 0 || (a & (a - 1)) !== 0) {
    throw new RoadsterError('E_GGUF', `${ALIGNMENT_KEY} must be a UINT32 power of two, found ${String(a)}.`);
  }
  return a;
}

function encodeTensor(t: GgufTensorToWrite): Uint8Array {
  switch (t.type) {
    case GgmlType.F32:
      return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    case GgmlType.F16: {
      const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
      const half = new Uint16Array(t.data.length);
      for (let i = 0; i < half.length; i++) half[i] = f32BitsToF16Bits(bits[i]);
      return new Uint8Array(half.buffer);
    }
  }
}

function validateTensors(tensors: readonly GgufTensorToWrite[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name.length === 0 || new TextEncoder().encode(t.name).length >= 64) {
      throw bad(`tensor name ${JSON.stringify(t.name)} must be 1 to 63 bytes (GGML_MAX_NAME is 64 with the terminator)`);
    }
    if (seen.has(t.name)) throw bad(`tensor "${t.name}" is given twice`);
    seen.add(t.name);
    if (!Object.hasOwn(GGML_TYPE_SIZE, t.type)) throw bad(`tensor "${t.name}" has ggml type ${t.type}; only F32 (0) and F16 (1) are written`);
    if (t.shape.length < 1 || t.shape.length > 4 || !t.shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw bad(`tensor "${t.name}" has shape [${t.shape.join(', ')}]; expected 1 to 4 positive dimensions (GGML_MAX_DIMS)`);
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw bad(`tensor "${t.name}" of shape [${t.shape.join(', ')}] needs ${n} values, found ${t.data.length}`);
  }
}

/** The header, metadata and tensor infos, padded to the data section; and each tensor's offset in it. */
function encodeHeader(metadata: GgufMetadata, tensors: readonly GgufTensorToWrite[], alignment: number): Uint8Array {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.value(key, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d); // GGUF dims: ne[0] is the innermost (contiguous) one
    w.u32(t.type);
    w.u64(offset);
    offset = alignUp(offset + t.data.length * GGML_TYPE_SIZE[t.type], alignment);
  }
  w.pad(alignment);
  return w.bytes();
}

/**
 * The bytes of a GGUF file, as chunks: the header first, then one chunk per tensor (converted when it is
 * consumed, so at most one converted tensor is alive) and its padding.
 * @throws RoadsterError E_GGUF for bad names, shapes, types or metadata values
 */
export function serializeGguf(metadata: GgufMetadata, tensors: readonly GgufTensorToWrite[]): Iterable<Uint8Array> {
  validateTensors(tensors);
  const alignment = ggufAlignment(metadata);
  const header = encodeHeader(metadata, tensors, alignment);
  return (function* chunks() {
    yield header;
    for (const t of tensors) {
      const bytes = encodeTensor(t);
      yield bytes;
      const pad = alignUp(bytes.length, alignment) - bytes.length;
      if (pad > 0) yield new Uint8Array(pad);
    }
  })();
}

/**
 * Writes a GGUF v3 file atomically: `path` is either left as it was or holds the complete new file.
 * @throws RoadsterError E_GGUF for invalid input, E_NOT_FOUND when the folder does not exist
 */
export function writeGguf(path: string, metadata: GgufMetadata, tensors: readonly GgufTensorToWrite[]): void {
  writeFileAtomically(path, serializeGguf(metadata, tensors));
}
