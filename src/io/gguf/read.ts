// GGUF reader (versions 2 and 3, little-endian): the header, every metadata value with its type tag, the tensor
// infos, and the data of F32 and F16 tensors as Float32Array. It reads a whole file into memory (meant for
// checking exported files and for tests, not for running models) and validates as it goes: the magic, the
// version, string encodings, that each tensor's offset is aligned and its bytes lie inside the file.

import { readFileSync } from 'node:fs';
import { RoadsterError } from '../../errors.ts';
import { f16BitsToNumber } from '../safetensors/dtypes.ts';
import { GGML_TYPE_SIZE, GGUF_MAGIC, GGUF_SCALAR_SIZE, GgmlType, GgufValueType } from './constants.ts';
import type { GgufItem, GgufItemType, GgufMetadata, GgufValue } from './values.ts';
import { ggufAlignment } from './write.ts';

/** One tensor's entry in the file. */
export interface GgufTensorInfo {
  readonly name: string;
  /** GGUF order: dims[0] is the innermost (contiguous) dimension. */
  readonly dims: readonly number[];
  /** Row-major shape, outermost first: `dims` reversed. */
  readonly shape: readonly number[];
  /** The ggml type number (F32 = 0, F16 = 1; others are listed but their data is not decoded). */
  readonly type: number;
  /** Offset from the start of the data section. */
  readonly offset: number;
}

/** A parsed GGUF file. */
export interface GgufFile {
  readonly version: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Byte offset of the data section in the file. */
  readonly dataOffset: number;
  /** A metadata value, or undefined when absent. */
  get(key: string): GgufValue | undefined;
  /** Values of an F32 or F16 tensor as float32 (F16 exact); E_GGUF for another type or an unknown name. */
  tensorData(name: string): Float32Array;
}

function corrupt(source: string, message: string): RoadsterError {
  return new RoadsterError('E_GGUF', `${source}: ${message}`);
}

/** A bounds-checked little-endian cursor. */
class ByteReader {
  private readonly view: DataView;
  at = 0;
  private static readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly bytes: Uint8Array, private readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.at + n > this.bytes.byteLength) {
      throw corrupt(this.source, `truncated while reading ${what} at byte ${this.at} (file has ${this.bytes.byteLength} bytes)`);
    }
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  /** A uint64 that must fit a JS safe integer (counts, lengths, dims, offsets). */
  count(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(this.source, `${what} is ${v}, too large`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.count(`${what} length`);
    this.need(n, what);
    const slice = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    try {
      return ByteReader.decoder.decode(slice);
    } catch {
      throw corrupt(this.source, `${what} is not valid UTF-8`);
    }
  }
  scalar(type: GgufItemType, what: string): GgufItem {
    const size = GGUF_SCALAR_SIZE[type];
    if (size === null) return this.string(what);
    this.need(size, what);
    const at = this.at;
    this.at += size;
    switch (type) {
      case GgufValueType.UINT8:
        return this.view.getUint8(at);
      case GgufValueType.INT8:
        return this.view.getInt8(at);
      case GgufValueType.UINT16:
        return this.view.getUint16(at, true);
      case GgufValueType.INT16:
        return this.view.getInt16(at, true);
      case GgufValueType.UINT32:
        return this.view.getUint32(at, true);
      case GgufValueType.INT32:
        return this.view.getInt32(at, true);
      case GgufValueType.FLOAT32:
        return this.view.getFloat32(at, true);
      case GgufValueType.FLOAT64:
        return this.view.getFloat64(at, true);
      case GgufValueType.BOOL: {
        const b = this.view.getUint8(at);
        if (b > 1) throw corrupt(this.source, `${what}: bool byte ${b} is neither 0 nor 1`);
        return b === 1;
      }
      case GgufValueType.UINT64:
        return this.view.getBigUint64(at, true);
      case GgufValueType.INT64:
        return this.view.getBigInt64(at, true);
    }
    throw corrupt(this.source, `${what}: unknown value type ${type}`);
  }
  valueType(what: string): GgufValueType {
    const t = this.u32(what);
    if (!Object.hasOwn(GGUF_SCALAR_SIZE, t)) throw corrupt(this.source, `${what}: unknown value type ${t}`);
    return t as GgufValueType;
  }
  value(key: string): GgufValue {
    const type = this.valueType(`type of "${key}"`);
    if (type !== GgufValueType.ARRAY) return { type, value: this.scalar(type, `"${key}"`) } as GgufValue;
    const itemType = this.valueType(`item type of "${key}"`);
    if (itemType === GgufValueType.ARRAY) throw corrupt(this.source, `"${key}" is a nested array, which this reader does not support`);
    const n = this.count(`length of "${key}"`);
    const size = GGUF_SCALAR_SIZE[itemType];
    if (size !== null) this.need(n * size, `"${key}"`);
    const items: GgufItem[] = new Array(n);
    for (let i = 0; i < n; i++) items[i] = this.scalar(itemType, `"${key}"[${i}]`);
    return { type, itemType, value: items };
  }
}

/**
 * Parses a GGUF file held in memory.
 * @param source names the file in error messages
 * @throws RoadsterError E_GGUF for anything malformed or unsupported
 */
export function parseGguf(bytes: Uint8Array, source = '<buffer>'): GgufFile {
  const r = new ByteReader(bytes, source);
  const magic = r.u32('the magic');
  if (magic !== GGUF_MAGIC) throw corrupt(source, 'not a GGUF file (the first 4 bytes are not "GGUF")');
  const version = r.u32('the version');
  if (version !== 2 && version !== 3) throw corrupt(source, `GGUF version ${version} is not supported (2 or 3 expected)`);
  const tensorCount = r.count('the tensor count');
  const kvCount = r.count('the metadata count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key ${i}`);
    if (metadata.has(key)) throw corrupt(source, `metadata key "${key}" appears twice`);
    metadata.set(key, r.value(key));
  }
  const alignment = ggufAlignment(metadata);
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(`tensor name ${i}`);
    if (names.has(name)) throw corrupt(source, `tensor "${name}" appears twice`);
    names.add(name);
    const nDims = r.u32(`dims of "${name}"`);
    if (nDims < 1 || nDims > 4) throw corrupt(source, `tensor "${name}" has ${nDims} dims (1 to 4 expected)`);
    const dims = Array.from({ length: nDims }, (_, d) => r.count(`dim ${d} of "${name}"`));
    const type = r.u32(`type of "${name}"`);
    const offset = r.count(`offset of "${name}"`);
    if (offset % alignment !== 0) throw corrupt(source, `tensor "${name}" starts at ${offset}, not a multiple of the alignment ${alignment}`);
    tensors.push(Object.freeze({ name, dims: Object.freeze(dims), shape: Object.freeze([...dims].reverse()), type, offset }));
  }
  const dataOffset = Math.ceil(r.at / alignment) * alignment;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const t of tensors) {
    if (!Object.hasOwn(GGML_TYPE_SIZE, t.type)) continue; // quantized: size not computed here
    const end = dataOffset + t.offset + t.dims.reduce((a, b) => a * b, 1) * GGML_TYPE_SIZE[t.type as GgmlType];
    if (end > bytes.byteLength) throw corrupt(source, `tensor "${t.name}" ends at byte ${end}, past the end of the file (${bytes.byteLength})`);
  }
  return Object.freeze({
    version,
    metadata,
    tensors: Object.freeze(tensors),
    alignment,
    dataOffset,
    get: (key: string) => metadata.get(key),
    tensorData(name: string): Float32Array {
      const t = byName.get(name);
      if (t === undefined) throw corrupt(source, `has no tensor "${name}"`);
      const n = t.dims.reduce((a, b) => a * b, 1);
      const start = bytes.byteOffset + dataOffset + t.offset;
      switch (t.type) {
        case GgmlType.F32:
          return new Float32Array(bytes.buffer.slice(start, start + 4 * n));
        case GgmlType.F16: {
          const view = new DataView(bytes.buffer, start, 2 * n);
          const out = new Float32Array(n);
          for (let i = 0; i < n; i++) out[i] = f16BitsToNumber(view.getUint16(2 * i, true));
          return out;
        }
        default:
          throw corrupt(source, `tensor "${name}" has ggml type ${t.type}; only F32 (0) and F16 (1) are decoded`);
      }
    },
  });
}

/** Reads and parses a GGUF file (the whole file is read into memory). */
export function readGguf(path: string): GgufFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new RoadsterError('E_NOT_FOUND', `Cannot read ${path}: ${(error as Error).message}.`, { cause: error });
  }
  return parseGguf(bytes, path);
}

/** Whether the file at `path` starts with the GGUF magic (false for a missing or shorter file). */
export function looksLikeGguf(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GGUF_MAGIC;
}
