// The compose demo's ranking measure: the ROC AUC of the label margin, which a uniform shift of the margin keeps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rocAuc } from '../../src/demo/compose-demo.ts';

test('rocAuc: perfect, reversed, ties and shifted scores', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(rocAuc([0.5, 0.5], [0, 1]), 0.5);
  assert.equal(rocAuc([0.3, 0.1, 0.2, 0.4], [0, 0, 1, 1]), 0.75);
  assert.equal(rocAuc([-9.7, -9.9, -9.8, -9.6], [0, 0, 1, 1]), 0.75); // the same ranking, every margin shifted
  assert.equal(rocAuc([1, 2], [1, 1]), 0.5); // one class only
});
