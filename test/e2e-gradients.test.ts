// End-to-end gradient checks in float64 against central finite differences: a small MLP classifier and a
// causal softmax-attention block (with grouped heads, a padding mask and RMSNorm), differentiated with respect
// to every weight at once.

import { after, test } from 'node:test';
import { GraphBuilder, type Tensor } from '../src/graph/tracer.ts';
import type { HostTensor } from '../src/runtime/host-tensor.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { checkGradients } from './support/grad-check.ts';
import { Rng } from './support/random.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());

const rng = new Rng(7);
const f64 = (shape: number[], scale = 0.5): HostTensor => ({
  dtype: 'float64',
  shape,
  data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-scale, scale)),
});

test('MLP classifier: cross-entropy gradients of every weight', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', ['B', 5]);
  const labels = b.input('labels', 'int64', ['B']);
  const w1 = b.input('w1', 'float64', [7, 5]);
  const b1 = b.input('b1', 'float64', [7]);
  const w2 = b.input('w2', 'float64', [3, 7]);
  const hidden = x.matmul(w1, { transB: true }).add(b1).tanh(); // [B, 7]
  const gelu = hidden.mul(hidden.mul(Math.SQRT1_2).erf().add(1)).mul(0.5); // [B, 7]
  const logits = gelu.matmul(w2, { transB: true }); // [B, 3]
  const graph = b.build({ loss: logits.crossEntropy(labels) });
  const feeds = {
    x: f64([4, 5], 1.5),
    labels: { dtype: 'int64', shape: [4], data: BigInt64Array.of(0n, 2n, -100n, 1n) } as HostTensor,
    w1: f64([7, 5]),
    b1: f64([7]),
    w2: f64([3, 7]),
  };
  await checkGradients(runtime, graph, feeds, ['x', 'w1', 'b1', 'w2'], { what: 'MLP' });
});

test('causal attention block: gradients of the projections, norm weight and input', async () => {
  const [c, h, hkv, d] = [8, 4, 2, 2];
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', ['B', 'T', c]);
  const keyMask = b.input('key_mask', 'bool', ['B', 1, 1, 'T']); // padding: false for pad keys
  const causal = b.input('causal', 'bool', [1, 1, 'T', 'T']);
  const wq = b.input('wq', 'float64', [h * d, c]);
  const wk = b.input('wk', 'float64', [hkv * d, c]);
  const wv = b.input('wv', 'float64', [hkv * d, c]);
  const wo = b.input('wo', 'float64', [c, h * d]);
  const g = b.input('norm', 'float64', [c]);
  const normed = x.mul(x.mul(x).mean(-1, true).add(1e-6).sqrt().reciprocal()).mul(g); // [B, T, C]
  const heads = (w: Tensor, n: number) => normed.matmul(w, { transB: true }).reshape(['B', 'T', n, d]).transpose([0, 2, 1, 3]); // [B, n, T, D]
  const q = heads(wq, h).reshape(['B', hkv, h / hkv, 'T', d]); // [B, Hkv, R, T, D]
  const k = heads(wk, hkv).unsqueeze(2); // [B, Hkv, 1, T, D]
  const v = heads(wv, hkv).unsqueeze(2); // [B, Hkv, 1, T, D]
  const allowed = keyMask.and(causal).unsqueeze(1); // [B, 1, 1, T, T]
  const scores = allowed.where(q.matmul(k, { transB: true }).mul(1 / Math.sqrt(d)), -1e9); // [B, Hkv, R, T, T]
  const out = scores.softmax(-1).matmul(v).transpose([0, 3, 1, 2, 4]).reshape(['B', 'T', h * d]).matmul(wo, { transB: true }); // [B, T, C]
  const graph = b.build({ loss: out.add(x).mul(out).sum() });
  const t = 4;
  const feeds = {
    x: f64([2, t, c], 1),
    key_mask: { dtype: 'bool', shape: [2, 1, 1, t], data: Uint8Array.of(1, 1, 1, 1, 0, 1, 1, 1) } as HostTensor,
    causal: { dtype: 'bool', shape: [1, 1, t, t], data: Uint8Array.from({ length: t * t }, (_, i) => (i % t <= Math.floor(i / t) ? 1 : 0)) } as HostTensor,
    wq: f64([h * d, c]),
    wk: f64([hkv * d, c]),
    wv: f64([hkv * d, c]),
    wo: f64([c, h * d]),
    norm: f64([c], 1),
  };
  await checkGradients(runtime, graph, feeds, ['x', 'wq', 'wk', 'wv', 'wo', 'norm'], { what: 'attention' });
});
