// The runtime layer (Node entry): the only code that imports onnxruntime-node (node-backend.ts) and
// onnxruntime-web (web-backend.ts, reached only from the browser entry and from WebRuntime's tests).

export type { TensorSpec } from '../graph/onnx/lower.ts';
export { type BenchCase, type BenchResult, DEFAULT_BENCH_CASES, benchMatmul } from './bench-matmul.ts';
export { type CompileInfo, CompiledGraph, type OptimizationLevel } from './compiled-graph.ts';
export { type HostTensor, bool, float32, float64, hostTensor, int64, shapeSize, toNumbers } from './host-tensor.ts';
export type { Hasher, OrtSession, OrtSessionOptions, OrtTensor, RuntimeBackend } from './backend.ts';
export { BaseRuntime, type CompileOptions, QUANTIZE_WEIGHTS, type QuantizeWeights, Runtime, type RuntimeOptions, effectiveLevel } from './runtime.ts';
