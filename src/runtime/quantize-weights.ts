// The names of the frozen-weight quantization modes (RuntimeOptions.quantizeWeights), apart from the runtime so
// that the CLI's flags list them without loading ONNX Runtime.

/** Weight quantization of frozen matmuls (see RuntimeOptions.quantizeWeights). */
export type QuantizeWeights = 'none' | 'int8' | 'int8-all';
export const QUANTIZE_WEIGHTS: readonly QuantizeWeights[] = ['none', 'int8', 'int8-all'];
