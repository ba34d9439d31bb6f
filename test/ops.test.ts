// Every op, run through ONNX Runtime: forward results against the float64 reference interpreter (float32 and
// float64 graphs), and gradients against central finite differences in float64 (relative error <= 1e-6).
// One compiled graph serves every binding of the symbolic dims.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { evalShape } from '../src/graph/dim.ts';
import type { DType } from '../src/graph/dtype.ts';
import { ALL_OPS, Op } from '../src/graph/ops.ts';
import { GraphBuilder, type Tensor } from '../src/graph/tracer.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { TOLERANCE, assertAllClose } from './support/all-close.ts';
import { checkGradients } from './support/grad-check.ts';
import { OP_CASES, type OpCase } from './support/op-cases.ts';
import { Rng } from './support/random.ts';
import { type RefTensor, evaluateReference } from './support/reference.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

function trace(c: OpCase, floatType: DType, withLoss: boolean) {
  const b = new GraphBuilder();
  const xs = c.inputs.map((s) => b.input(s.name, s.kind === 'float' ? floatType : s.kind, s.shape));
  const y: Tensor = c.fn(...xs);
  if (!withLoss) return b.build({ out: y });
  // A smooth scalar of y whose cotangent, cos(1.3y + 0.7) - 1.3y sin(1.3y + 0.7), differs per element.
  return b.build({ out: y, loss: y.mul(y.mul(1.3).add(0.7).cos()).sum() });
}

function makeFeeds(c: OpCase, binding: Record<string, number>, floatType: DType, rng: Rng): Record<string, HostTensor> {
  const env = new Map(Object.entries(binding));
  const feeds: Record<string, HostTensor> = {};
  for (const s of c.inputs) {
    const shape = evalShape(s.shape, env);
    const n = shape.reduce((a, d) => a * d, 1);
    const [lo, hi] = s.range ?? [0, 1];
    const values = s.values ? s.values(shape) : Array.from({ length: n }, () => (s.kind === 'float' ? rng.uniform(lo, hi) : s.kind === 'int64' ? rng.int(lo, hi) : rng.int(0, 1)));
    switch (s.kind) {
      case 'float':
        feeds[s.name] = { dtype: floatType, shape, data: floatType === 'float32' ? Float32Array.from(values) : Float64Array.from(values) };
        break;
      case 'int64':
        feeds[s.name] = { dtype: 'int64', shape, data: BigInt64Array.from(values, (v) => BigInt(v)) };
        break;
      case 'bool':
        feeds[s.name] = { dtype: 'bool', shape, data: Uint8Array.from(values) };
        break;
    }
  }
  return feeds;
}

function toRef(t: HostTensor): RefTensor {
  return { shape: [...t.shape], data: t.data instanceof Float32Array ? Float64Array.from(t.data) : t.data };
}
const numbers = (data: HostTensor['data'] | RefTensor['data']) => Array.from(data as ArrayLike<number | bigint>, Number);

describe('op forward: ONNX Runtime vs float64 reference', () => {
  for (const op of ALL_OPS) {
    for (const c of OP_CASES[op]) {
      for (const floatType of ['float32', 'float64'] as const) {
        test(`${op}: ${c.name} (${floatType})`, async () => {
          const graph = trace(c, floatType, false);
          const compiled = await runtime.compile(graph);
          const rng = new Rng(1234);
          for (const binding of c.bindings) {
            const feeds = makeFeeds(c, binding, floatType, rng);
            const { out: y } = await compiled.run(feeds);
            const ref = evaluateReference(graph, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toRef(v)]))).out;
            assert.deepEqual([...y.shape], ref.shape, 'shape');
            const tol = y.dtype === 'float32' ? TOLERANCE.float32 : TOLERANCE.float64;
            assertAllClose(numbers(y.data), numbers(ref.data), tol, `${c.name} ${JSON.stringify(binding)}`);
          }
        });
      }
    }
  }
});

describe('op gradients: autodiff vs central finite differences (float64)', () => {
  for (const op of ALL_OPS) {
    for (const c of OP_CASES[op].filter((k) => k.differentiable)) {
      test(`${op}: ${c.name}`, async () => {
        const forward = trace(c, 'float64', true);
        const wrt = c.inputs.filter((s) => s.kind === 'float').map((s) => s.name);
        const rng = new Rng(99);
        for (const binding of c.bindings) {
          await checkGradients(runtime, forward, makeFeeds(c, binding, 'float64', rng), wrt, { what: `${c.name} ${JSON.stringify(binding)}` });
        }
      });
    }
  }
});

test('every op has forward cases, and every differentiable op a gradient case', () => {
  const nonDifferentiable = new Set<Op>([Op.Equal, Op.Less, Op.LessEqual, Op.Greater, Op.GreaterEqual, Op.And, Op.Or, Op.Not]);
  for (const op of ALL_OPS) {
    const cases = OP_CASES[op] ?? [];
    assert.ok(cases.length > 0, `${op} has no test case`);
    if (!nonDifferentiable.has(op)) assert.ok(cases.some((c) => c.differentiable), `${op} has no gradient check`);
  }
});
