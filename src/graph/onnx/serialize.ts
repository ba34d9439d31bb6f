// Encodes a lowered ModelProto to bytes. A protobuf cannot exceed 2 GB, so when the initializers add up to more
// than a threshold (default 1.8 GB) the large ones move to ONNX external data: a side file that the .onnx names
// by location, offset and length, each tensor aligned to 4096 bytes so ORT can map it. The side file is returned
// as chunks that view the host arrays; writing files is the runtime's job.

import { RoadsterError } from '../../errors.ts';
import { type ModelProto, type TensorProto, onnx } from './proto.ts';

/** Options of `serializeModel`. */
export interface SerializeOptions {
  /** Total initializer bytes above which external data is used (default 1.8e9). 0 forces it for any graph. */
  readonly externalDataThreshold?: number;
  /** With external data, initializers smaller than this stay inline (default 1024 bytes). */
  readonly externalMinBytes?: number;
  /** Name of the data file, relative to the .onnx file (default "model.onnx.data"). */
  readonly location?: string;
}

/** An encoded model: one buffer, or a .onnx buffer plus the chunks of its external data file, in order. */
export type SerializedModel =
  | { readonly kind: 'inline'; readonly bytes: Uint8Array }
  | {
      readonly kind: 'external';
      readonly onnxBytes: Uint8Array;
      readonly location: string;
      readonly externalData: readonly Uint8Array[];
      readonly externalBytes: number;
    };

export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 1.8e9;
const ALIGNMENT = 4096;
const PROTOBUF_LIMIT = 2 ** 31 - 1;

function rawLength(t: TensorProto): number {
  return t.rawData?.byteLength ?? 0;
}

/** Serializes a model, moving large initializers to external data when the total exceeds the threshold. */
export function serializeModel(model: ModelProto, opts: SerializeOptions = {}): SerializedModel {
  const threshold = opts.externalDataThreshold ?? DEFAULT_EXTERNAL_DATA_THRESHOLD;
  const minBytes = opts.externalMinBytes ?? 1024;
  const location = opts.location ?? 'model.onnx.data';
  const initializers = model.graph?.initializer ?? [];
  const total = initializers.reduce((acc, t) => acc + rawLength(t), 0);
  if (total <= threshold) return { kind: 'inline', bytes: encode(model) };

  const chunks: Uint8Array[] = [];
  const zeros = new Uint8Array(ALIGNMENT);
  let offset = 0;
  const moved = initializers.map((t): TensorProto => {
    const length = rawLength(t);
    if (length === 0 || length < minBytes) return t;
    const pad = (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
    if (pad > 0) chunks.push(zeros.subarray(0, pad));
    offset += pad;
    chunks.push(t.rawData!);
    const { rawData: _inline, ...rest } = t;
    const entry: TensorProto = {
      ...rest,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    };
    offset += length;
    return entry;
  });
  const onnxBytes = encode({ ...model, graph: { ...model.graph, initializer: moved } });
  return { kind: 'external', onnxBytes, location, externalData: chunks, externalBytes: offset };
}

function encode(model: ModelProto): Uint8Array {
  const inline = (model.graph?.initializer ?? []).reduce((acc, t) => acc + rawLength(t), 0);
  if (inline > PROTOBUF_LIMIT) {
    throw new RoadsterError(
      'E_ONNX',
      `model has ${inline} bytes of inline initializers, over protobuf's 2 GB limit; lower externalDataThreshold`,
    );
  }
  return onnx.ModelProto.encode(model).finish();
}
