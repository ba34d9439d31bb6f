// Resolves the files of a model: from a local folder, or from a Hub repository through the Hugging Face cache,
// as huggingface_hub's `hf_hub_download` does: a cached commit-hash revision needs no network; otherwise one
// metadata request per file learns the commit, the file is downloaded unless its blob is cached, and offline
// mode or an unreachable Hub falls back to the cache. All files of one call come from the same commit.

import { lstat, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { isCommitHash, isRepoId, lookupCached, RepoCache, validateRepoFilename } from './cache-layout.ts';
import { downloadBlob, fetchFileMetadata, HubUnreachableError, type DownloadProgress, type FileMetadata, type HubContext } from './download.ts';
import { DEFAULT_HUB_ENDPOINT, defaultHubCacheDir, type HubOptions } from './hub-options.ts';

/** Options of `resolveModelFiles` and `hasFile`. */
export interface ResolveOptions extends HubOptions {
  /** Branch, tag or commit hash. Default "main". */
  readonly revision?: string;
  /** Files that must exist. Default `["config.json"]`. */
  readonly files?: readonly string[];
  /** Files to fetch when they exist (e.g. generation_config.json); absent ones are left out of the result. */
  readonly optionalFiles?: readonly string[];
  /** Called as bytes arrive, per downloaded file. */
  readonly onProgress?: (progress: DownloadProgress) => void;
}

/** The resolved files of a model. */
export interface ResolvedModelFiles {
  /** 'local' for a folder given by path, 'hub' for a repository (served from the cache or downloaded). */
  readonly source: 'local' | 'hub';
  /** The local folder, or the cache snapshot folder: a model folder holding every resolved file. */
  readonly folder: string;
  readonly repoId: string | null;
  readonly revision: string | null;
  /** Commit the files come from (null for a local folder, or when nothing could be resolved). */
  readonly commitHash: string | null;
  /** Absolute path of each resolved file, by repository path. */
  readonly files: ReadonlyMap<string, string>;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** A local folder, or a valid repo id; anything else is an error that says which it looked like. */
async function classify(idOrPath: string): Promise<'local' | 'hub'> {
  if (await isDirectory(idOrPath)) return 'local';
  const looksLikePath = /^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/.test(idOrPath) || idOrPath.includes('\\');
  const present = await lstat(idOrPath).then(() => true, () => false);
  if (!present && !looksLikePath && isRepoId(idOrPath)) return 'hub';
  const problem = await stat(idOrPath).then(() => 'EXISTS', (error: NodeJS.ErrnoException) => error.code ?? 'ENOENT');
  if (problem === 'EXISTS') {
    throw new RoadsterError('E_NOT_FOUND', `${idOrPath} is a file; expected a model folder or a Hub repo id such as "HuggingFaceTB/SmolLM2-135M".`);
  }
  if (problem === 'ELOOP') {
    throw new RoadsterError('E_USAGE', `${idOrPath} is a symbolic link loop (ELOOP): following its links never reaches a folder. ` +
      'Fix the link to point to the model folder.');
  }
  if (problem !== 'ENOENT') {
    throw new RoadsterError('E_USAGE', `cannot read ${idOrPath} (${problem}); check that it is a model folder you may read.`);
  }
  throw new RoadsterError('E_NOT_FOUND', `No folder ${resolve(idOrPath)}, and "${idOrPath}" is not a Hub repo id (expected "name" or "org/name"). ` +
    'Pass an existing model folder or a repo id.');
}

function contextOf(options: ResolveOptions): HubContext {
  if (options.token !== undefined && !options.token.startsWith('hf_')) {
    throw new RoadsterError('E_USAGE', 'The Hub access token must start with "hf_"; check HF_TOKEN.');
  }
  return {
    endpoint: (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, ''),
    token: options.token,
    fetch: options.fetch ?? globalThis.fetch,
    onProgress: options.onProgress,
  };
}

/** One repository at one revision, resolving files one by one and pinning the commit of the first. */
class HubRepoResolver {
  readonly #ctx: HubContext | null; // null when offline
  readonly #cache: RepoCache;
  readonly #repoId: string;
  readonly #revision: string;
  #commit: string | null = null;

  constructor(repoId: string, options: ResolveOptions) {
    this.#repoId = repoId;
    this.#revision = options.revision ?? 'main';
    this.#cache = new RepoCache(options.cacheDir ?? defaultHubCacheDir(), repoId);
    this.#ctx = options.offline === true ? null : contextOf(options);
  }

  get commit(): string | null {
    return this.#commit;
  }

  /** The revision to ask for: the pinned commit once known. */
  get #pinned(): string {
    return this.#commit ?? this.#revision;
  }

  /** Path of `file` in the snapshot, or null when `optional` and absent. */
  async resolve(file: string, optional: boolean): Promise<string | null> {
    if (this.#ctx === null) return this.#fromCache(file, optional, 'offline mode is on');
    if (isCommitHash(this.#pinned)) {
      const pointer = this.#cache.pointerPath(this.#pinned, file);
      if (await isFile(pointer)) return this.#found(this.#pinned, pointer);
    }
    let meta: FileMetadata;
    try {
      meta = await fetchFileMetadata(this.#ctx, this.#repoId, this.#pinned, file);
    } catch (error) {
      if (!(error instanceof HubUnreachableError)) throw error;
      return this.#fromCache(file, optional, `the Hub could not be reached (${error.message})`);
    }
    switch (meta.kind) {
      case 'entry-not-found':
        if (meta.commit !== null) {
          await this.#cache.writeRef(this.#revision, meta.commit);
          await this.#cache.writeNoExist(meta.commit, file);
          this.#commit ??= meta.commit;
        }
        if (optional) return null;
        throw new RoadsterError('E_NOT_FOUND', `Hub repo ${this.#repoId} has no file ${file} at revision ` +
          `${this.#revision}. Check the file name, or pass a local folder that has it.`);
      case 'found': {
        await this.#cache.writeRef(this.#revision, meta.commit);
        const pointer = this.#cache.pointerPath(meta.commit, file);
        if (await isFile(pointer)) return this.#found(meta.commit, pointer);
        if (!(await isFile(this.#cache.blobPath(meta.etag)))) {
          try {
            await downloadBlob(this.#ctx, this.#cache, this.#repoId, file, meta);
          } catch (error) {
            if (!(error instanceof HubUnreachableError)) throw error;
            return this.#fromCache(file, optional, error.message);
          }
        }
        return this.#found(meta.commit, await this.#cache.linkBlob(meta.commit, file, meta.etag));
      }
    }
  }

  #found(commit: string, path: string): string {
    this.#commit ??= commit;
    return path;
  }

  async #fromCache(file: string, optional: boolean, reason: string): Promise<string | null> {
    const lookup = await lookupCached(this.#cache, this.#pinned, file);
    const where = `Hub repo ${this.#repoId}, revision ${this.#revision}`;
    const fix = 'To fix: run once with network access and without offline mode (HF_HUB_OFFLINE, --offline) ' +
      'to download it into the cache, or pass the path of a local model folder instead of a repo id.';
    switch (lookup.kind) {
      case 'hit':
        return this.#found(lookup.commit, lookup.path);
      case 'no-exist':
        this.#commit ??= lookup.commit;
        if (optional) return null;
        throw new RoadsterError('E_NOT_FOUND', `${file} does not exist in ${where} (commit ${lookup.commit}): the ` +
          `Hub said so when it was last asked (marker ${this.#cache.noExistPath(lookup.commit, file)}).`);
      case 'no-ref':
        if (optional) return null;
        throw new RoadsterError('E_NOT_FOUND', `Cannot get ${file} of ${where}: ${reason}, and this revision is not ` +
          `in the cache (no ${lookup.lookedIn}; cache folder ${this.#cache.storage}). ${fix}`);
      case 'miss':
        if (optional) return null;
        throw new RoadsterError('E_NOT_FOUND', `Cannot get ${file} of ${where}: ${reason}, and the file is not in ` +
          `the cache (looked in ${lookup.lookedIn}). ${fix}`);
    }
  }
}

/**
 * Finds a model's files: in `idOrPath` when it is a local folder, else in the Hub repository of that id
 * through the Hugging Face cache (downloading what is missing, unless offline). For sharded weights, resolve
 * the index first, then the shards with `revision` set to the returned `commitHash`.
 * @throws RoadsterError E_NOT_FOUND naming the file, the repo, the revision and the folder looked in
 */
export async function resolveModelFiles(idOrPath: string, options: ResolveOptions = {}): Promise<ResolvedModelFiles> {
  const required = options.files ?? ['config.json'];
  const optional = options.optionalFiles ?? [];
  for (const file of [...required, ...optional]) validateRepoFilename(file);
  const files = new Map<string, string>();

  if ((await classify(idOrPath)) === 'local') {
    const folder = resolve(idOrPath);
    for (const file of [...required, ...optional]) {
      const path = join(folder, file);
      if (await isFile(path)) files.set(file, path);
      else if (required.includes(file)) {
        throw new RoadsterError('E_NOT_FOUND', `The model folder ${folder} has no ${file}. Pass a folder that has ` +
          'it (a Hugging Face model folder, as save_pretrained writes it), or a Hub repo id.');
      }
    }
    return { source: 'local', folder, repoId: null, revision: null, commitHash: null, files };
  }

  const resolver = new HubRepoResolver(idOrPath, options);
  for (const file of required) files.set(file, (await resolver.resolve(file, false)) as string);
  for (const file of optional) {
    const path = await resolver.resolve(file, true);
    if (path !== null) files.set(file, path);
  }
  const commitHash = resolver.commit;
  const cacheDir = options.cacheDir ?? defaultHubCacheDir();
  const folder = commitHash === null ? new RepoCache(cacheDir, idOrPath).storage : new RepoCache(cacheDir, idOrPath).snapshotDir(commitHash);
  return { source: 'hub', folder, repoId: idOrPath, revision: options.revision ?? 'main', commitHash, files };
}

/**
 * True when `file` exists: in the local folder, or in the Hub repository (asked online; offline, or when the
 * Hub cannot be reached, in the cache only). Downloads nothing.
 */
export async function hasFile(idOrPath: string, file: string, options: Omit<ResolveOptions, 'files' | 'optionalFiles'> = {}): Promise<boolean> {
  validateRepoFilename(file);
  if ((await classify(idOrPath)) === 'local') return isFile(join(idOrPath, file));
  const revision = options.revision ?? 'main';
  const cache = new RepoCache(options.cacheDir ?? defaultHubCacheDir(), idOrPath);
  if (options.offline !== true) {
    try {
      const meta = await fetchFileMetadata(contextOf(options), idOrPath, revision, file);
      return meta.kind === 'found';
    } catch (error) {
      if (!(error instanceof HubUnreachableError)) throw error;
    }
  }
  return (await lookupCached(cache, revision, file)).kind === 'hit';
}
