// Parsing and validation of a safetensors header, shared by the file reader and the in-memory parser.
// Layout: u64 little-endian N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the data buffer (offsets are relative to its start). The checks follow
// the Rust crate `safetensors` (`SafeTensors::read_metadata` and `Metadata::validate` in safetensors/src/tensor.rs):
// a 100 MB header bound, and tensors that, sorted by offset, tile the whole data buffer with no overlap or hole.

import { RoadsterError } from '../../errors.ts';
import { DTYPES, isDtype, type SafetensorsDtype } from './dtypes.ts';

/** Largest header the reader accepts, in bytes (the Rust crate's `MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Size of the little-endian u64 header length that starts every file. */
export const HEADER_LENGTH_BYTES = 8;

/** Where one tensor lives and what it holds. */
export interface TensorInfo {
  readonly dtype: SafetensorsDtype;
  /** Dimensions, outermost first (row-major); `[]` for a scalar. */
  readonly shape: readonly number[];
  /** `end - begin` of `dataOffsets`, equal to element count × dtype size. */
  readonly byteLength: number;
  /** `[begin, end)` byte range relative to the start of the data buffer. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header. */
export interface SafetensorsHeader {
  /** The `__metadata__` map, or undefined when the header has none. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Every tensor, in data-offset order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
}

const CORRUPT_FIX = 'The file is corrupt, truncated or not a safetensors file; re-download or re-save it.';

function corrupt(source: string, problem: string, fix = CORRUPT_FIX): RoadsterError {
  return new RoadsterError('E_SAFETENSORS', `${source}: ${problem} ${fix}`);
}

/**
 * Validate the 8-byte prefix and return the header length N. `fileByteLength` is the size of the whole file
 * (or buffer); `source` names it in error messages.
 */
export function readHeaderLength(prefix: Uint8Array, fileByteLength: number, source: string): number {
  if (fileByteLength < HEADER_LENGTH_BYTES) {
    throw corrupt(source, `is ${fileByteLength} bytes long; expected at least 8 (the u64 header length).`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, HEADER_LENGTH_BYTES);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(source, `declares a header of ${n} bytes; expected at most ${MAX_HEADER_BYTES} (100 MB).`);
  }
  const length = Number(n);
  if (HEADER_LENGTH_BYTES + length > fileByteLength) {
    throw corrupt(
      source,
      `declares a header of ${length} bytes but only ${fileByteLength - HEADER_LENGTH_BYTES} bytes follow ` +
        'the header length.',
    );
  }
  return length;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parseMetadata(value: unknown, source: string): Record<string, string> | undefined {
  if (value === null || value === undefined) return undefined;
  if (!isPlainObject(value)) {
    throw corrupt(source, `has "__metadata__" = ${describe(value)}; expected an object of string to string.`);
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw corrupt(source, `has "__metadata__"."${key}" = ${describe(entry)}; metadata values must be strings.`);
    }
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function parseTensorInfo(name: string, value: unknown, dataByteLength: number, source: string): TensorInfo {
  const where = `tensor "${name}"`;
  if (!isPlainObject(value)) {
    throw corrupt(source, `${where} has entry ${describe(value)}; expected {dtype, shape, data_offsets}.`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDtype(dtype)) {
    throw corrupt(
      source,
      `${where} has unknown dtype ${describe(dtype)}; roadster reads ${Object.keys(DTYPES).join(', ')}.`,
      'Convert the checkpoint to one of these dtypes (e.g. F32 or BF16) before loading it.',
    );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw corrupt(source, `${where} has shape ${describe(shape)}; expected a list of non-negative integers.`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
    throw corrupt(source, `${where} has data_offsets ${describe(offsets)}; expected [begin, end] with begin <= end.`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataByteLength) {
    throw corrupt(
      source,
      `${where} has data_offsets [${begin}, ${end}] beyond the end of the data buffer (${dataByteLength} bytes).`,
    );
  }
  const elements = shape.includes(0) ? 0 : shape.reduce((a: number, b: number) => a * b, 1);
  const expected = elements * DTYPES[dtype].byteSize;
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw corrupt(
      source,
      `${where} has dtype ${dtype} and shape [${shape.join(', ')}], so ${expected} bytes, but data_offsets ` +
        `[${begin}, ${end}] span ${end - begin} bytes.`,
    );
  }
  return { dtype, shape: [...shape], byteLength: end - begin, dataOffsets: [begin, end] };
}

/** Check that the tensors, sorted by offset, tile `[0, dataByteLength)` exactly; return them in that order. */
function checkCoverage(
  entries: [string, TensorInfo][],
  dataByteLength: number,
  source: string,
): [string, TensorInfo][] {
  const sorted = [...entries].sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let covered = 0;
  let previous: [string, TensorInfo] | undefined;
  for (const entry of sorted) {
    const [name, info] = entry;
    const [begin, end] = info.dataOffsets;
    if (begin < covered && previous !== undefined) {
      const [prevName, prevInfo] = previous;
      throw corrupt(
        source,
        `tensor "${name}" (data_offsets [${begin}, ${end}]) overlaps tensor "${prevName}" (data_offsets ` +
          `[${prevInfo.dataOffsets[0]}, ${prevInfo.dataOffsets[1]}]); tensors must not share bytes.`,
      );
    }
    if (begin > covered) {
      const after = previous === undefined ? 'the start of the data buffer' : `tensor "${previous[0]}"`;
      throw corrupt(
        source,
        `has a gap: bytes [${covered}, ${begin}) between ${after} and tensor "${name}" belong to no tensor; ` +
          'tensors must cover the data buffer contiguously.',
      );
    }
    covered = end;
    previous = entry;
  }
  if (covered !== dataByteLength) {
    const after = previous === undefined ? 'the header (there are no tensors)' : `the last tensor "${previous[0]}"`;
    throw corrupt(
      source,
      `has a gap: ${dataByteLength - covered} bytes of data after ${after} belong to no tensor; ` +
        'tensors must cover the data buffer exactly.',
    );
  }
  return sorted;
}

/**
 * Parse and validate header bytes. `dataByteLength` is the size of the data buffer that follows the header;
 * `source` names the file (or buffer) in error messages. Throws `RoadsterError` 'E_SAFETENSORS'.
 */
export function parseHeader(headerBytes: Uint8Array, dataByteLength: number, source: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw corrupt(source, 'has a header that is not valid UTF-8.');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw corrupt(source, `has a header that is not valid JSON (${(error as Error).message}).`);
  }
  if (!isPlainObject(json)) {
    throw corrupt(source, `has a header that is JSON ${describe(json)}; expected an object.`);
  }
  let metadata: Record<string, string> | undefined;
  const entries: [string, TensorInfo][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(value, source);
    else entries.push([name, parseTensorInfo(name, value, dataByteLength, source)]);
  }
  return { metadata, tensors: new Map(checkCoverage(entries, dataByteLength, source)) };
}
