// Safetensors writer whose output is byte-identical to Python's `safetensors` (`save_file`, as PEFT and
// transformers call it). It follows `prepare` in the Rust crate (huggingface/safetensors,
// safetensors/src/tensor.rs):
// - tensors are sorted by dtype, descending in the order of the crate's `Dtype` enum (see `DTYPES.rustRank`;
//   this is I64 > F64 > F32 > I32 > BF16 > F16 > I16 > I8 > U8 > BOOL, not a pure alignment order), then by name
//   in byte order, and laid out back to back from offset 0 in that order;
// - the header is compact JSON (no spaces) with `__metadata__` first when given, then the tensors in layout
//   order, each as {"dtype","shape","data_offsets"};
// - the header is padded with spaces to a multiple of 8 bytes, so that the data buffer starts 8-byte aligned.

import { RoadsterError } from '../../errors.ts';
import { writeFileAtomically } from './atomic-write.ts';
import { DTYPES, isDtype, tensorDataToBytes, type SafetensorsDtype, type TensorData } from './dtypes.ts';
import { HEADER_LENGTH_BYTES, MAX_HEADER_BYTES } from './header.ts';
import { compareCodePoints, isWellFormedUnicode } from './json-format.ts';

/** One tensor to write. `data` is raw bytes or a typed array (see `tensorDataToBytes` for the accepted pairs). */
export interface TensorToWrite {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** Tensors to write: a list, or a record from name to tensor (in which case each entry's `name` is the key). */
export type TensorsToWrite = readonly TensorToWrite[] | Readonly<Record<string, Omit<TensorToWrite, 'name'>>>;

/** A tensor ready to lay out: validated, with its bytes. */
export interface PreparedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

function badInput(problem: string): RoadsterError {
  return new RoadsterError('E_USAGE', `cannot write safetensors: ${problem}`);
}

/**
 * Validate `tensors` and convert their data to little-endian bytes, keeping the caller's order. Throws
 * 'E_USAGE' (bad name, shape or byte length) or 'E_DTYPE' (unknown dtype, typed array that does not fit).
 */
export function prepareTensors(tensors: TensorsToWrite): PreparedTensor[] {
  type Entries = Readonly<Record<string, Omit<TensorToWrite, 'name'>>>;
  const list: TensorToWrite[] = Array.isArray(tensors)
    ? [...(tensors as readonly TensorToWrite[])]
    : Object.entries(tensors as Entries).map(([name, t]) => ({ ...t, name }));
  const seen = new Set<string>();
  return list.map(({ name, dtype, shape, data }) => {
    if (typeof name !== 'string' || name === '__metadata__' || !isWellFormedUnicode(name)) {
      throw badInput(`tensor name ${JSON.stringify(name)} is reserved or not valid Unicode; rename the tensor.`);
    }
    if (seen.has(name)) throw badInput(`tensor "${name}" is given twice; tensor names must be unique.`);
    seen.add(name);
    if (!isDtype(dtype)) {
      throw new RoadsterError(
        'E_DTYPE',
        `cannot write tensor "${name}": unknown dtype ${JSON.stringify(dtype)}; ` +
          `use one of ${Object.keys(DTYPES).join(', ')}.`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw badInput(`tensor "${name}" has shape ${JSON.stringify(shape)}; expected non-negative integers.`);
    }
    let bytes: Uint8Array;
    try {
      bytes = tensorDataToBytes(data, dtype);
    } catch (error) {
      if (!(error instanceof RoadsterError)) throw error;
      throw new RoadsterError(error.code, `cannot write tensor "${name}": ${error.message}`, { cause: error });
    }
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPES[dtype].byteSize;
    if (bytes.byteLength !== expected) {
      throw badInput(
        `tensor "${name}" (${dtype}, shape [${shape.join(', ')}]) needs ${expected} bytes, but its data has ` +
          `${bytes.byteLength}; fix the shape or the data.`,
      );
    }
    return { name, dtype, shape: [...shape], bytes };
  });
}

/** Header bytes and data chunks of a safetensors file, in write order. */
export interface SafetensorsLayout {
  /** The 8-byte length followed by the padded JSON header. */
  readonly head: Uint8Array;
  /** Each tensor's bytes, in layout order. */
  readonly chunks: readonly Uint8Array[];
  /** Total file size in bytes. */
  readonly byteLength: number;
}

/** Lay out prepared tensors exactly as the Python/Rust writer does (see the file header). */
export function layoutSafetensors(
  prepared: readonly PreparedTensor[],
  metadata?: Readonly<Record<string, string>>,
): SafetensorsLayout {
  const ordered = [...prepared].sort(
    (a, b) => DTYPES[b.dtype].rustRank - DTYPES[a.dtype].rustRank || compareCodePoints(a.name, b.name),
  );
  const parts: string[] = [];
  if (metadata !== undefined) {
    const entries = Object.entries(metadata);
    for (const [key, value] of entries) {
      if (typeof value !== 'string' || !isWellFormedUnicode(key) || !isWellFormedUnicode(value)) {
        throw badInput(`metadata "${key}" = ${JSON.stringify(value)}; metadata maps strings to strings.`);
      }
    }
    // The Rust crate keeps metadata in a HashMap, so with several keys Python's order is arbitrary; we keep the
    // caller's order (a single key, as PEFT and transformers write, is unaffected).
    const body = entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',');
    parts.push(`"__metadata__":{${body}}`);
  }
  let offset = 0;
  for (const t of ordered) {
    const end = offset + t.bytes.byteLength;
    // JSON.stringify escapes strings exactly as serde_json does (", \, control characters; UTF-8 kept raw).
    const info = `{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`;
    parts.push(`${JSON.stringify(t.name)}:${info}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerByteLength = Math.ceil(json.byteLength / 8) * 8;
  if (headerByteLength > MAX_HEADER_BYTES) {
    throw badInput(
      `the header would be ${headerByteLength} bytes, above the ${MAX_HEADER_BYTES}-byte limit readers accept; ` +
        'split the tensors over several files.',
    );
  }
  const head = new Uint8Array(HEADER_LENGTH_BYTES + headerByteLength).fill(0x20, HEADER_LENGTH_BYTES); // space padding
  new DataView(head.buffer).setBigUint64(0, BigInt(headerByteLength), true);
  head.set(json, HEADER_LENGTH_BYTES);
  return { head, chunks: ordered.map((t) => t.bytes), byteLength: head.byteLength + offset };
}

/**
 * Serialize tensors (and optional `__metadata__`) to the bytes Python's `safetensors.torch.save_file` writes
 * for the same tensors.
 */
export function serializeSafetensors(
  tensors: TensorsToWrite,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const layout = layoutSafetensors(prepareTensors(tensors), metadata);
  const out = new Uint8Array(layout.byteLength);
  out.set(layout.head, 0);
  let position = layout.head.byteLength;
  for (const chunk of layout.chunks) {
    out.set(chunk, position);
    position += chunk.byteLength;
  }
  return out;
}

/**
 * Write tensors to `path` as `serializeSafetensors` would, atomically: the file is complete or absent/old,
 * never partial. Input is validated before anything touches the disk; tensor data is streamed, not copied.
 */
export function writeSafetensors(
  path: string,
  tensors: TensorsToWrite,
  metadata?: Readonly<Record<string, string>>,
): void {
  const layout = layoutSafetensors(prepareTensors(tensors), metadata);
  writeFileAtomically(path, [layout.head, ...layout.chunks]);
}
