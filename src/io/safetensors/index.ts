// Public surface of the safetensors reader and writer (hand-written, no dependencies; see the file headers of
// read.ts, write.ts and sharded.ts for the format rules each follows).

export {
  DTYPES,
  bf16BitsToNumber,
  decodeToFloat32,
  decodeToFloat64,
  dtypeByteSize,
  encodeFloat32,
  f16BitsToNumber,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  isDtype,
  isFloatDtype,
  numberToBf16Bits,
  numberToF16Bits,
  tensorDataToBytes,
  type SafetensorsDtype,
  type DtypeInfo,
  type FloatDtype,
  type TensorData,
} from './dtypes.ts';
export { MAX_HEADER_BYTES, type TensorInfo } from './header.ts';
export { openSafetensors, parseSafetensors, type RawTensor, type SafetensorsReader } from './read.ts';
export {
  serializeSafetensors,
  writeSafetensors,
  type TensorToWrite,
  type TensorsToWrite,
} from './write.ts';
export { writeFileAtomically } from './atomic-write.ts';
export {
  INDEX_FILE_NAME,
  SINGLE_FILE_NAME,
  openCheckpoint,
  writeShardedCheckpoint,
  type CheckpointReader,
  type WrittenCheckpoint,
} from './sharded.ts';
