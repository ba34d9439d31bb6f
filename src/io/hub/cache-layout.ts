// The Hugging Face cache layout, read and written exactly as Python's huggingface_hub does
// (`file_download.py`), so that a model downloaded by either is found by the other:
//   <cache>/models--{org}--{name}/refs/{revision}           commit hash of a branch or tag, no newline
//   <cache>/models--{org}--{name}/snapshots/{commit}/{file}  relative symlink to ../../blobs/{etag}
//   <cache>/models--{org}--{name}/blobs/{etag}               the bytes
//   <cache>/models--{org}--{name}/.no_exist/{commit}/{file}  empty: the Hub said this file does not exist

import { copyFile, mkdir, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { RoadsterError } from '../../errors.ts';

const COMMIT_HASH = /^[0-9a-f]{40}$/;
// huggingface_hub's REPO_ID_REGEX, plus its bans on "--" and ".."
const REPO_ID = /^(\b[\w\-.]+\b\/)?\b[\w\-.]{1,96}\b$/;

/** True for a full 40-hex commit hash. */
export function isCommitHash(revision: string): boolean {
  return COMMIT_HASH.test(revision);
}

/** True when `id` is a valid Hub repository id (`name` or `org/name`). */
export function isRepoId(id: string): boolean {
  return REPO_ID.test(id) && !id.includes('--') && !id.includes('..');
}

/** `models--{org}--{name}`, the repository's folder in the cache. */
export function repoFolderName(repoId: string): string {
  return ['models', ...repoId.split('/')].join('--');
}

/** Throws E_USAGE unless `file` is a relative path inside a repository (no `..`, no absolute path). */
export function validateRepoFilename(file: string): void {
  const parts = file.split('/');
  if (file === '' || file.startsWith('/') || file.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new RoadsterError('E_USAGE', `"${file}" is not a file path inside a repository: use a relative path with ` +
      '"/" separators and no "." or ".." parts, e.g. "config.json" or "onnx/model.onnx".');
  }
}

/** Paths of one repository in the cache. */
export class RepoCache {
  /** `<cache>/models--{org}--{name}` */
  readonly storage: string;

  /** @param cacheDir the cache root, holding `models--*` folders */
  constructor(cacheDir: string, repoId: string) {
    this.storage = join(cacheDir, repoFolderName(repoId));
  }

  /** `refs/{revision}`: holds the commit hash of a branch or tag. */
  refPath(revision: string): string {
    return join(this.storage, 'refs', revision);
  }

  /** `snapshots/{commit}`: a model folder of symlinks. */
  snapshotDir(commit: string): string {
    return join(this.storage, 'snapshots', commit);
  }

  /** `snapshots/{commit}/{file}`: the symlink to the file's blob. */
  pointerPath(commit: string, file: string): string {
    return join(this.snapshotDir(commit), file);
  }

  /** `blobs/{etag}`: the file's bytes. */
  blobPath(etag: string): string {
    return join(this.storage, 'blobs', etag);
  }

  /** `.no_exist/{commit}/{file}`: marker of a file the Hub does not have at that commit. */
  noExistPath(commit: string, file: string): string {
    return join(this.storage, '.no_exist', commit, file);
  }

  /** The commit a revision points to: itself for a commit hash, else the content of refs/{revision}. */
  async readRef(revision: string): Promise<string | null> {
    if (isCommitHash(revision)) return revision;
    try {
      return (await readFile(this.refPath(revision), 'utf8')).trim();
    } catch {
      return null;
    }
  }

  /** Records that `revision` points to `commit` (huggingface_hub's `_cache_commit_hash_for_specific_revision`). */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    if ((await this.readRef(revision)) === commit) return;
    const path = this.refPath(revision);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(temp, commit);
    await rename(temp, path);
  }

  /** Marks a file as known-missing at a commit, as huggingface_hub does after a 404. */
  async writeNoExist(commit: string, file: string): Promise<void> {
    const path = this.noExistPath(commit, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '');
  }

  /**
   * Links `snapshots/{commit}/{file}` to `blobs/{etag}` with a relative symlink; where symlinks are not
   * allowed (Windows without developer mode), copies the blob instead, as huggingface_hub does.
   */
  async linkBlob(commit: string, file: string, etag: string): Promise<string> {
    const pointer = this.pointerPath(commit, file);
    const blob = this.blobPath(etag);
    await mkdir(dirname(pointer), { recursive: true });
    try {
      await symlink(relative(dirname(pointer), blob), pointer);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPERM' || code === 'EACCES' || code === 'ENOTSUP') await copyFile(blob, pointer);
      else if (code !== 'EEXIST') throw error;
    }
    return pointer;
  }
}

/** Where a file was looked for in the cache, and what was there. */
export type CacheLookup =
  | { readonly kind: 'hit'; readonly path: string; readonly commit: string }
  /** The Hub said earlier that the file does not exist at this commit. */
  | { readonly kind: 'no-exist'; readonly commit: string; readonly lookedIn: string }
  /** refs/{revision} is missing: this revision was never downloaded. */
  | { readonly kind: 'no-ref'; readonly lookedIn: string }
  | { readonly kind: 'miss'; readonly commit: string; readonly lookedIn: string };

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile(); // stat follows the snapshot symlink to the blob
  } catch {
    return false;
  }
}

/** Looks a file up in the cache at a revision (branch, tag or commit hash), following refs and symlinks. */
export async function lookupCached(cache: RepoCache, revision: string, file: string): Promise<CacheLookup> {
  const commit = await cache.readRef(revision);
  if (commit === null) return { kind: 'no-ref', lookedIn: cache.refPath(revision) };
  const pointer = cache.pointerPath(commit, file);
  if (await isFile(pointer)) return { kind: 'hit', path: pointer, commit };
  if (await isFile(cache.noExistPath(commit, file))) return { kind: 'no-exist', commit, lookedIn: pointer };
  return { kind: 'miss', commit, lookedIn: pointer };
}
