// Safetensors readers: `openSafetensors` reads only the header at open and each tensor on demand with a
// positioned read on a file descriptor, so a multi-GB checkpoint is never held twice in memory;
// `parseSafetensors` gives the same interface over an in-memory buffer. Both validate through `header.ts`.

import * as fs from 'node:fs';
import { RoadsterError } from '../../errors.ts';
import { decodeToFloat32, decodeToFloat64, type SafetensorsDtype } from './dtypes.ts';
import {
  HEADER_LENGTH_BYTES,
  parseHeader,
  readHeaderLength,
  type SafetensorsHeader,
  type TensorInfo,
} from './header.ts';

/** One tensor's raw little-endian bytes with its dtype and shape. */
export interface RawTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** Read access to the tensors of one safetensors file, or of a sharded checkpoint (see `openCheckpoint`). */
export interface SafetensorsReader {
  /** What the reader reads (a path, or a label for a buffer); used in error messages. */
  readonly source: string;
  /** The header's `__metadata__` map, or undefined when it has none. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Tensor names, in data-offset order. */
  tensorNames(): string[];
  /** Whether the file holds a tensor called `name`. */
  has(name: string): boolean;
  /** SafetensorsDtype, shape, byte length and offsets of a tensor; throws 'E_WEIGHTS' when there is none called `name`. */
  info(name: string): TensorInfo;
  /** Raw bytes of a tensor (a fresh buffer for files; a view into the buffer for `parseSafetensors`). */
  readTensor(name: string): RawTensor;
  /**
   * A float tensor's values as float32 (F16/BF16 exact, F64 rounded); throws 'E_DTYPE' for integer tensors.
   * For F32 data from `parseSafetensors` the result may share memory with the parsed buffer.
   */
  readFloat32(name: string): Float32Array;
  /** A float tensor's values as float64 (exact for every float dtype). */
  readFloat64(name: string): Float64Array;
  /** Release the file descriptor; later reads throw 'E_USAGE'. Calling it twice is harmless. */
  close(): void;
}

/** Largest single positioned read; `fs.readSync` rejects lengths of 2 GiB and more. */
const MAX_READ_CHUNK = 1 << 30;

/** Builds a reader over a validated header and a function that fetches a byte range of the data buffer. */
function makeReader(
  source: string,
  header: SafetensorsHeader,
  fetch: (begin: number, end: number, name: string) => Uint8Array,
  release: () => void,
): SafetensorsReader {
  let closed = false;
  const lookup = (name: string): TensorInfo => {
    if (closed) {
      throw new RoadsterError('E_USAGE', `${source}: reader is closed; open the file again to read "${name}".`);
    }
    const info = header.tensors.get(name);
    if (info === undefined) {
      const names = [...header.tensors.keys()];
      const sample = names.slice(0, 5).map((n) => `"${n}"`).join(', ');
      throw new RoadsterError(
        'E_WEIGHTS',
        `${source}: has no tensor "${name}"; it holds ${names.length} tensors` +
          (names.length > 0 ? ` (${sample}${names.length > 5 ? ', ...' : ''}).` : '.') +
          ' Check the tensor name against the checkpoint.',
      );
    }
    return info;
  };
  const readTensor = (name: string): RawTensor => {
    const info = lookup(name);
    return { dtype: info.dtype, shape: info.shape, data: fetch(info.dataOffsets[0], info.dataOffsets[1], name) };
  };
  const asFloat = <T>(name: string, decode: (bytes: Uint8Array, dtype: SafetensorsDtype) => T): T => {
    const tensor = readTensor(name);
    try {
      return decode(tensor.data, tensor.dtype);
    } catch (error) {
      if (error instanceof RoadsterError) {
        throw new RoadsterError(error.code, `${source}: tensor "${name}": ${error.message}`, { cause: error });
      }
      throw error;
    }
  };
  return {
    source,
    metadata: header.metadata,
    tensorNames: () => [...header.tensors.keys()],
    has: (name) => header.tensors.has(name),
    info: lookup,
    readTensor,
    readFloat32: (name) => asFloat(name, decodeToFloat32),
    readFloat64: (name) => asFloat(name, decodeToFloat64),
    close: () => {
      if (closed) return;
      closed = true;
      release();
    },
  };
}

/** Fill `target` from `fd` at `position`, in chunks; throws if the file ends early. */
function readFully(fd: number, target: Uint8Array, position: number, source: string, what: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const length = Math.min(target.byteLength - done, MAX_READ_CHUNK);
    const read = fs.readSync(fd, target, done, length, position + done);
    if (read === 0) {
      throw new RoadsterError(
        'E_SAFETENSORS',
        `${source}: file ended after ${position + done} bytes while reading ${what}; it was truncated after open.`,
      );
    }
    done += read;
  }
}

/**
 * Open a safetensors file: reads and validates the header now, tensors on demand. Throws 'E_NOT_FOUND' when
 * the file does not exist and 'E_SAFETENSORS' when it is malformed. Call `close()` when done.
 */
export function openSafetensors(path: string): SafetensorsReader {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RoadsterError('E_NOT_FOUND', `${path}: no such safetensors file; check the path.`, { cause: error });
    }
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      throw new RoadsterError('E_NOT_FOUND', `${path}: is not a regular file; expected a .safetensors file.`);
    }
    const fileByteLength = stat.size;
    const prefix = new Uint8Array(HEADER_LENGTH_BYTES);
    if (fileByteLength >= HEADER_LENGTH_BYTES) readFully(fd, prefix, 0, path, 'the header length');
    const headerByteLength = readHeaderLength(prefix, fileByteLength, path);
    const headerBytes = new Uint8Array(headerByteLength);
    readFully(fd, headerBytes, HEADER_LENGTH_BYTES, path, 'the header');
    const dataStart = HEADER_LENGTH_BYTES + headerByteLength;
    const header = parseHeader(headerBytes, fileByteLength - dataStart, path);
    const fetch = (begin: number, end: number, name: string): Uint8Array => {
      const data = new Uint8Array(end - begin);
      readFully(fd, data, dataStart + begin, path, `tensor "${name}"`);
      return data;
    };
    return makeReader(path, header, fetch, () => fs.closeSync(fd));
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/**
 * Parse a whole safetensors file held in memory, with the same validation as `openSafetensors`. Tensors are
 * returned as views into `bytes` (no copy). `source` names the buffer in error messages.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<safetensors buffer>'): SafetensorsReader {
  const headerByteLength = readHeaderLength(bytes, bytes.byteLength, source);
  const dataStart = HEADER_LENGTH_BYTES + headerByteLength;
  const header = parseHeader(bytes.subarray(HEADER_LENGTH_BYTES, dataStart), bytes.byteLength - dataStart, source);
  const fetch = (begin: number, end: number): Uint8Array => bytes.subarray(dataStart + begin, dataStart + end);
  return makeReader(source, header, fetch, () => {});
}
