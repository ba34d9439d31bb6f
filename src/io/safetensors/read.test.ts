// Reader tests: the tiny HF fixture models against their MANIFEST.json, file reader = buffer parser, and one
// test per kind of corrupt input, each checking the error code and that the message names the file, the tensor
// and the problem.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openSafetensors, parseSafetensors } from './read.ts';
import { assertRoadsterError, peftFixture, sha256, withTempDir } from './test-support.ts';

interface Manifest {
  num_parameters: number;
  state_dict_keys_in_file: Record<string, number[]>;
  files: Record<string, string>;
  safetensors_metadata: Record<string, string>;
}

for (const model of ['tiny-llama', 'tiny-qwen2']) {
  test(`reads ${model}: names, shapes and metadata match MANIFEST.json`, () => {
    const folder = peftFixture('models', model);
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'MANIFEST.json'), 'utf8')) as Manifest;
    const file = path.join(folder, 'model.safetensors');
    assert.equal(sha256(fs.readFileSync(file)), manifest.files['model.safetensors']);
    const reader = openSafetensors(file);
    try {
      assert.deepEqual(reader.metadata, manifest.safetensors_metadata);
      const shapes = Object.fromEntries(reader.tensorNames().map((name) => [name, [...reader.info(name).shape]]));
      assert.deepEqual(shapes, manifest.state_dict_keys_in_file);
      let parameters = 0;
      for (const name of reader.tensorNames()) {
        const info = reader.info(name);
        assert.equal(info.dtype, 'F32');
        const values = reader.readFloat32(name);
        assert.equal(values.length * 4, info.byteLength);
        assert.ok(values.every(Number.isFinite), name);
        assert.deepEqual(reader.readFloat64(name), Float64Array.from(values));
        parameters += values.length;
      }
      assert.equal(parameters, manifest.num_parameters);
    } finally {
      reader.close();
    }
  });
}

test('parseSafetensors on the same bytes gives the same tensors as openSafetensors', () => {
  const file = peftFixture('models', 'tiny-llama', 'model.safetensors');
  const fromFile = openSafetensors(file);
  const fromBuffer = parseSafetensors(new Uint8Array(fs.readFileSync(file)), 'tiny-llama buffer');
  try {
    assert.deepEqual(fromBuffer.tensorNames(), fromFile.tensorNames());
    assert.deepEqual(fromBuffer.metadata, fromFile.metadata);
    for (const name of fromFile.tensorNames()) {
      assert.deepEqual(fromBuffer.info(name), fromFile.info(name));
      assert.deepEqual(fromBuffer.readFloat32(name), fromFile.readFloat32(name));
    }
  } finally {
    fromFile.close();
  }
});

test('unknown tensor, closed reader, missing file', () => {
  const file = peftFixture('models', 'tiny-llama', 'model.safetensors');
  const reader = openSafetensors(file);
  assert.equal(reader.has('lm_head.weight'), true);
  assertRoadsterError(() => reader.readTensor('nope.weight'), 'E_WEIGHTS', file, '"nope.weight"', '21 tensors');
  reader.close();
  reader.close();
  assertRoadsterError(() => reader.readTensor('lm_head.weight'), 'E_USAGE', 'closed');
  assertRoadsterError(() => openSafetensors(`${file}.missing`), 'E_NOT_FOUND', `${file}.missing`);
});

// ----------------------------------------------------------------------------------------------------------------
// Corrupt inputs. `fileFrom` builds a file from a header (object or raw string) and a data buffer.

function fileFrom(header: object | string, data: Uint8Array, declaredLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

/** Write `bytes` to a temporary file and expect opening it (and parsing the buffer) to fail. */
async function expectCorrupt(bytes: Uint8Array, ...fragments: string[]): Promise<void> {
  await withTempDir((folder) => {
    const file = path.join(folder, 'bad.safetensors');
    fs.writeFileSync(file, bytes);
    assertRoadsterError(() => openSafetensors(file), 'E_SAFETENSORS', file, ...fragments);
    assertRoadsterError(() => parseSafetensors(bytes, 'buffer'), 'E_SAFETENSORS', 'buffer', ...fragments);
  });
}

test('corrupt: file shorter than 8 bytes', async () => {
  await expectCorrupt(new Uint8Array([1, 2, 3, 4, 5]), 'is 5 bytes long', 'at least 8');
});

test('corrupt: header length beyond the end of the file', async () => {
  await expectCorrupt(fileFrom({}, new Uint8Array(0), 1000n), 'header of 1000 bytes', 'only 2 bytes follow');
});

test('corrupt: header length above the 100 MB bound', async () => {
  await expectCorrupt(fileFrom({}, new Uint8Array(0), 2n ** 63n), `header of ${2n ** 63n} bytes`, 'at most 100000000');
});

test('corrupt: header is not valid JSON', async () => {
  await expectCorrupt(fileFrom('{"a": {"dtype": "F32",', new Uint8Array(0)), 'not valid JSON');
});

test('corrupt: header is JSON but not an object', async () => {
  await expectCorrupt(fileFrom('[1, 2]', new Uint8Array(0)), 'expected an object');
});

test('corrupt: unknown dtype', async () => {
  const header = { 'w.weight': { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } };
  await expectCorrupt(fileFrom(header, new Uint8Array(4)), 'tensor "w.weight"', 'unknown dtype "F8_E4M3"');
});

test('corrupt: shape is not a list of non-negative integers', async () => {
  await expectCorrupt(fileFrom({ w: f32([2, -1], 0, 8) }, new Uint8Array(8)), 'tensor "w"', 'shape [2,-1]');
  await expectCorrupt(fileFrom({ w: f32([1.5] as number[], 0, 8) }, new Uint8Array(8)), 'tensor "w"', 'shape');
});

test('corrupt: data_offsets not [begin, end] with begin <= end', async () => {
  await expectCorrupt(fileFrom({ w: f32([1], 8, 4) }, new Uint8Array(8)), 'tensor "w"', 'data_offsets [8,4]');
  await expectCorrupt(fileFrom({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), 'data_offsets [0]');
});

test('corrupt: byte length does not match dtype and shape', async () => {
  const header = { a: f32([2, 3], 0, 20) };
  await expectCorrupt(fileFrom(header, new Uint8Array(20)), 'tensor "a"', 'shape [2, 3], so 24 bytes', 'span 20 bytes');
});

test('corrupt: overlapping offsets', async () => {
  const header = { a: f32([4], 0, 16), b: f32([4], 8, 24) };
  await expectCorrupt(fileFrom(header, new Uint8Array(24)), 'tensor "b"', 'overlaps tensor "a"', '[0, 16]');
});

test('corrupt: a gap between tensors', async () => {
  const header = { a: f32([2], 0, 8), b: f32([2], 12, 20) };
  await expectCorrupt(fileFrom(header, new Uint8Array(20)), 'gap', 'bytes [8, 12)', 'tensor "a" and tensor "b"');
});

test('corrupt: a gap at the start of the data buffer', async () => {
  await expectCorrupt(fileFrom({ a: f32([2], 4, 12) }, new Uint8Array(12)), 'gap', 'start of the data buffer');
});

test('corrupt: trailing bytes after the last tensor', async () => {
  await expectCorrupt(fileFrom({ a: f32([2], 0, 8) }, new Uint8Array(11)), 'gap', '3 bytes', 'last tensor "a"');
});

test('corrupt: offsets beyond the data buffer (truncated data)', async () => {
  const header = { a: f32([2], 0, 8), b: f32([4], 8, 24) };
  await expectCorrupt(fileFrom(header, new Uint8Array(20)), 'tensor "b"', '[8, 24] beyond the end', '(20 bytes)');
});

test('corrupt: __metadata__ must map strings to strings', async () => {
  await expectCorrupt(fileFrom({ __metadata__: { format: 1 } }, new Uint8Array(0)), '"__metadata__"."format"');
  await expectCorrupt(fileFrom({ __metadata__: ['pt'] }, new Uint8Array(0)), '"__metadata__"');
});

test('corrupt: header is not UTF-8', async () => {
  const bytes = fileFrom('{"a":1}', new Uint8Array(0));
  bytes[10] = 0xff;
  await expectCorrupt(bytes, 'not valid UTF-8');
});

test('accepts zero-size tensors, scalars, padding and an empty file', () => {
  const header = { s: f32([], 0, 4), z: f32([0, 3], 4, 4), v: f32([1], 4, 8) };
  const reader = parseSafetensors(fileFrom(`${JSON.stringify(header)}   `, new Uint8Array(new Float32Array([7, 9]).buffer)));
  assert.deepEqual(reader.tensorNames(), ['s', 'z', 'v']);
  assert.deepEqual(reader.readFloat32('s'), new Float32Array([7]));
  assert.deepEqual(reader.readFloat32('z'), new Float32Array(0));
  assert.equal(reader.metadata, undefined);
  assert.deepEqual(parseSafetensors(fileFrom({}, new Uint8Array(0))).tensorNames(), []);
});
