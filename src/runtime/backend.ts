// What the runtime needs from an ONNX Runtime build: the part of ORT's common JavaScript API that
// onnxruntime-node and onnxruntime-web both implement (`InferenceSession.create(bytes, options)`, `Tensor`),
// typed structurally so that this file imports neither, plus what differs between Node and a browser tab
// (threads, temporary files for external data, hashing, which ONNX operators the build has).

import type { SerializedModel } from '../graph/onnx/serialize.ts';

/** An ORT tensor, as both builds define it. */
export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
  dispose(): void;
}

/** An ORT inference session, as both builds define it. */
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
  endProfiling(): void;
}

/** The session options roadster sets (ORT's names). */
export interface OrtSessionOptions {
  readonly executionProviders: readonly string[];
  readonly intraOpNumThreads?: number;
  readonly interOpNumThreads?: number;
  readonly executionMode?: 'sequential' | 'parallel';
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  readonly enableCpuMemArena?: boolean;
  readonly enableMemPattern?: boolean;
  readonly enableProfiling?: boolean;
  readonly profileFilePrefix?: string;
}

/** The typed arrays the runtime hands to ORT tensors. */
export type OrtTensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** An incremental hash of a graph's structure (the session cache's key). */
export interface Hasher {
  update(data: string | Uint8Array): void;
  /** Lower-case hex. */
  digest(): string;
}

/** One ONNX Runtime build as the runtime uses it. */
export interface RuntimeBackend {
  /** "onnxruntime-node" or "onnxruntime-web" (for messages and benchmarks). */
  readonly name: string;
  /**
   * Whether lowering may use ORT's contrib operators (com.microsoft); false lowers to standard ONNX operators
   * only (see `LowerOptions.contribOps`).
   */
  readonly contribOps: boolean;
  /** Threads when the runtime's options give none. */
  defaultThreads(): number;
  /** Execution providers of every session. */
  readonly executionProviders: readonly string[];
  /**
   * Creates a session from a serialized model. An external-data model (over protobuf's 2 GB) needs files:
   * `cleanup` then removes them when the session is released.
   */
  createSession(model: SerializedModel, options: OrtSessionOptions): Promise<{ session: OrtSession; cleanup?: () => Promise<void> }>;
  /** An ORT tensor viewing `data` (no copy). */
  tensor(type: 'float32' | 'float64' | 'int64' | 'bool', data: OrtTensorData, dims: readonly number[]): OrtTensor;
  /** A fresh hasher. */
  hasher(): Hasher;
}
