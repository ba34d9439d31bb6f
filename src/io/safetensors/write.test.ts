// Writer tests: byte identity with every PEFT fixture adapter file and the tiny models (the sha256 Python
// recorded, the exact header string and the file bytes), the Rust crate's own serialization vectors, tensor
// ordering across dtypes and names, a round trip of every dtype, and atomic writes.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { writeFileAtomically } from './atomic-write.ts';
import { DTYPES, type SafetensorsDtype } from './dtypes.ts';
import { openSafetensors, parseSafetensors } from './read.ts';
import { assertRoadsterError, peftFixture, sha256, withTempDir } from './test-support.ts';
import { serializeSafetensors, writeSafetensors, type TensorToWrite } from './write.ts';

interface SavedAdapter {
  dir: string;
  safetensors_header_raw: string;
  safetensors_tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  safetensors_metadata: Record<string, string>;
  sha256: string;
}

/** Every tensor of a file as writer input, in reverse file order (so the writer's sort is exercised). */
function tensorsOf(file: string): { tensors: TensorToWrite[]; metadata: Record<string, string> | undefined } {
  const reader = openSafetensors(file);
  try {
    const tensors = reader.tensorNames().reverse().map((name) => ({ name, ...reader.readTensor(name) }));
    return { tensors, metadata: reader.metadata ? { ...reader.metadata } : undefined };
  } finally {
    reader.close();
  }
}

function headerText(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

for (const fixtureCase of ['llama_road1_g8_qv', 'qwen2_road4_g8_qv', 'lora_llama_r4_a8_qv']) {
  const saved = JSON.parse(fs.readFileSync(peftFixture(`${fixtureCase}.json`), 'utf8'))
    .saved_adapters as Record<string, SavedAdapter>;
  for (const [adapterName, adapter] of Object.entries(saved)) {
    test(`re-serializing ${fixtureCase} adapter "${adapterName}" is byte-identical to PEFT's file`, () => {
      const file = peftFixture(adapter.dir, 'adapter_model.safetensors');
      const original = new Uint8Array(fs.readFileSync(file));
      assert.equal(sha256(original), adapter.sha256, 'fixture copy matches the recorded sha256');
      const { tensors, metadata } = tensorsOf(file);
      assert.deepEqual(metadata, adapter.safetensors_metadata);
      const bytes = serializeSafetensors(tensors, metadata);
      assert.equal(headerText(bytes), adapter.safetensors_header_raw);
      assert.equal(sha256(bytes), adapter.sha256);
      assert.deepEqual(bytes, original);
      const reread = parseSafetensors(bytes);
      const table = Object.fromEntries(
        reread.tensorNames().map((name) => {
          const info = reread.info(name);
          return [name, { dtype: info.dtype, shape: info.shape, data_offsets: info.dataOffsets }];
        }),
      );
      assert.deepEqual(table, adapter.safetensors_tensors);
    });
  }
}

for (const model of ['tiny-llama', 'tiny-qwen2']) {
  test(`re-serializing the ${model} model is byte-identical to transformers' file`, () => {
    const folder = peftFixture('models', model);
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'MANIFEST.json'), 'utf8'));
    const { tensors, metadata } = tensorsOf(path.join(folder, 'model.safetensors'));
    assert.equal(sha256(serializeSafetensors(tensors, metadata)), manifest.files['model.safetensors']);
  });
}

test("matches the Rust crate's serialization test vectors", () => {
  // safetensors/src/tensor.rs tests: test_serialization, test_empty, test_serialization_forced_alignement.
  const data = new Float32Array([0, 1, 2, 3, 4, 5]);
  const one = serializeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data }]);
  assert.equal(headerText(one), '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}');
  assert.deepEqual([...one.subarray(0, 8)], [64, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(one.subarray(72), new Uint8Array(data.buffer));
  const padded = serializeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data }]);
  assert.equal(headerText(padded), `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}${' '.repeat(7)}`);
  assert.deepEqual([...serializeSafetensors([])], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  const withMeta = serializeSafetensors({}, { framework: 'pt' });
  assert.equal(headerText(withMeta), '{"__metadata__":{"framework":"pt"}}     ');
  assert.equal(withMeta.byteLength, 48);
});

test('orders tensors by Rust dtype rank, then by name in code-point order', () => {
  const dtypes = Object.keys(DTYPES) as SafetensorsDtype[];
  const tensors: TensorToWrite[] = dtypes.map((dtype) => ({
    name: `t_${dtype}`,
    dtype,
    shape: [3],
    data: new Uint8Array(3 * DTYPES[dtype].byteSize),
  }));
  // Same dtype: byte order puts "B" < "a" < "é" < "\uFF5E" < "😀" (JS's UTF-16 `<` would put "😀" first).
  for (const name of ['😀', '\uFF5E', 'é', 'a', 'B']) tensors.push({ name, dtype: 'F32', shape: [1], data: new Float32Array(1) });
  const reader = parseSafetensors(serializeSafetensors(tensors));
  assert.deepEqual(reader.tensorNames(), [
    't_I64', 't_F64', 'B', 'a', 't_F32', 'é', '\uFF5E', '😀', 't_I32', 't_BF16', 't_F16', 't_I16', 't_I8', 't_U8', 't_BOOL',
  ]);
});

test('escapes names as serde_json does: quotes, backslashes, control characters; UTF-8 kept raw', () => {
  const name = 'a"b\\c\nd\u0001é/';
  const bytes = serializeSafetensors([{ name, dtype: 'U8', shape: [1], data: new Uint8Array([7]) }]);
  assert.ok(headerText(bytes).startsWith('{"a\\"b\\\\c\\nd\\u0001é/":'));
  assert.deepEqual(parseSafetensors(bytes).tensorNames(), [name]);
});

test('round trip of every dtype through a file', async () => {
  const values = [0, 1, -2.5, 65504, 2 ** -24, 0.1, Infinity, -0];
  const tensors: TensorToWrite[] = [
    { name: 'f64', dtype: 'F64', shape: [2, 4], data: new Float64Array(values) },
    { name: 'f32', dtype: 'F32', shape: [8], data: new Float32Array(values) },
    { name: 'f16', dtype: 'F16', shape: [4, 2], data: new Float32Array(values) },
    { name: 'bf16', dtype: 'BF16', shape: [8, 1], data: new Float32Array(values) },
    { name: 'i64', dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 0n, 2n ** 53n + 1n]) },
    { name: 'i32', dtype: 'I32', shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
    { name: 'i16', dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
    { name: 'i8', dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
    { name: 'u8', dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) },
    { name: 'bool', dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([42]) },
    { name: 'empty', dtype: 'F16', shape: [0, 5], data: new Uint16Array(0) },
  ];
  await withTempDir((folder) => {
    const file = path.join(folder, 'all.safetensors');
    writeSafetensors(file, tensors, { format: 'pt', note: 'ünïcode' });
    const inMemory = serializeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    assert.deepEqual(new Uint8Array(fs.readFileSync(file)), inMemory);
    const reader = openSafetensors(file);
    try {
      assert.deepEqual(reader.metadata, { format: 'pt', note: 'ünïcode' });
      for (const t of tensors) {
        const raw = reader.readTensor(t.name);
        assert.equal(raw.dtype, t.dtype);
        assert.deepEqual(raw.shape, t.shape);
      }
      const expected = Float64Array.from(values);
      assert.deepEqual(reader.readFloat64('f64'), expected);
      assert.deepEqual(reader.readFloat64('f32'), Float64Array.from(new Float32Array(values)));
      assert.deepEqual(reader.readFloat64('f16'), expected.map((v) => (v === 0.1 ? 0.0999755859375 : v)));
      // BF16 keeps 8 mantissa bits: 65504 rounds to 65536 and 0.1 to 0.10009765625.
      const bf16 = values.map((v) => (v === 65504 ? 65536 : v === 0.1 ? 0.10009765625 : v));
      assert.deepEqual(reader.readFloat32('bf16'), new Float32Array(bf16));
      assert.deepEqual(new BigInt64Array(reader.readTensor('i64').data.buffer), tensors[4].data);
      assert.deepEqual(new Int32Array(reader.readTensor('i32').data.buffer), tensors[5].data);
      assert.deepEqual(new Int16Array(reader.readTensor('i16').data.buffer), tensors[6].data);
      assert.deepEqual(new Int8Array(reader.readTensor('i8').data.buffer), tensors[7].data);
      assert.deepEqual(reader.readTensor('u8').data, tensors[8].data);
      assert.deepEqual(reader.readTensor('bool').data, tensors[9].data);
      assert.deepEqual(reader.readFloat32('scalar'), new Float32Array([42]));
      assert.equal(reader.readFloat32('empty').length, 0);
      assertRoadsterError(() => reader.readFloat32('i32'), 'E_DTYPE', file, 'tensor "i32"', 'I32');
    } finally {
      reader.close();
    }
  });
});

test('rejects bad writer input before touching the disk', () => {
  const ok = { dtype: 'F32' as const, shape: [2], data: new Float32Array(2) };
  assertRoadsterError(() => serializeSafetensors({ w: { ...ok, shape: [3] } }), 'E_USAGE', 'tensor "w"', 'needs 12 bytes', 'has 8');
  assertRoadsterError(() => serializeSafetensors([{ name: 'w', ...ok }, { name: 'w', ...ok }]), 'E_USAGE', 'given twice');
  assertRoadsterError(() => serializeSafetensors({ __metadata__: ok }), 'E_USAGE', 'reserved');
  assertRoadsterError(() => serializeSafetensors({ w: { ...ok, dtype: 'U64' as SafetensorsDtype } }), 'E_DTYPE', 'tensor "w"', 'U64');
  assertRoadsterError(() => serializeSafetensors({ w: { ...ok, data: new Int32Array(2) } }), 'E_DTYPE', 'tensor "w"', 'Int32Array');
  assertRoadsterError(() => serializeSafetensors({ w: ok }, { n: 1 as unknown as string }), 'E_USAGE', 'metadata "n"');
});

test('atomic write: no temporary file left, target replaced', async () => {
  await withTempDir((folder) => {
    const file = path.join(folder, 'adapter_model.safetensors');
    fs.writeFileSync(file, 'old');
    writeSafetensors(file, { w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    assert.deepEqual(fs.readdirSync(folder), ['adapter_model.safetensors']);
    assert.deepEqual(parseSafetensors(fs.readFileSync(file)).readFloat32('w'), new Float32Array([1]));
  });
});

test('atomic write: a failing serialization leaves the target untouched and no temporary file', async () => {
  await withTempDir((folder) => {
    const file = path.join(folder, 'model.safetensors');
    fs.writeFileSync(file, 'old content');
    const bad = { w: { dtype: 'F32' as const, shape: [4], data: new Float32Array(1) } };
    assertRoadsterError(() => writeSafetensors(file, bad), 'E_USAGE', 'tensor "w"');
    function* failing(): Generator<Uint8Array> {
      yield new Uint8Array(1000);
      throw new Error('disk on fire');
    }
    assert.throws(() => writeFileAtomically(file, failing()), /disk on fire/);
    assert.deepEqual(fs.readdirSync(folder), ['model.safetensors']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'old content');
    const missing = path.join(folder, 'no', 'such', 'x.safetensors');
    assertRoadsterError(() => writeSafetensors(missing, {}), 'E_NOT_FOUND', 'does not exist');
  });
});
