import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dim, dimAdd, dimDivExact, dimMul, dimProduct, dimSub, dimSymbols, evalDim } from './dim.ts';

test('symbolic dims have one canonical form', () => {
  assert.equal(dim('T'), 'T');
  assert.equal(dim('1*T+0'), 'T');
  assert.equal(dim('3'), 3);
  assert.equal(dimMul('T', 'B'), 'B*T');
  assert.equal(dimSub('T', 1), 'T-1');
  assert.equal(dimAdd(dimSub('T', 1), 1), 'T');
  assert.equal(dimProduct(['B', 'T', 64]), '64*B*T');
  assert.equal(dimSub(3, 'T'), '-T+3');
  assert.equal(dimMul(dimAdd('T', 1), dimSub('T', 1)), 'T*T-1');
});

test('exact division, and refusal where no polynomial quotient exists', () => {
  assert.equal(dimDivExact('64*B*T', 64), 'B*T');
  assert.equal(dimDivExact('64*B*T', 'B'), '64*T');
  assert.equal(dimDivExact('T+1', 2), undefined);
  assert.equal(dimDivExact('B*T', 'C'), undefined);
});

test('evaluation under a binding', () => {
  const env = new Map([['B', 2], ['T', 5]]);
  assert.equal(evalDim('B*T-B', env), 8);
  assert.deepEqual(dimSymbols('B*T-B'), ['B', 'T']);
  assert.throws(() => evalDim('C', env), { code: 'E_SHAPE' });
});
