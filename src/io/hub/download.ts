// Talks to the Hub for one file: the metadata request of huggingface_hub's `get_hf_file_metadata` (HEAD on
// /resolve/, redirects not followed except relative ones, commit from X-Repo-Commit, blob name from
// X-Linked-Etag or ETag) and the transfer through `@huggingface/hub`'s `downloadFile`, streamed into
// blobs/{etag} through a temporary file and a rename, with progress reports.

import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { downloadFile } from '@huggingface/hub';
import { RoadsterError } from '../../errors.ts';
import type { RepoCache } from './cache-layout.ts';

/** Progress of one file's download. */
export interface DownloadProgress {
  readonly file: string;
  readonly bytesDone: number;
  /** Size announced by the Hub, or null when it did not say. */
  readonly bytesTotal: number | null;
}

/** What one request needs: endpoint, token and fetch, already defaulted. */
export interface HubContext {
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly fetch: typeof fetch;
  readonly onProgress: ((progress: DownloadProgress) => void) | undefined;
}

/** What the Hub says about one file at one revision. */
export type FileMetadata =
  | {
      readonly kind: 'found';
      readonly commit: string;
      readonly etag: string;
      readonly size: number | null;
      /** Where to download from: the resolve URL after relative redirects, pinned to the commit. */
      readonly url: string;
    }
  /** 404 with X-Error-Code EntryNotFound: the repository and revision exist, the file does not. */
  | { readonly kind: 'entry-not-found'; readonly commit: string | null };

/** The Hub could not be reached or answered with a transient error: callers fall back to the cache. */
export class HubUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubUnreachableError';
  }
}

/** The message of anything thrown, for error texts. */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** `{endpoint}/{repo}/resolve/{revision}/{file}`, quoted as huggingface_hub's `hf_hub_url` does. */
export function resolveUrl(endpoint: string, repoId: string, revision: string, file: string): string {
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** huggingface_hub's `_normalize_etag`: drop a weak-validator prefix and the quotes. */
function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function authHeaders(ctx: HubContext): Record<string, string> {
  return ctx.token === undefined ? {} : { Authorization: `Bearer ${ctx.token}` };
}

/** Turns a 4xx answer into the error huggingface_hub would raise, or null for EntryNotFound. */
function httpError(response: Response, repoId: string, revision: string, file: string): RoadsterError | null {
  const code = response.headers.get('x-error-code');
  const detail = response.headers.get('x-error-message');
  const said = detail === null ? '' : ` The Hub said: ${detail}`;
  if (response.status === 404 && code === 'EntryNotFound') return null;
  if (response.status === 404 && code === 'RevisionNotFound') {
    return new RoadsterError('E_NOT_FOUND', `Hub repo ${repoId} has no revision "${revision}" (branch, tag or ` +
      `commit hash).${said}`);
  }
  if (response.status === 403 && code === 'GatedRepo') {
    return new RoadsterError('E_NOT_FOUND', `Hub repo ${repoId} is gated: accept its conditions on its Hub page, ` +
      `then pass an access token (HF_TOKEN) of that account.${said}`);
  }
  if (response.status === 401 || response.status === 403 || response.status === 404) {
    return new RoadsterError('E_NOT_FOUND', `Hub repo ${repoId} was not found (HTTP ${response.status} for ${file}). ` +
      `Check the repo id; for a private or gated repo, pass an access token (HF_TOKEN) that may read it.${said}`);
  }
  return null;
}

/**
 * Asks the Hub for a file's commit, etag and size.
 * @throws HubUnreachableError on network failure or a transient HTTP error
 * @throws RoadsterError E_NOT_FOUND for a missing repository or revision, or no access
 */
export async function fetchFileMetadata(ctx: HubContext, repoId: string, revision: string, file: string): Promise<FileMetadata> {
  let url = resolveUrl(ctx.endpoint, repoId, revision, file);
  for (let hop = 0; hop < 10; hop++) {
    let response: Response;
    try {
      response = await ctx.fetch(url, {
        method: 'HEAD',
        redirect: 'manual',
        headers: { 'Accept-Encoding': 'identity', ...authHeaders(ctx) },
      });
    } catch (error) {
      throw new HubUnreachableError(`${errorText(error)} (${url})`, { cause: error });
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location !== null && location.startsWith('/')) {
      url = new URL(location, url).href; // a renamed repository: follow, as huggingface_hub does
      continue;
    }
    if (response.status >= 400) {
      const error = httpError(response, repoId, revision, file);
      if (error !== null) throw error;
      if (response.status === 404) return { kind: 'entry-not-found', commit: response.headers.get('x-repo-commit') };
      throw new HubUnreachableError(`HTTP ${response.status} from ${url}`);
    }
    const commit = response.headers.get('x-repo-commit');
    const etag = response.headers.get('x-linked-etag') ?? response.headers.get('etag');
    if (commit === null || etag === null) {
      throw new HubUnreachableError(`the answer from ${url} lacks X-Repo-Commit or ETag (is a proxy in the way?)`);
    }
    const sizeHeader = response.headers.get('x-linked-size') ?? response.headers.get('content-length');
    const size = sizeHeader === null ? null : Number.parseInt(sizeHeader, 10);
    return {
      kind: 'found',
      commit,
      etag: normalizeEtag(etag),
      size: Number.isSafeInteger(size) ? size : null,
      url: url.replace(/\/resolve\/[^/]+\//, `/resolve/${encodeURIComponent(commit)}/`),
    };
  }
  throw new HubUnreachableError(`too many redirects from ${url}`);
}

/**
 * Downloads a file into `blobs/{etag}` of the cache (through `{etag}.*.incomplete` and a rename), reporting
 * progress. Returns the blob path.
 * @throws HubUnreachableError when the transfer fails; the partial file is removed
 */
export async function downloadBlob(ctx: HubContext, cache: RepoCache, repoId: string, file: string, meta: FileMetadata & { kind: 'found' }): Promise<string> {
  const blobPath = cache.blobPath(meta.etag);
  await mkdir(dirname(blobPath), { recursive: true });
  const temp = `${blobPath}.${process.pid}.${Math.random().toString(36).slice(2)}.incomplete`;
  const report = (bytesDone: number): void => ctx.onProgress?.({ file, bytesDone, bytesTotal: meta.size });
  let done = 0;
  try {
    const blob = await downloadFile({
      repo: { type: 'model', name: repoId },
      path: file,
      revision: meta.commit,
      hubUrl: ctx.endpoint,
      fetch: ctx.fetch,
      ...(ctx.token === undefined ? {} : { accessToken: ctx.token }),
      xet: false,
      downloadInfo: { etag: meta.etag, size: meta.size ?? 0, url: meta.url },
    });
    if (blob === null) throw new Error('the Hub answered that the file does not exist');
    report(0);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        done += chunk.byteLength;
        report(done);
        callback(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(blob.stream() as WebReadableStream<Uint8Array>), counter, createWriteStream(temp));
    if (meta.size !== null && done !== meta.size) {
      throw new Error(`received ${done} bytes, the Hub announced ${meta.size}`);
    }
    await rename(temp, blobPath);
    return blobPath;
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof RoadsterError) throw error;
    throw new HubUnreachableError(`downloading ${file} of ${repoId} failed after ${done} bytes: ` +
      `${errorText(error)}`, { cause: error });
  }
}
