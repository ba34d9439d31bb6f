// ONNX lowering and serialization of roadster graphs.

export { LowerContext, type LowerOptions, type SymbolSource } from './context.ts';
export { type LoweredModel, type TensorSpec, lowerToOnnx } from './lower.ts';
export { LOWER_RULES, type LowerRule } from './lower-rules.ts';
export { IR_VERSION, type ModelProto, OPSET_VERSION, onnx } from './proto.ts';
export {
  DEFAULT_EXTERNAL_DATA_THRESHOLD,
  type SerializeOptions,
  type SerializedModel,
  serializeModel,
} from './serialize.ts';
