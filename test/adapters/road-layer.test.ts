// Every case of road_layer_unit.json (variants road_1/2/4 × group sizes 2, 4, 8, 16): columns, the rotation,
// the dense R, a real road.Linear's output, θ/α gradients (traced graph + autodiff through ONNX Runtime, and the host
// chain rule from c̄ and s̄ that training uses), merged weights and bias, and unmerge back to the original.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { applyRoadTraced, roadColumnsTraced } from '../../src/adapters/road/graph.ts';
import { type RoadVariant, applyRoadRows, denseR, mergeRows, roadColumnGrads, roadColumns, unmergeRows } from '../../src/adapters/road/math.ts';
import { grad, gradName } from '../../src/graph/autodiff.ts';
import { GraphBuilder } from '../../src/graph/tracer.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { TOLERANCE, assertAllClose } from '../support/all-close.ts';
import { fixture, flat } from '../support/fixtures.ts';

interface UnitCase {
  variant: RoadVariant;
  group_size: number;
  out_features: number;
  in_features: number;
  theta: number[];
  alpha: number[];
  apply_road: { x: number[][]; y: number[][] };
  prepare_cols: { first_col: number[]; second_col: number[] };
  delta_weight_R: number[][];
  linear_module: {
    weight: number[][];
    bias: number[];
    input: number[][];
    output: number[][];
    upstream_grad: number[][];
    grad_theta: number[];
    grad_alpha: number[];
    merged_weight: number[][];
    merged_bias: number[];
    output_after_merge: number[][];
  };
}

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());
const cases: UnitCase[] = fixture('road_layer_unit.json').cases;
const f32 = { rtol: 2e-6, atol: 1e-6 };

describe('RoAd layer math matches PEFT (road_layer_unit.json)', () => {
  test('covers every variant and group size', () => {
    const seen = new Set(cases.map((c) => `${c.variant}/${c.group_size}`));
    for (const v of ['road_1', 'road_2', 'road_4']) for (const g of [2, 4, 8, 16]) assert.ok(seen.has(`${v}/${g}`), `${v}/${g}`);
  });

  for (const c of cases) {
    const name = `${c.variant}, group ${c.group_size}`;
    const theta = Float32Array.from(c.theta);
    const alpha = Float32Array.from(c.alpha);
    const d = c.out_features;

    test(`${name}: columns, rotation and dense R`, () => {
      const { c: first, s: second } = roadColumns(c.variant, c.group_size, theta, alpha);
      assertAllClose(first, c.prepare_cols.first_col, f32, 'first_col');
      assertAllClose(second, c.prepare_cols.second_col, f32, 'second_col');
      assertAllClose(applyRoadRows(Float64Array.from(flat(c.apply_road.x)), d, c.group_size, first, second), flat(c.apply_road.y), f32, 'apply_road');
      assertAllClose(denseR(c.group_size, first, second), flat(c.delta_weight_R), f32, 'R');
    });

    test(`${name}: merge and unmerge pair by pair`, () => {
      const lm = c.linear_module;
      const { c: first, s: second } = roadColumns(c.variant, c.group_size, theta, alpha);
      const w = Float64Array.from(flat(lm.weight));
      const b = Float64Array.from(lm.bias);
      mergeRows(w, c.in_features, c.group_size, first, second);
      mergeRows(b, 1, c.group_size, first, second);
      assertAllClose(w, flat(lm.merged_weight), f32, 'merged weight');
      assertAllClose(b, lm.merged_bias, f32, 'merged bias');
      unmergeRows(w, c.in_features, c.group_size, first, second);
      unmergeRows(b, 1, c.group_size, first, second);
      assertAllClose(w, flat(lm.weight), TOLERANCE.float64, 'unmerged weight');
      assertAllClose(b, lm.bias, TOLERANCE.float64, 'unmerged bias');
    });

    for (const dtype of ['float32', 'float64'] as const) {
      test(`${name}: traced road.Linear output and θ/α gradients (${dtype})`, async () => {
        const lm = c.linear_module;
        const arr = (v: number[]) => (dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v));
        const b = new GraphBuilder();
        const x = b.input('x', dtype, ['B', c.in_features]);
        const up = b.input('upstream', dtype, ['B', d]);
        const th = b.input('theta', dtype, [c.theta.length]);
        const al = b.input('alpha', dtype, [c.alpha.length]);
        const w = b.initializer('weight', arr(flat(lm.weight)), [d, c.in_features]);
        const bias = b.initializer('bias', arr(lm.bias), [d]);
        const h = x.matmul(w, { transB: true }).add(bias); // [B, d]
        const cols = roadColumnsTraced(c.variant, c.group_size, d, th, al);
        const y = applyRoadTraced(h, cols.c, cols.s, c.group_size); // [B, d]
        const graph = grad(b.build({ y, objective: y.mul(up).sum() }), 'objective', ['theta', 'alpha']);
        const compiled = await runtime.compile(graph);
        const rows = lm.input.length;
        const out = await compiled.run({
          x: { dtype, shape: [rows, c.in_features], data: arr(flat(lm.input)) },
          upstream: { dtype, shape: [rows, d], data: arr(flat(lm.upstream_grad)) },
          theta: { dtype, shape: [c.theta.length], data: arr(c.theta) },
          alpha: { dtype, shape: [c.alpha.length], data: arr(c.alpha) },
        });
        const num = (t: { data: ArrayLike<number | bigint> }) => Array.from(t.data, Number);
        assertAllClose(num(out.y), flat(lm.output), { rtol: 1e-5, atol: 1e-5 }, 'output');
        assertAllClose(num(out[gradName('theta')]), lm.grad_theta, { rtol: 1e-5, atol: 1e-5 }, 'grad theta');
        assertAllClose(num(out[gradName('alpha')]), lm.grad_alpha, { rtol: 1e-5, atol: 1e-5 }, 'grad alpha');
      });

      test(`${name}: θ/α gradients on the host from c̄ and s̄ (roadColumnGrads, ${dtype} inputs)`, () => {
        // what the training graph returns for RoAd's host-computed inputs: c̄ = Σ_rows ḡ ⊙ h, s̄ = Σ_rows ḡ ⊙ rot(h)
        const lm = c.linear_module;
        const arr = (v: number[]) => (dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v));
        const [x, w, up] = [flat(lm.input), flat(lm.weight), flat(lm.upstream_grad)];
        const half = c.group_size / 2;
        const dc = new Float64Array(d);
        const ds = new Float64Array(d);
        for (let r = 0; r < lm.input.length; r++) {
          const h = Array.from({ length: d }, (_, i) => lm.bias[i] + x.slice(r * c.in_features, (r + 1) * c.in_features).reduce((a, v, k) => a + v * w[i * c.in_features + k], 0));
          for (let i = 0; i < d; i++) {
            const rot = i % c.group_size < half ? -h[i + half] : h[i - half];
            dc[i] += up[r * d + i] * h[i];
            ds[i] += up[r * d + i] * rot;
          }
        }
        const { dTheta, dAlpha } = roadColumnGrads(c.variant, c.group_size, arr(c.theta), arr(c.alpha), dc, ds);
        assertAllClose(dTheta, lm.grad_theta, { rtol: 1e-5, atol: 1e-5 }, 'grad theta');
        assertAllClose(dAlpha, lm.grad_alpha, { rtol: 1e-5, atol: 1e-5 }, 'grad alpha');
      });
    }
  }
});
