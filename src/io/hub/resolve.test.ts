// Tests for the Hub resolver on a cache built exactly as Python's huggingface_hub writes it, and for the
// download path with a fake fetch serving bytes from memory. Nothing here touches the network.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RoadsterError } from '../../errors.ts';
import type { DownloadProgress } from './download.ts';
import { hubOptionsFromEnv } from './hub-options.ts';
import { hasFile, resolveModelFiles } from './resolve.ts';

const REPO = 'test-org/tiny-model';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const OLD_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const CONFIG = '{"model_type": "llama"}';
const WEIGHTS = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);

const sha1 = (data: string | Uint8Array): string => createHash('sha1').update(data).digest('hex');
const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

let work: string;

async function assertRejects(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

/** Writes blobs/{etag} and snapshots/{commit}/{file} -> relative symlink, as huggingface_hub does. */
async function cacheFile(cacheDir: string, commit: string, file: string, data: string | Uint8Array, etag: string): Promise<void> {
  const storage = join(cacheDir, 'models--test-org--tiny-model');
  const blob = join(storage, 'blobs', etag);
  const pointer = join(storage, 'snapshots', commit, file);
  await mkdir(dirname(blob), { recursive: true });
  await mkdir(dirname(pointer), { recursive: true });
  await writeFile(blob, data);
  await symlink(relative(dirname(pointer), blob), pointer);
}

/** A Python-style cache: refs/main -> COMMIT with config.json, weights and a nested file; refs/v1 -> OLD_COMMIT. */
async function pythonCache(name: string): Promise<string> {
  const cacheDir = join(work, name);
  const storage = join(cacheDir, 'models--test-org--tiny-model');
  await mkdir(join(storage, 'refs'), { recursive: true });
  await writeFile(join(storage, 'refs', 'main'), COMMIT);
  await writeFile(join(storage, 'refs', 'v1'), OLD_COMMIT);
  await cacheFile(cacheDir, COMMIT, 'config.json', CONFIG, sha1(CONFIG));
  await cacheFile(cacheDir, COMMIT, 'model.safetensors', WEIGHTS, sha256(WEIGHTS));
  await cacheFile(cacheDir, COMMIT, 'onnx/model.onnx', 'onnx', sha256('onnx'));
  await cacheFile(cacheDir, OLD_COMMIT, 'config.json', '{"old": true}', sha1('{"old": true}'));
  return cacheDir;
}

interface FakeHub {
  readonly fetch: typeof fetch;
  readonly calls: string[];
}

/** A fake Hub: HEAD answers as huggingface.co does (302 + X-Linked-* for LFS files), GET serves bytes. */
function fakeHub(files: Record<string, string | Uint8Array>, opts: { commit?: string; truncate?: boolean; status?: number } = {}): FakeHub {
  const commit = opts.commit ?? COMMIT;
  const calls: string[] = [];
  const fakeFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    calls.push(`${method} ${url.pathname}`);
    const match = /^\/test-org\/tiny-model\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (opts.status !== undefined) return new Response(null, { status: opts.status });
    if (match === null) return new Response(null, { status: 404, headers: { 'X-Error-Code': 'RepoNotFound' } });
    const [, revision, file] = match;
    if (revision !== 'main' && revision !== commit) return new Response(null, { status: 404, headers: { 'X-Error-Code': 'RevisionNotFound' } });
    const data = files[decodeURIComponent(file)];
    if (data === undefined) return new Response(null, { status: 404, headers: { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit } });
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (method === 'HEAD') {
      const lfs = typeof data !== 'string';
      return new Response(null, lfs
        ? { status: 302, headers: { Location: `https://cdn.example/${sha256(bytes)}`, 'X-Repo-Commit': commit, 'X-Linked-Etag': `"${sha256(bytes)}"`, 'X-Linked-Size': String(bytes.length) } }
        : { status: 200, headers: { 'X-Repo-Commit': commit, ETag: `"${sha1(bytes)}"`, 'Content-Length': String(bytes.length) } });
    }
    assert.equal(revision, commit, 'downloads are pinned to the commit');
    return new Response(new Uint8Array(opts.truncate === true ? bytes.slice(0, 10) : bytes), { status: 200 });
  };
  return { fetch: fakeFetch as typeof fetch, calls };
}

/** A fetch that fails as undici does without network. */
function offlineFetch(calls: string[] = []): typeof fetch {
  return (async (input: string | URL | Request) => {
    calls.push(String(input));
    throw new TypeError('fetch failed');
  }) as typeof fetch;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'roadster-hub-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('reading a Python-written cache', () => {
  it('resolves by repo id and branch through refs and symlinks', async () => {
    const cacheDir = await pythonCache('read-branch');
    const r = await resolveModelFiles(REPO, { cacheDir, offline: true, files: ['config.json', 'model.safetensors', 'onnx/model.onnx'] });
    assert.equal(r.source, 'hub');
    assert.equal(r.commitHash, COMMIT);
    assert.equal(r.folder, join(cacheDir, 'models--test-org--tiny-model', 'snapshots', COMMIT));
    assert.equal(r.files.get('config.json'), join(r.folder, 'config.json'));
    assert.equal(await readFile(r.files.get('config.json')!, 'utf8'), CONFIG);
    assert.deepEqual(new Uint8Array(await readFile(r.files.get('model.safetensors')!)), WEIGHTS);
    assert.equal(await readFile(r.files.get('onnx/model.onnx')!, 'utf8'), 'onnx');
    const v1 = await resolveModelFiles(REPO, { cacheDir, offline: true, revision: 'v1' });
    assert.equal(await readFile(v1.files.get('config.json')!, 'utf8'), '{"old": true}');
  });

  it('resolves by commit hash, online, without touching the network', async () => {
    const cacheDir = await pythonCache('read-commit');
    const calls: string[] = [];
    const r = await resolveModelFiles(REPO, { cacheDir, revision: OLD_COMMIT, fetch: offlineFetch(calls) });
    assert.equal(r.commitHash, OLD_COMMIT);
    assert.deepEqual(calls, []);
  });

  it('leaves out optional files that are not cached', async () => {
    const cacheDir = await pythonCache('read-optional');
    const r = await resolveModelFiles(REPO, { cacheDir, offline: true, optionalFiles: ['generation_config.json', 'model.safetensors'] });
    assert.deepEqual([...r.files.keys()], ['config.json', 'model.safetensors']);
  });

  it('explains an offline miss: file, repo, revision, folder, fix', async () => {
    const cacheDir = await pythonCache('read-miss');
    const snapshot = join(cacheDir, 'models--test-org--tiny-model', 'snapshots', COMMIT);
    await assertRejects(resolveModelFiles(REPO, { cacheDir, offline: true, files: ['tokenizer.json'] }), 'E_NOT_FOUND',
      'tokenizer.json', REPO, 'revision main', 'offline mode is on', join(snapshot, 'tokenizer.json'), 'network access', 'local model folder');
    await assertRejects(resolveModelFiles(REPO, { cacheDir, offline: true, revision: 'dev' }), 'E_NOT_FOUND',
      'config.json', 'revision dev', join(cacheDir, 'models--test-org--tiny-model', 'refs', 'dev'), 'not in the cache');
    await assertRejects(resolveModelFiles('other/repo', { cacheDir, offline: true }), 'E_NOT_FOUND', 'other/repo', 'models--other--repo');
  });

  it('falls back to the cache when the Hub cannot be reached', async () => {
    const cacheDir = await pythonCache('read-unreachable');
    const r = await resolveModelFiles(REPO, { cacheDir, fetch: offlineFetch() });
    assert.equal(r.commitHash, COMMIT);
    await assertRejects(resolveModelFiles(REPO, { cacheDir, fetch: offlineFetch(), files: ['tokenizer.json'] }), 'E_NOT_FOUND',
      'tokenizer.json', 'could not be reached', 'fetch failed');
    const busy = fakeHub({}, { status: 503 });
    assert.equal((await resolveModelFiles(REPO, { cacheDir, fetch: busy.fetch })).commitHash, COMMIT);
  });
});

describe('local folders and ids', () => {
  it('uses an existing folder as is', async () => {
    const dir = join(work, 'local-model');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), CONFIG);
    const r = await resolveModelFiles(dir, { optionalFiles: ['generation_config.json'], fetch: offlineFetch() });
    assert.deepEqual([r.source, r.folder, r.commitHash, [...r.files.keys()]], ['local', dir, null, ['config.json']]);
    await assertRejects(resolveModelFiles(dir, { files: ['tokenizer.json'] }), 'E_NOT_FOUND', `${dir} has no tokenizer.json`);
    assert.equal(await hasFile(dir, 'config.json'), true);
    assert.equal(await hasFile(dir, 'tokenizer.json'), false);
  });

  it('rejects paths that do not exist, bad ids and bad file names', async () => {
    await assertRejects(resolveModelFiles('./no/such/folder'), 'E_NOT_FOUND', 'No folder', 'not a Hub repo id');
    await assertRejects(resolveModelFiles('a/b/c'), 'E_NOT_FOUND', 'not a Hub repo id');
    await assertRejects(resolveModelFiles('org--x/name'), 'E_NOT_FOUND', 'not a Hub repo id');
    await assertRejects(resolveModelFiles(REPO, { offline: true, files: ['../secret'] }), 'E_USAGE', '"../secret"');
  });
});

describe('downloading into the cache', () => {
  it('writes refs, blobs and relative symlinks as huggingface_hub does, with progress', async () => {
    const cacheDir = join(work, 'download');
    const hub = fakeHub({ 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    const progress: DownloadProgress[] = [];
    const r = await resolveModelFiles(REPO, {
      cacheDir, fetch: hub.fetch, files: ['config.json', 'model.safetensors'], optionalFiles: ['generation_config.json'],
      onProgress: (p) => progress.push(p),
    });
    const storage = join(cacheDir, 'models--test-org--tiny-model');
    assert.equal(r.commitHash, COMMIT);
    assert.equal(await readFile(join(storage, 'refs', 'main'), 'utf8'), COMMIT);
    assert.equal(await readlink(join(storage, 'snapshots', COMMIT, 'config.json')), join('..', '..', 'blobs', sha1(CONFIG)));
    assert.equal(await readlink(join(storage, 'snapshots', COMMIT, 'model.safetensors')), join('..', '..', 'blobs', sha256(WEIGHTS)));
    assert.deepEqual(new Uint8Array(await readFile(r.files.get('model.safetensors')!)), WEIGHTS);
    assert.deepEqual((await readdir(join(storage, 'blobs'))).sort(), [sha1(CONFIG), sha256(WEIGHTS)].sort());
    assert.ok((await lstat(join(storage, '.no_exist', COMMIT, 'generation_config.json'))).isFile());
    assert.deepEqual(hub.calls, [
      'HEAD /test-org/tiny-model/resolve/main/config.json', `GET /test-org/tiny-model/resolve/${COMMIT}/config.json`,
      `HEAD /test-org/tiny-model/resolve/${COMMIT}/model.safetensors`, `GET /test-org/tiny-model/resolve/${COMMIT}/model.safetensors`,
      `HEAD /test-org/tiny-model/resolve/${COMMIT}/generation_config.json`,
    ]);
    const weights = progress.filter((p) => p.file === 'model.safetensors');
    assert.deepEqual(weights[0], { file: 'model.safetensors', bytesDone: 0, bytesTotal: WEIGHTS.length });
    assert.deepEqual(weights.at(-1), { file: 'model.safetensors', bytesDone: WEIGHTS.length, bytesTotal: WEIGHTS.length });

    // Second run: metadata only. Offline: the same files, and the known-missing file stays missing.
    const again = fakeHub({ 'config.json': CONFIG, 'model.safetensors': WEIGHTS });
    await resolveModelFiles(REPO, { cacheDir, fetch: again.fetch, files: ['config.json', 'model.safetensors'] });
    assert.ok(again.calls.every((c) => c.startsWith('HEAD')));
    const offline = await resolveModelFiles(REPO, { cacheDir, offline: true, optionalFiles: ['generation_config.json'] });
    assert.deepEqual([...offline.files.keys()], ['config.json']);
    await assertRejects(resolveModelFiles(REPO, { cacheDir, offline: true, files: ['generation_config.json'] }), 'E_NOT_FOUND',
      'generation_config.json does not exist', '.no_exist');
  });

  it('moves refs/main to a new commit and keeps the old snapshot', async () => {
    const cacheDir = await pythonCache('download-update');
    const NEW = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const r = await resolveModelFiles(REPO, { cacheDir, fetch: fakeHub({ 'config.json': CONFIG }, { commit: NEW }).fetch });
    assert.equal(r.commitHash, NEW);
    const storage = join(cacheDir, 'models--test-org--tiny-model');
    assert.equal(await readFile(join(storage, 'refs', 'main'), 'utf8'), NEW);
    assert.equal(await readFile(join(storage, 'snapshots', NEW, 'config.json'), 'utf8'), CONFIG); // blob reused
    assert.ok((await lstat(join(storage, 'snapshots', COMMIT, 'model.safetensors'))).isSymbolicLink());
  });

  it('reports missing files, repos and revisions from the Hub', async () => {
    const cacheDir = join(work, 'download-errors');
    const hub = fakeHub({ 'config.json': CONFIG });
    await assertRejects(resolveModelFiles(REPO, { cacheDir, fetch: hub.fetch, files: ['tokenizer.json'] }), 'E_NOT_FOUND',
      `Hub repo ${REPO} has no file tokenizer.json at revision main`);
    await assertRejects(resolveModelFiles(REPO, { cacheDir, fetch: hub.fetch, revision: 'nope' }), 'E_NOT_FOUND', 'no revision "nope"');
    await assertRejects(resolveModelFiles('test-org/missing', { cacheDir, fetch: hub.fetch }), 'E_NOT_FOUND', 'not found', 'HF_TOKEN');
    await assertRejects(resolveModelFiles(REPO, { cacheDir, fetch: fakeHub({}, { status: 401 }).fetch }), 'E_NOT_FOUND', 'HTTP 401');
    await assertRejects(resolveModelFiles(REPO, { cacheDir, token: 'secret' }), 'E_USAGE', 'hf_');
  });

  it('discards a truncated download', async () => {
    const cacheDir = join(work, 'download-truncated');
    const hub = fakeHub({ 'model.safetensors': WEIGHTS }, { truncate: true });
    await assertRejects(resolveModelFiles(REPO, { cacheDir, fetch: hub.fetch, files: ['model.safetensors'] }), 'E_NOT_FOUND',
      'received 10 bytes', `announced ${WEIGHTS.length}`);
    assert.deepEqual(await readdir(join(cacheDir, 'models--test-org--tiny-model', 'blobs')), []);
  });

  it('follows relative redirects of renamed repositories', async () => {
    const cacheDir = join(work, 'download-renamed');
    const hub = fakeHub({ 'config.json': CONFIG });
    const renamed = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      if (url.includes('/old-org/tiny-model/')) {
        assert.equal(init?.method, 'HEAD', 'downloads use the redirected URL');
        return new Response(null, { status: 307, headers: { Location: new URL(url).pathname.replace('old-org', 'test-org') } });
      }
      return hub.fetch(input, init);
    }) as typeof fetch;
    const r = await resolveModelFiles('old-org/tiny-model', { cacheDir, fetch: renamed });
    assert.equal(await readFile(r.files.get('config.json')!, 'utf8'), CONFIG);
  });
});

describe('downloading over HTTP on loopback', () => {
  it('works with the real fetch, a CDN redirect and a token', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      const cdn = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdn/${sha256(WEIGHTS)}`;
      if (req.url === `/cdn/${sha256(WEIGHTS)}`) {
        res.writeHead(200, { 'Content-Length': WEIGHTS.length }).end(Buffer.from(WEIGHTS));
      } else if (req.url?.endsWith('/model.safetensors')) {
        res.writeHead(302, { Location: cdn, 'X-Repo-Commit': COMMIT, 'X-Linked-Etag': `"${sha256(WEIGHTS)}"`, 'X-Linked-Size': WEIGHTS.length }).end();
      } else {
        res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cacheDir = join(work, 'loopback');
      const r = await resolveModelFiles(REPO, { cacheDir, endpoint, token: 'hf_test', files: ['model.safetensors'] });
      assert.deepEqual(new Uint8Array(await readFile(r.files.get('model.safetensors')!)), WEIGHTS);
      assert.deepEqual(seen, [
        'HEAD /test-org/tiny-model/resolve/main/model.safetensors Bearer hf_test',
        `GET /test-org/tiny-model/resolve/${COMMIT}/model.safetensors Bearer hf_test`,
        `GET /cdn/${sha256(WEIGHTS)} Bearer hf_test`,
      ]);
    } finally {
      server.close();
    }
  });
});

describe('hasFile and hubOptionsFromEnv', () => {
  it('asks the Hub online and the cache offline', async () => {
    const cacheDir = await pythonCache('has-file');
    const hub = fakeHub({ 'config.json': CONFIG });
    assert.equal(await hasFile(REPO, 'config.json', { cacheDir, fetch: hub.fetch }), true);
    assert.equal(await hasFile(REPO, 'tokenizer.json', { cacheDir, fetch: hub.fetch }), false);
    assert.equal(await hasFile(REPO, 'model.safetensors', { cacheDir, offline: true }), true);
    assert.equal(await hasFile(REPO, 'tokenizer.json', { cacheDir, fetch: offlineFetch() }), false);
  });

  it('follows huggingface_hub precedence', () => {
    const home = '/home/u';
    assert.deepEqual(hubOptionsFromEnv({}, home), { cacheDir: '/home/u/.cache/huggingface/hub', offline: false });
    assert.equal(hubOptionsFromEnv({ XDG_CACHE_HOME: '/x' }, home).cacheDir, '/x/huggingface/hub');
    assert.equal(hubOptionsFromEnv({ HF_HOME: '/hf', XDG_CACHE_HOME: '/x' }, home).cacheDir, '/hf/hub');
    assert.equal(hubOptionsFromEnv({ HF_HUB_CACHE: '/c', HF_HOME: '/hf' }, home).cacheDir, '/c');
    assert.deepEqual(hubOptionsFromEnv({ HF_HUB_OFFLINE: 'yes', HF_TOKEN: 'hf_abc', HF_ENDPOINT: 'http://127.0.0.1:9/' }, home),
      { cacheDir: '/home/u/.cache/huggingface/hub', offline: true, token: 'hf_abc', endpoint: 'http://127.0.0.1:9' });
    assert.equal(hubOptionsFromEnv({ HF_HUB_OFFLINE: '0' }, home).offline, false);
  });
});
