// The runtime around the lowered graphs: session cache, feed validation (E_FEED), ORT failures (E_RUNTIME),
// external data, the float64 optimization-level cap, disposal, and one session serving several bindings.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TOLERANCE, assertAllClose } from '../support/all-close.ts';
import { RoadsterError } from '../../src/errors.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { bool, float32, float64, int64, toNumbers } from '../../src/runtime/host-tensor.ts';
import { Runtime, effectiveLevel } from '../../src/runtime/runtime.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

function affine(w: Float32Array) {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 2]);
  return b.build({ y: x.matmul(b.initializer('w', w, [2, 2])).add(1) });
}

function tokens() {
  const b = new GraphBuilder();
  const ids = b.input('input_ids', 'int64', ['B', 'T']);
  const labels = b.input('labels', 'int64', ['B', 'T']);
  const emb = b.input('emb', 'float32', [5, 3]);
  return b.build({ loss: emb.gather(ids).crossEntropy(labels) });
}

const feedError = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof RoadsterError, String(e));
  assert.equal(e.code, 'E_FEED');
  assert.match(e.message, pattern);
  return true;
};

describe('session cache', () => {
  test('the same graph (same weight arrays) reuses the session; a new weight array makes a new one', async () => {
    const rt = new Runtime({ threads: 1 });
    const w = new Float32Array([1, 0, 0, 1]);
    const a = await rt.compile(affine(w));
    const b = await rt.compile(affine(w)); // traced again: equal structure, same array
    assert.equal(a, b);
    assert.equal(rt.stats.sessionsCreated, 1);
    assert.equal(rt.stats.cacheHits, 1);
    const once = rt.stats.compileMs;
    assert.ok(once > 0, 'the session took time to create');
    const c = await rt.compile(affine(new Float32Array([1, 0, 0, 1])));
    assert.notEqual(c, a);
    assert.equal(rt.stats.sessionsCreated, 2);
    assert.ok(rt.stats.compileMs > once, 'a second session adds its time; cache hits add none');
    const [ra, rc] = await Promise.all([a.run({ x: float32([1, 2], [3, 4]) }), c.run({ x: float32([1, 2], [3, 4]) })]);
    assert.deepEqual(toNumbers(ra.y), toNumbers(rc.y));
    await rt.release();
  });

  test('concurrent compiles of one graph share one session', async () => {
    const rt = new Runtime({ threads: 1 });
    const g = affine(new Float32Array(4));
    const [a, b] = await Promise.all([rt.compile(g), rt.compile(g)]);
    assert.equal(a, b);
    assert.equal(rt.stats.sessionsCreated, 1);
    await rt.release();
  });

  test('dispose forgets the session; run after dispose is a usage error', async () => {
    const rt = new Runtime({ threads: 1 });
    const g = affine(new Float32Array(4));
    const a = await rt.compile(g);
    await a.dispose();
    await a.dispose();
    await assert.rejects(a.run({ x: float32([1, 2]) }), (e: RoadsterError) => e.code === 'E_USAGE');
    const b = await rt.compile(g);
    assert.notEqual(a, b);
    assert.equal(rt.stats.sessionsCreated, 2);
    await rt.release();
    assert.ok(b.disposed);
  });
});

describe('feed validation', () => {
  const feeds = () => ({
    input_ids: int64([2, 3], [0, 1, 2, 3, 4, 0]),
    labels: int64([2, 3], [0, 1, 2, 0, 1, -100]),
    emb: float32([5, 3]),
  });

  test('valid feeds run', async () => {
    const out = await (await runtime.compile(tokens())).run(feeds());
    assert.ok(Math.abs(toNumbers(out.loss)[0] - Math.log(3)) < 1e-6);
  });

  test('missing inputs are listed with the expected inputs', async () => {
    const { emb: _, labels: __, ...rest } = feeds();
    await assert.rejects((await runtime.compile(tokens())).run(rest), feedError(/missing feed\(s\) "labels", "emb".*input_ids: int64\[B, T\], labels: int64\[B, T\], emb: float32\[5, 3\]/));
  });

  test('unknown feed names are named with the valid ones', async () => {
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), attention_mask: bool([2, 3]) }), feedError(/unknown feed\(s\) "attention_mask".*input_ids/));
  });

  test('dtype mismatch', async () => {
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), emb: float64([5, 3]) }), feedError(/"emb": expected dtype float32, got float64/));
  });

  test('typed array that does not match the dtype', async () => {
    const bad = { dtype: 'float32' as const, shape: [5, 3], data: new Float64Array(15) as unknown as Float32Array };
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), emb: bad }), feedError(/"emb".*Float64Array/));
  });

  test('rank mismatch', async () => {
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), labels: int64([6], [0, 1, 2, 3, 4, 0]) }), feedError(/"labels": expected rank 2 \[B, T\], got rank 1 \[6\]/));
  });

  test('static dim mismatch', async () => {
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), emb: float32([4, 3]) }), feedError(/"emb": expected shape \[5, 3\], got \[4, 3\] \(axis 0: 5 vs 4\)/));
  });

  test('a symbol bound to two sizes names both inputs', async () => {
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), labels: int64([3, 2], [0, 1, 2, 3, 4, 0]) }), feedError(/"B" is 2 in input_ids\[2, 3\] axis 0 but 3 in labels\[3, 2\] axis 0/));
  });

  test('data length must equal the shape product', async () => {
    const short = { dtype: 'float32' as const, shape: [5, 3], data: new Float32Array(14) };
    await assert.rejects((await runtime.compile(tokens())).run({ ...feeds(), emb: short }), feedError(/"emb": shape \[5, 3\] needs 15 elements, data has 14/));
  });
});

test('an ORT failure (index out of range) surfaces as E_RUNTIME with the output names', async () => {
  const compiled = await runtime.compile(tokens());
  await assert.rejects(
    compiled.run({ input_ids: int64([1, 1], [9]), labels: int64([1, 1], [0]), emb: float32([5, 3]) }),
    (e: unknown) => e instanceof RoadsterError && e.code === 'E_RUNTIME' && /outputs \[loss\]/.test(e.message) && e.message.length > 60,
  );
});

test('external data (forced by a zero threshold) gives identical outputs', async () => {
  const w = Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i));
  const build = () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['B', 64]);
    return b.build({ y: x.matmul(b.initializer('w', w, [64, 32])).tanh(), bias: b.initializer('bias', new Float32Array([1, 2]), [2]) });
  };
  const x = float32([3, 64], Array.from({ length: 192 }, (_, i) => Math.cos(i)));
  const inline = await runtime.compile(build());
  const external = await runtime.compile(build(), { externalDataThreshold: 0, externalMinBytes: 0 });
  assert.equal(inline.info.externalData, false);
  assert.equal(external.info.externalData, true);
  const [a, b] = await Promise.all([inline.run({ x }), external.run({ x })]);
  assert.deepEqual(a.y.data, b.y.data);
  assert.deepEqual(toNumbers(b.bias), [1, 2]);
});

test('float64 graphs run at level "basic" at most, so x·sigmoid(x) is not fused into QuickGelu', async () => {
  assert.equal(effectiveLevel('all', true), 'basic');
  assert.equal(effectiveLevel('disabled', true), 'disabled');
  assert.equal(effectiveLevel('all', false), 'all');
  const b = new GraphBuilder();
  const compiled = await runtime.compile(b.build({ y: b.input('x', 'float64', ['N']).silu() }));
  assert.equal(compiled.info.optimizationLevel, 'basic');
  const out = await compiled.run({ x: float64([2], [0, Math.log(3)]) });
  assertAllClose(toNumbers(out.y), [0, 0.75 * Math.log(3)], TOLERANCE.float64);
});

test('one compiled graph serves several bindings of its symbols', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['B', 'T', 2]);
  const compiled = await runtime.compile(b.build({ y: x.reshape(['B*T', 2]).slice(0, 1).sum(1) }));
  for (const [B, T] of [[1, 2], [2, 3], [3, 1]]) {
    const n = B * T * 2;
    const out = await compiled.run({ x: float32([B, T, 2], Array.from({ length: n }, (_, i) => i)) });
    assert.deepEqual(out.y.shape, [B * T - 1]);
    assert.deepEqual(toNumbers(out.y), Array.from({ length: B * T - 1 }, (_, r) => 4 * r + 5));
  }
});

test('inputs the outputs do not use must still be fed, and are accepted', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2]);
  b.input('mask', 'bool', ['T']);
  const compiled = await runtime.compile(b.build({ y: x.neg() }));
  assert.deepEqual(compiled.inputs.map((i) => i.name), ['x', 'mask']);
  const out = await compiled.run({ x: float32([2], [1, 2]), mask: bool([3]) });
  assert.deepEqual(toNumbers(out.y), [-1, -2]);
});

test('feeds may be views into larger arrays', async () => {
  const b = new GraphBuilder();
  const compiled = await runtime.compile(b.build({ y: b.input('x', 'float32', [3]).neg() }));
  const whole = new Float32Array([1, 2, 3, 4, 5, 6]);
  const out = await compiled.run({ x: { dtype: 'float32', shape: [3], data: whole.subarray(2, 5) } });
  assert.deepEqual(toNumbers(out.y), [-3, -4, -5]);
});

test('bad runtime options are usage errors', () => {
  assert.throws(() => new Runtime({ threads: 0 }), (e: RoadsterError) => e.code === 'E_USAGE');
  assert.throws(() => new Runtime({ optimizationLevel: 'max' as never }), (e: RoadsterError) => e.code === 'E_USAGE');
});
