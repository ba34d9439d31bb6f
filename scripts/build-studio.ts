// Builds the studio page (src/browser/studio) with Vite into a folder that `roadster studio` serves:
// index.html, the bundle, and onnxruntime-web's WebAssembly files copied from its npm package into ort/ (served
// from the same origin, never a CDN). Node built-ins that modules of the bundle import for their Node-only
// helpers (reading folders, writing files) become stubs that throw when called: the browser path never calls
// them, and a call would fail loudly instead of misbehaving. onnxruntime-node must never be reached.
//
//   npx tsx scripts/build-studio.ts [outDir]      # default dist/studio

import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_STUDIO_DIR = join(ROOT, 'dist', 'studio');
/**
 * onnxruntime-web's WebAssembly build that the page loads: the bundle imports onnxruntime-web/wasm (the CPU
 * build with SIMD and threads; no WebGPU), whose loader (.mjs, also the worker threads' script) and binary these are.
 */
export const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const STUB = '\0roadster-node-stub:';

/** Node built-ins as modules whose every export throws when called (names from the real module). */
function nodeBuiltinStubs(): Plugin {
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  return {
    name: 'roadster-node-builtin-stubs',
    enforce: 'pre',
    resolveId(id) {
      if (id === 'onnxruntime-node') throw new Error('the browser bundle reaches onnxruntime-node; only src/runtime/node-backend.ts may import it, and the browser entry must not reach that file');
      return builtins.has(id) ? `${STUB}${id.replace(/^node:/, '')}` : null;
    },
    async load(id) {
      if (!id.startsWith(STUB)) return null;
      const name = id.slice(STUB.length);
      const real = (await import(`node:${name}`)) as Record<string, unknown>;
      const exports = Object.keys(real).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      const lines = [
        `function unavailable(what) { const f = function () { throw new Error('roadster: ' + what + ' is a Node built-in, not available in the browser build'); }; return f; }`,
        ...exports.map((k) => `export const ${k} = unavailable('node:${name}.${k}');`),
        `export default new Proxy({}, { get: (_, k) => unavailable('node:${name}.' + String(k)) });`,
      ];
      return lines.join('\n');
    },
  };
}

/** Builds the page into `outDir` (emptied first). */
export async function buildStudio(outDir = DEFAULT_STUDIO_DIR, options: { logLevel?: 'info' | 'warn' | 'silent' } = {}): Promise<string> {
  await build({
    configFile: false,
    root: join(ROOT, 'src', 'browser', 'studio'),
    base: './',
    logLevel: options.logLevel ?? 'warn',
    plugins: [nodeBuiltinStubs()],
    // the WebAssembly-only build of onnxruntime-web (src/runtime/web-backend.ts imports the package's default
    // entry, which Node resolves to its Node build)
    resolve: { alias: [{ find: /^onnxruntime-web$/, replacement: 'onnxruntime-web/wasm' }] },
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096, reportCompressedSize: false },
  });
  // the bundle's own copy of the .wasm is never loaded: the page points ORT at ort/ (wasmPaths), whose .mjs
  // also starts the worker threads
  for (const f of readdirSync(join(outDir, 'assets'))) if (f.endsWith('.wasm')) rmSync(join(outDir, 'assets', f));
  const ortDist = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
  mkdirSync(join(outDir, 'ort'), { recursive: true });
  for (const f of ORT_FILES) copyFileSync(join(ortDist, f), join(outDir, 'ort', f));
  return outDir;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildStudio(process.argv[2] ? resolve(process.argv[2]) : DEFAULT_STUDIO_DIR, { logLevel: 'info' });
  console.log(`studio page built into ${out}`);
}
