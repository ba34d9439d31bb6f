// GGUF writer and reader: byte layout of a small file checked field by field against the format description,
// every metadata value type round-trips, tensors round-trip in F32 and F16 (round to nearest even) at aligned
// offsets, and malformed files and inputs are refused with E_GGUF.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RoadsterError } from '../../errors.ts';
import { numberToF16Bits, f16BitsToNumber } from '../safetensors/dtypes.ts';
import { GGUF_MAGIC, GgmlType, GgufValueType, gguf, parseGguf, serializeGguf, type GgufValue } from './index.ts';

function bytesOf(metadata: Map<string, GgufValue>, tensors: Parameters<typeof serializeGguf>[1]): Uint8Array {
  const chunks = [...serializeGguf(metadata, tensors)];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) out.set(c, at), (at += c.length);
  return out;
}

const isGgufError = (e: unknown) => e instanceof RoadsterError && e.code === 'E_GGUF';

describe('GGUF layout', () => {
  test('header, one key, one tensor info, padding and data, byte by byte', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const bytes = bytesOf(new Map([['a', gguf.u32(7)]]), [{ name: 'w', type: GgmlType.F32, shape: [2, 3], data }]);
    const v = new DataView(bytes.buffer);
    let at = 0;
    const u32 = () => ((at += 4), v.getUint32(at - 4, true));
    const u64 = () => ((at += 8), Number(v.getBigUint64(at - 8, true)));
    const str = () => {
      const n = u64();
      at += n;
      return new TextDecoder().decode(bytes.subarray(at - n, at));
    };
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'GGUF');
    assert.equal(u32(), GGUF_MAGIC);
    assert.equal(u32(), 3); // version
    assert.equal(u64(), 1); // tensors
    assert.equal(u64(), 1); // metadata pairs
    assert.equal(str(), 'a');
    assert.equal(u32(), GgufValueType.UINT32);
    assert.equal(u32(), 7);
    assert.equal(str(), 'w');
    assert.equal(u32(), 2); // n_dims
    assert.deepEqual([u64(), u64()], [3, 2]); // innermost first
    assert.equal(u32(), GgmlType.F32);
    assert.equal(u64(), 0); // offset in the data section
    const dataStart = Math.ceil(at / 32) * 32;
    assert.ok(bytes.subarray(at, dataStart).every((b) => b === 0), 'zero padding before the data');
    assert.deepEqual(new Float32Array(bytes.buffer.slice(dataStart, dataStart + 24)), data);
    assert.equal(bytes.length, dataStart + 32, 'the last tensor is padded to the alignment');
  });

  test('every value type round-trips, in order', () => {
    const metadata = new Map<string, GgufValue>([
      ['u8', { type: GgufValueType.UINT8, value: 255 }],
      ['i8', { type: GgufValueType.INT8, value: -128 }],
      ['u16', { type: GgufValueType.UINT16, value: 65535 }],
      ['i16', { type: GgufValueType.INT16, value: -32768 }],
      ['u32', gguf.u32(4294967295)],
      ['i32', gguf.i32(-2147483648)],
      ['f32', gguf.f32(0.5)],
      ['f64', { type: GgufValueType.FLOAT64, value: Math.PI }],
      ['bool', gguf.bool(true)],
      ['str', gguf.str('h\u00e9llo \ud83d\ude00')],
      ['u64', gguf.u64(2n ** 64n - 1n)],
      ['i64', { type: GgufValueType.INT64, value: -(2n ** 63n) }],
      ['strings', gguf.strings(['a', '', 'Ġt he'])],
      ['ints', gguf.i32s([1, -2, 3])],
      ['empty', gguf.strings([])],
    ]);
    const file = parseGguf(bytesOf(metadata, []));
    assert.deepEqual([...file.metadata.keys()], [...metadata.keys()]);
    for (const [key, value] of metadata) assert.deepEqual(file.get(key), value, key);
    assert.equal(file.tensors.length, 0);
  });

  test('F32 and F16 tensors at aligned offsets; F16 rounds to nearest even; general.alignment is honoured', () => {
    const a = Float32Array.from({ length: 5 }, (_, i) => i / 3);
    const b = Float32Array.from([1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, -0.1, 2 ** -24]);
    for (const alignment of [undefined, 64]) {
      const metadata = new Map<string, GgufValue>(alignment ? [['general.alignment', gguf.u32(alignment)]] : []);
      const file = parseGguf(bytesOf(metadata, [
        { name: 'a', type: GgmlType.F32, shape: [5], data: a },
        { name: 'b', type: GgmlType.F16, shape: [3, 2], data: b },
      ]));
      assert.equal(file.alignment, alignment ?? 32);
      assert.equal(file.dataOffset % file.alignment, 0);
      assert.deepEqual(file.tensors.map((t) => [t.name, t.type, t.offset, t.dims, t.shape]), [
        ['a', GgmlType.F32, 0, [5], [5]],
        ['b', GgmlType.F16, file.alignment, [2, 3], [3, 2]],
      ]);
      assert.deepEqual(file.tensorData('a'), a);
      assert.deepEqual(file.tensorData('b'), Float32Array.from(b, (x) => f16BitsToNumber(numberToF16Bits(x))));
      assert.deepEqual([...file.tensorData('b').subarray(0, 3)], [1, 1, 1 + 2 * 2 ** -10]); // ties to even
    }
  });
});

describe('GGUF errors', () => {
  const good = bytesOf(new Map([['k', gguf.str('v')]]), [{ name: 't', type: GgmlType.F32, shape: [4], data: new Float32Array(4) }]);

  test('wrong magic, unsupported version, truncation', () => {
    const magic = good.slice();
    magic[0] = 0x58;
    assert.throws(() => parseGguf(magic), (e) => isGgufError(e) && /not a GGUF file/.test((e as Error).message));
    const version = good.slice();
    new DataView(version.buffer).setUint32(4, 9, true);
    assert.throws(() => parseGguf(version), (e) => isGgufError(e) && /version 9/.test((e as Error).message));
    for (const cut of [3, 20, 40, parseGguf(good).dataOffset + 8]) assert.throws(() => parseGguf(good.subarray(0, cut)), isGgufError, `cut at ${cut}`);
  });

  test('unknown names and undecoded types are refused when read', () => {
    const file = parseGguf(good);
    assert.throws(() => file.tensorData('missing'), isGgufError);
  });

  test('the writer refuses bad names, shapes, sizes, values and alignments', () => {
    const t = (over: object) => [{ name: 't', type: GgmlType.F32, shape: [2], data: new Float32Array(2), ...over }];
    assert.throws(() => serializeGguf(new Map(), t({ name: 'x'.repeat(64) })), isGgufError);
    assert.throws(() => serializeGguf(new Map(), [...t({}), ...t({})]), isGgufError);
    assert.throws(() => serializeGguf(new Map(), t({ shape: [3] })), isGgufError);
    assert.throws(() => serializeGguf(new Map(), t({ shape: [1, 1, 1, 1, 2] })), isGgufError);
    assert.throws(() => serializeGguf(new Map(), t({ type: 8 })), isGgufError);
    assert.throws(() => serializeGguf(new Map([['k', gguf.u32(-1)]]), []), isGgufError);
    assert.throws(() => serializeGguf(new Map([['k', gguf.u32(1.5)]]), []), isGgufError);
    assert.throws(() => serializeGguf(new Map([['general.alignment', gguf.u32(48)]]), []), isGgufError);
  });
});
