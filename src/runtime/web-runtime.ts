// The runtime on onnxruntime-web (WebAssembly): the same graphs, sessions and cache as `Runtime`, for a browser
// tab (and for Node tests that compare the two builds). Layers above take it wherever they take a Runtime.

import { BaseRuntime, type RuntimeOptions } from './base-runtime.ts';
import { type WebBackendOptions, webBackend } from './web-backend.ts';

export type { WebBackendOptions };

/** Compiles graphs to onnxruntime-web sessions and caches them. Call `release()` when done. */
export class WebRuntime extends BaseRuntime {
  constructor(options: RuntimeOptions & WebBackendOptions = {}) {
    super(webBackend({ threads: options.threads, wasmPaths: options.wasmPaths, contribOps: options.contribOps }), options);
  }
}
