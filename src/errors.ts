// Typed errors shared by every layer. Each error carries a stable `code` so that callers (CLI, HTTP server,
// tests) can branch on the kind of failure; messages say what was expected, what was found and how to fix it.

/** Stable error codes. Add new codes here, never inline strings elsewhere. */
export type ErrorCode =
  | 'E_SHAPE' // shapes that do not fit an op
  | 'E_DTYPE' // unknown dtype, or a dtype an op does not accept
  | 'E_GRAPH' // malformed graph (unknown value, bad output name, ...)
  | 'E_AUTODIFF' // gradient requested of something that has none
  | 'E_FEED' // missing, extra or mismatched runtime feed
  | 'E_RUNTIME' // ONNX Runtime failed
  | 'E_ONNX' // lowering or serialization failed
  | 'E_SAFETENSORS' // corrupt or unsupported safetensors file
  | 'E_GGUF' // corrupt or unsupported GGUF file, or a model that cannot be exported to GGUF
  | 'E_CONFIG' // bad or unsupported config.json / tokenizer config
  | 'E_WEIGHTS' // checkpoint tensors missing or of the wrong shape
  | 'E_NOT_FOUND' // a file or Hub entry that does not exist (locally or in the cache)
  | 'E_TOKENIZER' // tokenizer files missing or malformed
  | 'E_ADAPTER' // adapter config or files that do not fit (unknown variant, wrong shapes, NaN values)
  | 'E_DATA' // training data that cannot be used (bad JSONL line, unknown record format, no usable example)
  | 'E_TRAIN' // training cannot go on (non-finite losses, no usable checkpoint to resume)
  | 'E_CHECKPOINT' // a checkpoint that is missing, partial or does not match the run
  | 'E_OVERLOADED' // the generation engine's queue is full; retry later
  | 'E_IO' // reading or writing files failed for a reason outside the input (disk full, I/O error)
  | 'E_LOCKED' // an output folder in use by another run
  | 'E_TOO_LARGE' // a model larger than the place it must fit (a browser tab's memory)
  | 'E_USAGE'; // bad CLI flag or API argument

/** Base class of every error roadster throws on purpose. */
export class RoadsterError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RoadsterError';
    this.code = code;
  }
}

/** Internal invariant check: a failure is a bug in roadster, not bad input. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`roadster internal error: ${message}`);
}
