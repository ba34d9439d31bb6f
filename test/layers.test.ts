// The import rules of src/ (scripts/check-layers.ts, README "Architecture"): the real tree passes, and planted
// violations in copies of it fail: an upward import, a type-only upward import, an import of test/ code, and
// a command that loads ONNX Runtime when the CLI starts.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { checkLayers, LAYERS, parseImports, readSourceTree } from '../scripts/check-layers.ts';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const tree = readSourceTree(SRC);

/** The tree with `file`'s source replaced (or added). */
const planted = (file: string, source: string) => new Map([...tree, [file, source]]);

test('src/ follows the import rules', () => {
  assert.deepEqual(checkLayers(tree), []);
  const folders = new Set([...tree.keys()].filter((f) => f.includes('/')).map((f) => f.split('/')[0]));
  assert.deepEqual([...folders].filter((f) => !(f in LAYERS)), [], 'every folder of src/ has a row in LAYERS');
});

test('an upward import fails, type-only or not, and names the file, line and layers', () => {
  const graphFile = 'graph/printer.ts';
  const upward = planted(graphFile, `${tree.get(graphFile)}\nimport { Runtime } from '../runtime/runtime.ts';\n`);
  const problems = checkLayers(upward);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0], /^src\/graph\/printer\.ts:\d+: graph imports runtime \(src\/runtime\/runtime\.ts\)/);
  const typeOnly = planted('io/config/presets.ts', `import type { CausalLM } from '../../models/causal-lm.ts';\n${tree.get('io/config/presets.ts')}`);
  assert.match(checkLayers(typeOnly).join('\n'), /^src\/io\/config\/presets\.ts:1: io imports models/);
  const sideways = planted('train/extra.ts', "export const g = () => import('../generate/greedy.ts');\n");
  assert.match(checkLayers(sideways).join('\n'), /train imports generate/);
});

test('src/ importing test code fails', () => {
  const problems = checkLayers(planted('graph/dim.test.ts', "import { assertAllClose } from '../../test/support/all-close.ts';\n"));
  assert.match(problems.join('\n'), /src\/graph\/dim\.test\.ts:1: imports \.\.\/\.\.\/test\/support\/all-close\.ts, outside src\//);
});

test('a command that loads ONNX Runtime when the CLI starts fails; a lazy or type-only import passes', () => {
  const define = 'cli/define/adapter-inspect.ts';
  const eager = planted(define, `import { Runtime } from '../../runtime/index.ts';\nexport const r = Runtime;\n${tree.get(define)}`);
  assert.match(checkLayers(eager).join('\n'), /loads onnxruntime-node when the CLI starts \(cli\/main\.ts -> cli\/program\.ts -> cli\/define\/adapter-inspect\.ts -> runtime\/index\.ts/);
  const lazy = planted(define, `import type { Runtime } from '../../runtime/index.ts';\nexport const r = async (): Promise<Runtime> => new (await import('../../runtime/index.ts')).Runtime();\n${tree.get(define)}`);
  assert.deepEqual(checkLayers(lazy), []);
});

test('parseImports tells static, type-only, re-exported, side-effect and dynamic imports apart', () => {
  const refs = parseImports([
    "import { a, type B } from './a.ts';",
    "import type { C } from './c.ts';",
    "import {\n  type D,\n  type E,\n} from './d.ts';",
    "export { f } from './f.ts';",
    "export type { G } from './g.ts';",
    "import './side.ts';",
    "const h = await import('./h.ts');",
  ].join('\n'));
  assert.deepEqual(refs.map((r) => [r.specifier, r.typeOnly, r.dynamic, r.line]), [
    ['./a.ts', false, false, 1],
    ['./c.ts', true, false, 2],
    ['./d.ts', true, false, 3],
    ['./f.ts', false, false, 7],
    ['./g.ts', true, false, 8],
    ['./side.ts', false, false, 9],
    ['./h.ts', false, true, 10],
  ]);
});
