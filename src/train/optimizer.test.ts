import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW, clipCoefficient, globalNorm } from './optimizer.ts';
import { lrFactor } from './schedule.ts';

test('AdamW matches hand-computed PyTorch updates for three steps', () => {
  // Step 1 by hand: p = 0.5·(1 − 0.1·0.01) = 0.4995; m̂ = g = 0.2, √v̂ = |g| = 0.2,
  // so p = 0.4995 − 0.1·0.2/(0.2 + 1e-8) = 0.399500005. Steps 2 and 3 follow the same formulas.
  const p = Float32Array.of(0.5, -1.0);
  const opt = new AdamW({ lr: 0.1, weightDecay: 0.01 });
  const expected = [
    [0.39950000499999977, -0.8990000025],
    [0.3058825470103658, -0.8891685020096358],
    [0.33450545772163026, -0.8877704056985437],
  ];
  const grads = [[0.2, -0.4], [0.1, 0.3], [-0.5, 0.05]];
  grads.forEach((g, i) => {
    opt.step(new Map([['w', p]]), new Map([['w', g]]));
    assert.deepEqual([...p], expected[i].map(Math.fround), `step ${i + 1}`);
  });
  assert.equal(opt.state.step, 3);
});

test('gradient clipping as torch.nn.utils.clip_grad_norm_', () => {
  assert.equal(globalNorm([[3], [4]]), 5);
  assert.equal(clipCoefficient(5, 10), 1);
  assert.equal(clipCoefficient(0.3715771734714508, 0.1), 0.1 / (0.3715771734714508 + 1e-6));
});

test('schedules: warmup then constant, linear or cosine decay', () => {
  const s = { warmupSteps: 2, totalSteps: 10 };
  assert.deepEqual([0, 1, 2].map((t) => lrFactor({ kind: 'constant', ...s }, t)), [0, 0.5, 1]);
  assert.equal(lrFactor({ kind: 'linear', ...s }, 6), 0.5);
  assert.equal(lrFactor({ kind: 'linear', ...s }, 10), 0);
  assert.ok(Math.abs(lrFactor({ kind: 'cosine', ...s }, 6) - 0.5) < 1e-12);
  assert.equal(lrFactor({ kind: 'cosine', ...s }, 2), 1);
});
