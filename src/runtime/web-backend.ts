// The onnxruntime-web build (WebAssembly, SIMD, threads when the page is cross-origin isolated): the same
// graphs as onnxruntime-node through the same common API. Works in a browser tab and in Node (tests run the
// web build in Node to compare it with the native one). Inline models only: a tab cannot hold a model near
// protobuf's 2 GB limit anyway (the studio refuses models over its memory limit before this).

import * as ort from 'onnxruntime-web';
import { RoadsterError } from '../errors.ts';
import type { OrtSession, RuntimeBackend } from './backend.ts';
import { sha256Hasher } from './sha256.ts';

/** Settings of the WebAssembly build; they apply to the whole page (ORT's `env.wasm`) and must be set before the first session. */
export interface WebBackendOptions {
  /** WebAssembly threads (default 2 where the page is cross-origin isolated, else 1). */
  readonly threads?: number;
  /** Where ORT's .wasm and .mjs files are served (default: next to the bundle, as ORT resolves them). */
  readonly wasmPaths?: string;
  /** Lower with ORT's contrib operators (the WebAssembly build has FusedMatMul and the int8 ones); default false. */
  readonly contribOps?: boolean;
}

const isolated = (): boolean => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;

/** A backend on onnxruntime-web's WebAssembly execution provider. */
export function webBackend(options: WebBackendOptions = {}): RuntimeBackend {
  const threads = options.threads ?? (typeof window === 'undefined' || isolated() ? 2 : 1);
  ort.env.wasm.numThreads = threads;
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  return {
    name: 'onnxruntime-web',
    contribOps: options.contribOps ?? false,
    executionProviders: ['wasm'],
    defaultThreads: () => threads,
    async createSession(model, sessionOptions) {
      if (model.kind !== 'inline') {
        throw new RoadsterError('E_USAGE', `the model needs ONNX external data (${(model.externalBytes / 1e9).toFixed(2)} GB of weights), which onnxruntime-web is not given here; use a smaller model`);
      }
      // the WebAssembly build takes its thread count from env.wasm, not from the session
      const { intraOpNumThreads: _t, interOpNumThreads: _i, ...rest } = sessionOptions;
      return { session: (await ort.InferenceSession.create(model.bytes, rest as ort.InferenceSession.SessionOptions)) as OrtSession };
    },
    tensor: (type, data, dims) => new ort.Tensor(type, data as never, dims),
    hasher: sha256Hasher,
  };
}
