// The import rules of src/, checked from the sources (README "Architecture"):
//
// 1. Layers import downward only. LAYERS below is the table: each folder of src/ and what it may import
//    besides itself and the shared leaves (errors.ts, seeded-random.ts). Type-only imports count too: a type
//    from above is a dependency on above.
// 2. src/ never imports test/ (or anything else outside src/ but packages).
// 3. The CLI starts light: what src/cli/main.ts loads before a command runs (static imports that survive
//    compilation, followed through every module they reach) uses no package but commander, so `roadster
//    --help` does not load ONNX Runtime, tokenizers or the Hub client. Commands `await import()` their
//    implementation in their action.
// 4. The browser entries (src/browser/index.ts, the studio page) never reach onnxruntime-node: their imports,
//    followed through every module they reach (dynamic ones too), load no Node-only package.
//
//   npx tsx scripts/check-layers.ts        # prints the violations; exit code 1 when there are any

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What each layer (a folder of src/, or src/index.ts) may import besides itself and the shared leaves. */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  graph: [],
  io: [],
  runtime: ['graph'],
  models: ['runtime', 'graph', 'io'],
  adapters: ['models', 'runtime', 'graph', 'io'],
  train: ['adapters', 'models', 'runtime', 'graph', 'io'],
  generate: ['adapters', 'models', 'runtime', 'graph', 'io'],
  interpret: ['adapters', 'models', 'runtime', 'graph', 'io'],
  demo: ['train', 'generate', 'interpret', 'adapters', 'models', 'runtime', 'graph', 'io'],
  server: ['train', 'generate', 'adapters', 'models', 'runtime', 'graph', 'io'],
  browser: ['train', 'generate', 'adapters', 'models', 'runtime', 'graph', 'io'],
  cli: ['server', 'browser', 'demo', 'train', 'generate', 'interpret', 'adapters', 'models', 'runtime', 'graph', 'io'],
  'index.ts': ['cli', 'server', 'demo', 'train', 'generate', 'interpret', 'adapters', 'models', 'runtime', 'graph', 'io'],
};

/** Leaves at the root of src/ that every layer may import (they import nothing of src/). */
export const SHARED = ['errors.ts', 'seeded-random.ts'];

/** The only packages the CLI's startup may load (rule 3). */
export const CLI_STARTUP_PACKAGES = ['commander'];
export const CLI_ENTRY = 'cli/main.ts';

/** The browser's entries (rule 4) and what they must not reach. */
export const BROWSER_ENTRIES = ['browser/index.ts', 'browser/studio/main.ts'];
export const NODE_ONLY_PACKAGES = ['onnxruntime-node'];

/** One import of a source file. */
export interface ImportRef {
  readonly specifier: string;
  /** `import type` / `export type`, or every named binding marked `type`: erased by the compiler. */
  readonly typeOnly: boolean;
  /** `import('...')`: loaded when the code runs, not when the module loads. */
  readonly dynamic: boolean;
  readonly line: number;
}

const STATIC = /(?:^|\n)[ \t]*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]|(?:^|\n)[ \t]*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The imports of one source file (static, re-exports, side-effect and dynamic `import('literal')`). */
export function parseImports(source: string): ImportRef[] {
  const refs: ImportRef[] = [];
  const lineOf = (index: number) => source.slice(0, index).split('\n').length;
  for (const m of source.matchAll(STATIC)) {
    const at = m.index + (m[0].startsWith('\n') ? 1 : 0);
    if (m[5] !== undefined) {
      refs.push({ specifier: m[5], typeOnly: false, dynamic: false, line: lineOf(at) });
      continue;
    }
    const clause = m[3].trim();
    const named = /^\{([^}]*)\}$/.exec(clause);
    const allTypes = named !== null && named[1].split(',').map((s) => s.trim()).filter((s) => s !== '').every((s) => s.startsWith('type '));
    refs.push({ specifier: m[4], typeOnly: m[2] !== undefined || allTypes, dynamic: false, line: lineOf(at) });
  }
  for (const m of source.matchAll(DYNAMIC)) refs.push({ specifier: m[1], typeOnly: false, dynamic: true, line: lineOf(m.index) });
  return refs;
}

/** The layer of a path relative to src/ (`models/llama/forward.ts` -> `models`, `errors.ts` -> `errors.ts`). */
export function layerOf(path: string): string {
  return path.split('/')[0];
}

/** A source tree: paths relative to src/ (with `/`) and their text. */
export type SourceTree = ReadonlyMap<string, string>;

/** Every .ts file under `srcDir`. */
export function readSourceTree(srcDir: string): Map<string, string> {
  const tree = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) tree.set(relative(srcDir, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(srcDir);
  return tree;
}

/** `./x.ts` from `a/b.ts` -> `a/x.ts`; a path that leaves src/ starts with `../`. */
function resolveRelative(from: string, specifier: string): string {
  return relative('/src', resolve('/src', dirname(from), specifier)).split(sep).join('/');
}

const packageName = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** The violations of rules 1-3 in `tree`, one line each (`file:line: what`). */
export function checkLayers(tree: SourceTree): string[] {
  const problems: string[] = [];
  for (const [file, source] of tree) {
    const from = layerOf(file);
    for (const ref of parseImports(source)) {
      if (!ref.specifier.startsWith('.')) continue;
      const target = resolveRelative(file, ref.specifier);
      if (target.startsWith('../')) {
        problems.push(`src/${file}:${ref.line}: imports ${ref.specifier}, outside src/ (src/ must not depend on tests or scripts)`);
        continue;
      }
      const to = layerOf(target);
      if (to === from || SHARED.includes(to)) continue;
      if (SHARED.includes(from)) {
        problems.push(`src/${file}:${ref.line}: imports src/${target}; the shared leaves (${SHARED.join(', ')}) import nothing of src/`);
        continue;
      }
      const allowed = LAYERS[from];
      if (allowed === undefined) problems.push(`src/${file}: layer ${from} is not in the LAYERS table of scripts/check-layers.ts`);
      else if (!allowed.includes(to)) problems.push(`src/${file}:${ref.line}: ${from} imports ${to} (src/${target}), which is not below it; ${from} may import ${allowed.join(', ') || 'only the shared leaves'}`);
    }
  }
  problems.push(...checkCliStartup(tree));
  problems.push(...checkBrowserEntries(tree));
  return problems;
}

/** Rule 4: packages reached from the browser entries through static value imports. */
export function checkBrowserEntries(tree: SourceTree): string[] {
  const problems: string[] = [];
  for (const entry of BROWSER_ENTRIES.filter((e) => tree.has(e))) {
    const seen = new Set<string>();
    const visit = (file: string, via: readonly string[]) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = tree.get(file);
      if (source === undefined) return;
      for (const ref of parseImports(source)) {
        if (ref.typeOnly || ref.specifier.startsWith('node:')) continue;
        if (ref.specifier.startsWith('.')) visit(resolveRelative(file, ref.specifier), [...via, file]);
        else if (NODE_ONLY_PACKAGES.includes(packageName(ref.specifier))) {
          problems.push(`src/${file}:${ref.line}: loads ${ref.specifier}, which the browser entry ${entry} reaches (${[...via, file].join(' -> ')}); ` +
            'the browser path must run on onnxruntime-web (WebRuntime) only');
        }
      }
    };
    visit(entry, []);
  }
  return problems;
}

/** Rule 3: the packages reached from the CLI's entry through static value imports. */
export function checkCliStartup(tree: SourceTree): string[] {
  if (!tree.has(CLI_ENTRY)) return [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, via: readonly string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = tree.get(file);
    if (source === undefined) return;
    for (const ref of parseImports(source)) {
      if (ref.typeOnly || ref.dynamic || ref.specifier.startsWith('node:')) continue;
      if (ref.specifier.startsWith('.')) {
        visit(resolveRelative(file, ref.specifier), [...via, file]);
      } else if (!CLI_STARTUP_PACKAGES.includes(packageName(ref.specifier))) {
        problems.push(`src/${file}:${ref.line}: loads ${ref.specifier} when the CLI starts (${[...via, file].join(' -> ')}); ` +
          `import it inside the command's action (await import) so that --help stays light`);
      }
    }
  };
  visit(CLI_ENTRY, []);
  return problems;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkLayers(readSourceTree(fileURLToPath(new URL('../src/', import.meta.url))));
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} import rule violation(s); see scripts/check-layers.ts and README "Architecture".`);
    process.exitCode = 1;
  } else {
    console.log('imports: layers downward only, nothing from outside src/, the CLI starts with commander only, the browser entries never reach onnxruntime-node');
  }
}
