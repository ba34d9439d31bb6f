// Central finite differences in float64 against autodiff, shared by the op table and the end-to-end checks.

import assert from 'node:assert/strict';
import { grad, gradName } from '../../src/graph/autodiff.ts';
import type { Graph } from '../../src/graph/ir.ts';
import type { HostTensor } from '../../src/runtime/host-tensor.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { relativeError } from './all-close.ts';

/**
 * Checks d`loss`/d`x` for every name in `wrt` (float64 inputs of `forward`) at `feeds`: relative error
 * (max |analytic - numeric| / max |numeric|) at most `tolerance`. Returns the worst error seen.
 */
export async function checkGradients(
  runtime: Runtime,
  forward: Graph,
  feeds: Record<string, HostTensor>,
  wrt: readonly string[],
  options: { loss?: string; h?: number; tolerance?: number; what?: string } = {},
): Promise<number> {
  const loss = options.loss ?? 'loss';
  const h = options.h ?? 1e-6;
  const tolerance = options.tolerance ?? 1e-6;
  const [fwd, bwd] = await Promise.all([runtime.compile(forward), runtime.compile(grad(forward, loss, wrt))]);
  const analytic = await bwd.run(feeds);
  const lossAt = async (f: Record<string, HostTensor>) => Number((await fwd.run(f))[loss].data[0]);
  let worst = 0;
  for (const name of wrt) {
    const base = feeds[name].data as Float64Array;
    const numeric = new Float64Array(base.length);
    for (let k = 0; k < base.length; k++) {
      const plus = Float64Array.from(base);
      const minus = Float64Array.from(base);
      plus[k] += h;
      minus[k] -= h;
      numeric[k] = ((await lossAt({ ...feeds, [name]: { ...feeds[name], data: plus } })) - (await lossAt({ ...feeds, [name]: { ...feeds[name], data: minus } }))) / (2 * h);
    }
    const g = analytic[gradName(name)];
    assert.deepEqual([...g.shape], [...feeds[name].shape], `shape of ${gradName(name)}`);
    const err = relativeError(g.data as Float64Array, numeric);
    worst = Math.max(worst, err);
    assert.ok(err <= tolerance, `${options.what ?? ''} d${loss}/d${name}: relative error ${err.toExponential(2)}`);
  }
  return worst;
}

/**
 * Central differences of `loss()` at `entries` of a live parameter array (changed in place and restored) against
 * the gradient `g` there: |numeric - analytic| <= 1e-7 + 1e-6 |numeric|.
 */
export async function checkEntries(
  loss: () => Promise<number>,
  data: Float32Array | Float64Array,
  g: ArrayLike<number>,
  entries: readonly number[],
  what: string,
  h = 1e-6,
): Promise<void> {
  for (const i of entries) {
    const x = data[i];
    data[i] = x + h;
    const up = await loss();
    data[i] = x - h;
    const down = await loss();
    data[i] = x;
    const fd = (up - down) / (2 * h);
    assert.ok(Math.abs(fd - g[i]) <= 1e-7 + 1e-6 * Math.abs(fd), `${what}[${i}]: finite difference ${fd}, gradient ${g[i]}`);
  }
}
