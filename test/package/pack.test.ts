// The npm package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the tarball installed
// into an empty ES-module project, then plain `node` imports it, the consumer's `tsc --strict` type-checks a
// file against its declarations, and the installed `roadster` command runs.
//
// Offline and fast: the consumer gets a package-lock.json made of this checkout's own lock entries (the
// production ones) and a node_modules whose packages are hard links to this checkout's, so `npm install
// --offline` finds every dependency installed and only unpacks the tarball. Nothing touches the registry.

import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const scratch = mkdtempSync(join(tmpdir(), 'roadster-pack-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The environment of child processes: no tsx loader inherited, no registry reachable by accident. */
const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, env: ENV, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${command} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Copies a package folder as hard links (plain copies across file systems), without its nested node_modules. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') linkTree(src, dst);
    } else if (entry.isFile()) {
      try {
        linkSync(src, dst);
      } catch {
        copyFileSync(src, dst);
      }
    }
  }
}

interface LockEntry {
  readonly dev?: boolean;
  readonly link?: boolean;
  readonly [key: string]: unknown;
}

interface Packed {
  readonly filename: string;
  readonly files: readonly { path: string }[];
}

const consumer = join(scratch, 'consumer');
let packed: Packed;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string>; license: string };

before(() => {
  const r = run('npm', ['pack', '--json', '--pack-destination', scratch], ROOT);
  // the JSON array starts on a line of its own, after whatever `prepare`'s build printed
  packed = (JSON.parse(r.stdout.slice(r.stdout.search(/^\[$/m))) as Packed[])[0];
  const tarball = join(scratch, packed.filename);

  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const production = Object.entries(lock.packages).filter(([key, entry]) => key.startsWith('node_modules/') && entry.dev !== true && entry.link !== true);
  const resolved = `file:../${packed.filename}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { roadster: resolved } }, null, 2));
  writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify({
    name: 'consumer',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'consumer', dependencies: { roadster: resolved } },
      'node_modules/roadster': { version: pkg.version, resolved, integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
      ...Object.fromEntries(production),
    },
  }, null, 2));
  for (const [key] of production) linkTree(join(ROOT, key), join(consumer, key));
  run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], consumer);
});

describe('the npm package', () => {
  test('ships the build, the CLI and the demo models; no sources, tests, fixtures or reference scripts', () => {
    const paths = packed.files.map((f) => f.path);
    assert.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts') && paths.includes('dist/cli/main.js'));
    assert.ok(paths.includes('bin/roadster.js') && paths.includes('models/roadster-base/model.safetensors'));
    assert.ok(paths.includes('models/roadster-base-email/model.safetensors') && paths.includes('models/roadster-base-email/MANIFEST.json'));
    const stray = paths.filter((p) => /^(src|test|reference|scripts|roadster-demo)\//.test(p) || /\.test\.(js|d\.ts)$/.test(p) || /(^|\/)tsconfig/.test(p));
    assert.deepEqual(stray, []);
    const installed = readdirSync(join(consumer, 'node_modules'));
    assert.ok(!installed.includes('tsx') && !installed.includes('typescript'), 'tsx and typescript are dev dependencies only');
  });

  test('plain node imports the library and the CLI entry (ESM)', () => {
    writeFileSync(join(consumer, 'use.js'), [
      "import { PeftModel, Runtime, roadConfig, RoadsterError, AutoModelForCausalLM } from 'roadster';",
      "import { runCli } from 'roadster/cli';",
      "import { createRequire } from 'node:module';",
      "const version = createRequire(import.meta.url)('roadster/package.json').version;",
      "const config = roadConfig({ variant: 'road_1', groupSize: 8, targetModules: 'all-linear' });",
      'console.log(JSON.stringify({ version, peftType: config.peftType, kinds: [typeof PeftModel.getPeftModel, typeof Runtime, typeof RoadsterError, typeof AutoModelForCausalLM.fromPretrained, typeof runCli] }));',
    ].join('\n'));
    const r = run(process.execPath, ['use.js'], consumer);
    assert.deepEqual(JSON.parse(r.stdout), { version: pkg.version, peftType: 'ROAD', kinds: ['function', 'function', 'function', 'function', 'function'] });
  });

  test('a consumer type-checks against the declarations with tsc --strict', () => {
    writeFileSync(join(consumer, 'check.ts'), [
      "import { PeftModel, Runtime, roadConfig, type AdapterConfig } from 'roadster';",
      "import { runCli } from 'roadster/cli';",
      "const config: AdapterConfig = roadConfig({ variant: 'road_2', groupSize: 64 });",
      'export async function adapt(model: Parameters<typeof PeftModel.getPeftModel>[0]): Promise<string> {',
      '  const runtime = new Runtime({ threads: 1 });',
      '  const peft = PeftModel.getPeftModel(model, runtime, config);',
      '  const code: number = await runCli([\'--version\'], { stdout: process.stdout, stderr: process.stderr, env: {} });',
      '  await runtime.release();',
      '  return `${peft.printTrainableParameters()} ${code}`;',
      '}',
      '// @ts-expect-error: the types are real, not any',
      "export const wrong: number = roadConfig({ groupSize: 64 }).peftType;",
    ].join('\n'));
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
      files: ['check.ts'],
    }));
    // skipLibCheck off, so roadster's own declarations are checked too; the only errors allowed are onnx-proto's
    // (its declarations name protobufjs's global `Long` without declaring it, as every consumer with
    // skipLibCheck off sees, roadster or not)
    const r = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: consumer, env: ENV, encoding: 'utf8', timeout: 120_000 });
    const errors = r.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    assert.deepEqual(errors.filter((line) => !line.startsWith('node_modules/onnx-proto/')), [], r.stdout + r.stderr);
    assert.ok(r.status === 0 || errors.length > 0, r.stdout + r.stderr);
  });

  test('the installed roadster command runs the built CLI', () => {
    const bin = join(consumer, 'node_modules', '.bin', 'roadster');
    assert.equal(run(bin, ['--version'], consumer).stdout, `${pkg.version}\n`);
    const help = run(bin, ['--help'], consumer).stdout;
    for (const command of ['demo', 'train', 'inspect', 'merge', 'generate', 'bench']) assert.match(help, new RegExp(`\\n  ${command}\\b`), help);
  });
});
