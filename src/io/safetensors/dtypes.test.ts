// F16/BF16 conversions against hand-computed bit patterns, exhaustive round trips over every 16-bit pattern,
// a nearest-ties-to-even property check, and typed-array ↔ dtype rules.

import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DTYPES,
  bf16BitsToNumber,
  decodeToFloat32,
  decodeToFloat64,
  encodeFloat32,
  f16BitsToNumber,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  numberToBf16Bits,
  numberToF16Bits,
  tensorDataToBytes,
  type SafetensorsDtype,
} from './dtypes.ts';
import { assertRoadsterError } from './test-support.ts';

test('dtype table: sizes, and ranks in the Rust enum order', () => {
  const sizes = Object.fromEntries(Object.entries(DTYPES).map(([d, info]) => [d, info.byteSize]));
  assert.deepEqual(sizes, { BOOL: 1, U8: 1, I8: 1, I16: 2, F16: 2, BF16: 2, I32: 4, F32: 4, F64: 8, I64: 8 });
  const byRank = (Object.keys(DTYPES) as SafetensorsDtype[]).sort((a, b) => DTYPES[b].rustRank - DTYPES[a].rustRank);
  assert.deepEqual(byRank, ['I64', 'F64', 'F32', 'I32', 'BF16', 'F16', 'I16', 'I8', 'U8', 'BOOL']);
});

test('F16 encode: hand-computed bit patterns', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2.5, 0xc100], // 2.5 = 1.25 · 2^1 → exponent 16, mantissa 0.25 · 1024
    [65504, 0x7bff], // largest finite
    [65519, 0x7bff], // below the halfway point to 65536
    [65520, 0x7c00], // halfway: ties to even (mantissa 0 of exponent 31) is Inf
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -25, 0x0000], // halfway between 0 and 2^-24: ties to even → 0
    [1.5 * 2 ** -25, 0x0001], // above halfway
    [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 units: ties to even → 2
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1 + 2^-10: ties to even → 1
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3C01 and 0x3C02 → even 0x3C02
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e6, 0x7c00], // overflow
    [NaN, 0x7e00], // quiet NaN
  ];
  for (const [value, bits] of cases) assert.equal(numberToF16Bits(value), bits, `f16(${value})`);
  assert.equal(f32BitsToF16Bits(0xffc00000), 0xfe00, 'negative NaN keeps its sign');
  assert.equal(f32BitsToF16Bits(0x7f800001), 0x7e00, 'signalling NaN becomes quiet, not Inf');
});

test('F16 decode: hand-computed values', () => {
  assert.equal(f16BitsToNumber(0x3c00), 1);
  assert.equal(f16BitsToNumber(0xc100), -2.5);
  assert.equal(f16BitsToNumber(0x7bff), 65504);
  assert.equal(f16BitsToNumber(0x0001), 5.960464477539063e-8);
  assert.equal(f16BitsToNumber(0x03ff), 6.097555160522461e-5);
  assert.equal(f16BitsToNumber(0x0400), 6.103515625e-5);
  assert.equal(f16BitsToNumber(0x7c00), Infinity);
  assert.equal(f16BitsToNumber(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16BitsToNumber(0x7e00)));
  assert.ok(Number.isNaN(f16BitsToNumber(0xfc01)));
  assert.ok(Object.is(f16BitsToNumber(0x8000), -0));
});

test('BF16 encode and decode: hand-computed bit patterns', () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [-2.5, 0xc020],
    [0.1, 0x3dcd], // 0x3DCCCCCD: low half 0xCCCD > 0x8000 rounds up
    [1 + 2 ** -8, 0x3f80], // halfway between 1 and 1 + 2^-7: ties to even
    [1 + 3 * 2 ** -8, 0x3f82], // halfway, odd lower neighbour → up
    [1 + 2 ** -8 + 2 ** -20, 0x3f81], // just above halfway
    [3.4028234663852886e38, 0x7f80], // float32 max rounds to Inf
    [2 ** -133, 0x0001], // smallest bf16 subnormal
    [2 ** -149, 0x0000], // smallest f32 subnormal rounds to 0
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [-0, 0x8000],
  ];
  for (const [value, bits] of cases) assert.equal(numberToBf16Bits(value), bits, `bf16(${value})`);
  const decoded: [number, number][] = [
    [0x3f80, 1],
    [0xc020, -2.5],
    [0x3dcd, 0.10009765625], // 0x3DCD0000 = 1.6015625 · 2^-4
    [0x7f80, Infinity],
    [0xff80, -Infinity],
    [0x0001, 2 ** -133],
  ];
  for (const [bits, value] of decoded) assert.equal(bf16BitsToNumber(bits), value, `bf16 ${bits.toString(16)}`);
  assert.equal(numberToBf16Bits(NaN), 0x7fc0);
  assert.equal(f32BitsToBf16Bits(0x7f800001), 0x7fc0, 'signalling NaN becomes quiet, not Inf');
  assert.equal(f32BitsToBf16Bits(0x7fffffff), 0x7fff, 'payload all ones must not carry into a wrong value');
  assert.equal(f32BitsToBf16Bits(0xffc00000), 0xffc0, 'negative NaN keeps its sign');
  assert.ok(Number.isNaN(bf16BitsToNumber(0x7fc1)));
});

test('every F16 and BF16 bit pattern decodes and re-encodes to itself (NaN to a NaN)', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const bytes = new Uint8Array(all.buffer);
  for (const dtype of ['F16', 'BF16'] as const) {
    const values = decodeToFloat32(bytes, dtype);
    const wide = decodeToFloat64(bytes, dtype);
    const back = new Uint16Array(encodeFloat32(values, dtype).buffer);
    const decode = dtype === 'F16' ? f16BitsToNumber : bf16BitsToNumber;
    for (let i = 0; i < 65536; i++) {
      const exact = decode(i);
      if (Number.isNaN(exact)) {
        assert.ok(Number.isNaN(values[i]) && Number.isNaN(wide[i]) && Number.isNaN(decode(back[i])), `${dtype} ${i}`);
      } else {
        assert.ok(Object.is(values[i], exact) && Object.is(wide[i], exact), `${dtype} decode ${i.toString(16)}`);
        assert.equal(back[i], i, `${dtype} round trip ${i.toString(16)}`);
      }
    }
  }
});

test('F16 and BF16 encoding picks the nearest value, ties to even (random float32 values)', () => {
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  // |x| in [2^-26, 2^15): F16 subnormals, normals, and no overflow.
  const values = new Float32Array(20000).map((_, i) => (i % 2 ? -1 : 1) * 2 ** (random() * 40 - 26) * (1 + random()));
  for (const [dtype, decode] of [['F16', f16BitsToNumber], ['BF16', bf16BitsToNumber]] as const) {
    const bits = new Uint16Array(encodeFloat32(values, dtype).buffer);
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      const h = bits[i];
      const error = Math.abs(decode(h) - x);
      for (const neighbour of [h - 1, h + 1]) {
        if ((neighbour & 0x7fff) >= (dtype === 'F16' ? 0x7c00 : 0x7f80) || (neighbour & 0x8000) !== (h & 0x8000)) continue;
        const other = Math.abs(decode(neighbour) - x);
        assert.ok(error < other || (error === other && (h & 1) === 0), `${dtype}(${x}) = ${h.toString(16)}`);
      }
    }
  }
});

test('decodeToFloat32 handles unaligned views and rejects integer dtypes', () => {
  const f32 = new Float32Array([1.5, -2, 3.25]);
  const unaligned = new Uint8Array(13);
  unaligned.set(new Uint8Array(f32.buffer), 1);
  assert.deepEqual(decodeToFloat32(unaligned.subarray(1), 'F32'), f32);
  assert.deepEqual(decodeToFloat64(new Uint8Array(new Float64Array([0.1, 2]).buffer), 'F64'), new Float64Array([0.1, 2]));
  assert.deepEqual(decodeToFloat32(new Uint8Array(new Float64Array([0.1]).buffer), 'F64'), new Float32Array([0.1]));
  assertRoadsterError(() => decodeToFloat32(new Uint8Array(4), 'I32'), 'E_DTYPE', 'I32');
  assertRoadsterError(() => decodeToFloat32(new Uint8Array(3), 'F32'), 'E_DTYPE', '3 bytes');
});

test('tensorDataToBytes: typed arrays must fit the dtype', () => {
  const f32 = new Float32Array([1, -2.5]);
  assert.deepEqual(tensorDataToBytes(f32, 'BF16'), new Uint8Array([0x80, 0x3f, 0x20, 0xc0]));
  assert.deepEqual(tensorDataToBytes(f32, 'F16'), new Uint8Array([0x00, 0x3c, 0x00, 0xc1]));
  assert.deepEqual(tensorDataToBytes(new Uint16Array([0x3c00]), 'F16'), new Uint8Array([0x00, 0x3c]));
  assert.deepEqual(tensorDataToBytes(new BigInt64Array([-1n]), 'I64'), new Uint8Array(8).fill(255));
  assertRoadsterError(() => tensorDataToBytes(new Int32Array(1), 'F32'), 'E_DTYPE', 'Int32Array', 'F32');
  assertRoadsterError(() => tensorDataToBytes(f32, 'I32'), 'E_DTYPE', 'Float32Array');
  assertRoadsterError(() => tensorDataToBytes(new Float64Array(1), 'F32'), 'E_DTYPE', 'Float64Array');
});
