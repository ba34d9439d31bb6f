// Feed validation before ONNX Runtime sees anything, and conversion between host tensors and ORT tensors.
// Validation errors (E_FEED) say which input, what was expected and what was given; symbolic dimensions must
// be bound consistently across all inputs.

import { RoadsterError } from '../errors.ts';
import { type DType, dtypeOfHostArray } from '../graph/dtype.ts';
import { formatShape } from '../graph/dim.ts';
import type { TensorSpec } from '../graph/onnx/lower.ts';
import type { OrtTensor, RuntimeBackend } from './backend.ts';
import { type HostTensor, shapeSize } from './host-tensor.ts';

function describe(specs: readonly TensorSpec[]): string {
  return specs.map((s) => `${s.name}: ${s.dtype}${formatShape(s.shape)}`).join(', ') || '(none)';
}

function fail(message: string): never {
  throw new RoadsterError('E_FEED', message);
}

/** Checks feeds against the graph inputs: names, dtypes, ranks, static dims, symbol bindings, data lengths. */
export function validateFeeds(inputs: readonly TensorSpec[], feeds: Readonly<Record<string, HostTensor>>): void {
  if (typeof feeds !== 'object' || feeds === null) {
    fail(`feeds must be an object of host tensors; the graph expects ${describe(inputs)}`);
  }
  const names = new Set(inputs.map((i) => i.name));
  const missing = inputs.filter((i) => !Object.hasOwn(feeds, i.name)).map((i) => i.name);
  const unknown = Object.keys(feeds).filter((k) => !names.has(k));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing feed(s) ${missing.map((m) => `"${m}"`).join(', ')}`);
  if (unknown.length > 0) problems.push(`unknown feed(s) ${unknown.map((m) => `"${m}"`).join(', ')}`);
  if (problems.length > 0) fail(`${problems.join('; ')}; the graph's inputs are ${describe(inputs)}`);

  const bound = new Map<string, { size: number; where: string }>();
  for (const spec of inputs) {
    const t = feeds[spec.name];
    const what = `feed "${spec.name}"`;
    if (!t || typeof t !== 'object' || !Array.isArray(t.shape)) fail(`${what} is not a host tensor {dtype, shape, data}`);
    if (t.dtype !== spec.dtype) fail(`${what}: expected dtype ${spec.dtype}, got ${t.dtype}; cast it on the host`);
    const arrayType = dtypeOfHostArray(t.data);
    if (arrayType !== t.dtype) {
      fail(`${what}: dtype ${t.dtype} needs its own typed array, got ${t.data?.constructor?.name ?? typeof t.data}`);
    }
    if (t.shape.length !== spec.shape.length) {
      fail(`${what}: expected rank ${spec.shape.length} ${formatShape(spec.shape)}, got rank ${t.shape.length} ${formatShape(t.shape)}`);
    }
    t.shape.forEach((size, axis) => {
      const d = spec.shape[axis];
      if (!Number.isInteger(size) || size < 0) fail(`${what}: bad size ${size} at axis ${axis}`);
      if (typeof d === 'number') {
        if (size !== d) {
          fail(`${what}: expected shape ${formatShape(spec.shape)}, got ${formatShape(t.shape)} (axis ${axis}: ${d} vs ${size})`);
        }
        return;
      }
      const where = `${spec.name}${formatShape(t.shape)} axis ${axis}`;
      const prev = bound.get(d);
      if (!prev) bound.set(d, { size, where });
      else if (prev.size !== size) fail(`symbolic dimension "${d}" is ${prev.size} in ${prev.where} but ${size} in ${where}`);
    });
    const size = shapeSize(t.shape);
    if (t.data.length !== size) fail(`${what}: shape ${formatShape(t.shape)} needs ${size} elements, data has ${t.data.length}`);
  }
}

/** An ORT tensor of `backend` viewing a host tensor's data (no copy). */
export function toOrtTensor(t: HostTensor, backend: RuntimeBackend): OrtTensor {
  return backend.tensor(t.dtype, t.data, t.shape);
}

const ORT_DTYPES: Readonly<Record<string, DType>> = { float32: 'float32', float64: 'float64', int64: 'int64', bool: 'bool' };

/** Copies an ORT output into a host tensor and disposes the ORT tensor. */
export function fromOrtTensor(name: string, t: OrtTensor): HostTensor {
  try {
    const dtype = ORT_DTYPES[t.type];
    if (!dtype) throw new RoadsterError('E_RUNTIME', `output "${name}" has ORT type ${t.type}, which roadster does not use`);
    const data = (t.data as Float32Array | Float64Array | BigInt64Array | Uint8Array).slice();
    return { dtype, shape: [...t.dims], data };
  } finally {
    t.dispose();
  }
}
