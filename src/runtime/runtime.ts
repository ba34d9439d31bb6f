// The runtime on onnxruntime-node (native CPU kernels): what the library, the CLI and the tests use in Node.
// Everything but the backend is BaseRuntime's (base-runtime.ts).

import { BaseRuntime, type RuntimeOptions } from './base-runtime.ts';
import { NODE_BACKEND } from './node-backend.ts';

export { BaseRuntime, type CompileOptions, QUANTIZE_WEIGHTS, type QuantizeWeights, type RuntimeOptions, effectiveLevel } from './base-runtime.ts';

/** Compiles graphs to onnxruntime-node sessions and caches them. Call `release()` when done. */
export class Runtime extends BaseRuntime {
  constructor(options: RuntimeOptions = {}) {
    super(NODE_BACKEND, options);
  }
}
