// Serialization: inline models round-trip through protobuf; past the threshold, initializers move to external
// data at 4096-aligned offsets whose bytes are the host arrays.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../tracer.ts';
import { lowerToOnnx } from './lower.ts';
import { onnx } from './proto.ts';
import { serializeModel } from './serialize.ts';

function model() {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 3]);
  const w = b.initializer('w', Float32Array.from({ length: 6 }, (_, i) => i + 1), [3, 2]);
  const bias = b.initializer('bias', new Float32Array([0.5, -0.5]), [2]);
  return lowerToOnnx(b.build({ y: x.matmul(w).add(bias) })).model;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.byteLength) - c.byteLength);
  return out;
}

describe('serializeModel', () => {
  test('inline below the threshold; decodes back to the same graph', () => {
    const s = serializeModel(model());
    assert.equal(s.kind, 'inline');
    if (s.kind !== 'inline') return;
    const graph = onnx.ModelProto.decode(s.bytes).graph!;
    assert.deepEqual(graph.node!.map((n) => n.opType), ['MatMul', 'Add']);
    const w = graph.initializer!.find((t) => t.name === 'w')!;
    assert.deepEqual([...new Float32Array(Uint8Array.from(w.rawData!).buffer)], [1, 2, 3, 4, 5, 6]);
  });

  test('external data above the threshold: aligned offsets, exact bytes, no raw_data left inline', () => {
    const s = serializeModel(model(), { externalDataThreshold: 0, externalMinBytes: 0, location: 'm.data' });
    assert.equal(s.kind, 'external');
    if (s.kind !== 'external') return;
    const data = concat(s.externalData);
    assert.equal(data.byteLength, s.externalBytes);
    const decoded = onnx.ModelProto.decode(s.onnxBytes);
    const expected: Record<string, number[]> = { w: [1, 2, 3, 4, 5, 6], bias: [0.5, -0.5] };
    const moved = decoded.graph!.initializer!.filter((t) => t.name! in expected);
    assert.equal(moved.length, 2);
    for (const t of moved) {
      assert.equal(t.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
      assert.equal(t.rawData?.byteLength ?? 0, 0);
      const entry = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
      assert.equal(entry.location, 'm.data');
      const offset = Number(entry.offset);
      assert.equal(offset % 4096, 0);
      const bytes = data.slice(offset, offset + Number(entry.length));
      assert.deepEqual([...new Float32Array(bytes.buffer)], expected[t.name!]);
    }
  });

  test('small initializers stay inline under externalMinBytes', () => {
    const s = serializeModel(model(), { externalDataThreshold: 0, externalMinBytes: 16 });
    assert.equal(s.kind, 'external');
    if (s.kind !== 'external') return;
    const decoded = onnx.ModelProto.decode(s.onnxBytes);
    const bias = decoded.graph!.initializer!.find((t) => t.name === 'bias')!;
    assert.equal(bias.rawData!.byteLength, 8);
    assert.equal(s.externalBytes, 24);
  });
});
