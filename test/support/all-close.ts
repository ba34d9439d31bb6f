// One all-close matcher with one tolerance table per dtype, used by every numeric test.

import assert from 'node:assert/strict';

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** Default tolerances for comparing a result of the given dtype against a float64 reference. */
export const TOLERANCE: { float32: Tolerance; float64: Tolerance } = {
  float32: { rtol: 1e-5, atol: 1e-6 },
  float64: { rtol: 1e-11, atol: 1e-12 },
};

/** Largest |a - b| / (atol + rtol |b|) over all elements; <= 1 means all close. */
export function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const r = Math.abs(a - e) / (tol.atol + tol.rtol * Math.abs(e));
    worst = Math.max(worst, Number.isNaN(r) ? Infinity : r);
  }
  return worst;
}

/** Asserts element-wise |a - e| <= atol + rtol |e| and equal lengths. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  const worst = closeness(actual, expected, tol);
  if (worst > 1) {
    let at = 0;
    let best = -1;
    for (let i = 0; i < expected.length; i++) {
      const r = Math.abs(actual[i] - expected[i]) / (tol.atol + tol.rtol * Math.abs(expected[i]));
      if (!(r <= best)) (best = r), (at = i);
    }
    assert.fail(`${what}: not close (worst ratio ${worst.toExponential(2)}) at [${at}]: ${actual[at]} vs ${expected[at]} (rtol ${tol.rtol}, atol ${tol.atol})`);
  }
}

/** max |a - e| / max |e|: the relative error measure of gradient checks. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return den === 0 ? num : num / den;
}
