// Token cache: a dataset is tokenized once per (data file, tokenizer files, tokenize options). The key is a
// sha256 over the data file's bytes, the tokenizer's files (tokenizer.json, tokenizer_config.json and chat
// template files, which change the rendering of conversations) and the options. The file is binary, written
// atomically (temporary file, then rename):
//   "RDSTDATA" | u32 version | u32 header bytes | header JSON {key, count, tokens, digest, meta}
//   | i32 offsets[count + 1] | i32 ids[tokens] | u8 loss mask[tokens] | i32 class labels[count] (-1: none)
// all little-endian. Labels are stored as a loss mask since a label is either its token id or -100. A file whose
// magic, version, key, sizes or body digest do not check out is ignored, and the caller rebuilds it.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { IGNORE_INDEX, type TokenizedExample } from './tokenize.ts';

const MAGIC = 'RDSTDATA';
const VERSION = 2;

/** What a cache file holds: the examples and the caller's JSON metadata (info, report). */
export interface CachePayload {
  readonly examples: readonly TokenizedExample[];
  readonly meta: unknown;
}

/** A cache lookup: the payload, or why there is none ('absent', or what was wrong with the file). */
export type CacheRead = { readonly hit: true; readonly payload: CachePayload } | { readonly hit: false; readonly reason: string };

function update(hash: ReturnType<typeof createHash>, tag: string, bytes: Uint8Array | string): void {
  const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  hash.update(`${tag}:${body.length}:`);
  hash.update(body);
}

/**
 * The sha256 hex of a file's bytes (streamed).
 * @throws RoadsterError E_NOT_FOUND when it is missing, E_DATA when it cannot be read
 */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RoadsterError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_DATA', `Cannot read ${file}: ${(error as Error).message}.`, { cause: error });
  }
  return hash.digest('hex');
}

async function readIfPresent(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The files of a tokenizer folder that decide tokenization, with their bytes (tokenizer.json required). */
async function tokenizerFiles(folder: string): Promise<[string, Buffer | null][]> {
  const names = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'];
  let extra: string[] = [];
  try {
    extra = (await readdir(join(folder, 'additional_chat_templates'))).filter((n) => n.endsWith('.jinja')).sort();
  } catch {
    extra = [];
  }
  names.push(...extra.map((n) => join('additional_chat_templates', n)));
  const files: [string, Buffer | null][] = [];
  for (const name of names) files.push([name, await readIfPresent(join(folder, name))]);
  if (files[0][1] === null) {
    throw new RoadsterError('E_NOT_FOUND', `No tokenizer.json in ${folder}: the token cache is keyed on the tokenizer's ` +
      'files; pass the folder the tokenizer was loaded from.');
  }
  return files;
}

/** The sha256 hex over the files of a tokenizer folder that decide tokenization (tokenizer.json required). */
export async function tokenizerDigest(folder: string): Promise<string> {
  const hash = createHash('sha256');
  for (const [name, bytes] of await tokenizerFiles(folder)) update(hash, name, bytes ?? 'absent');
  return hash.digest('hex');
}

/** JSON with sorted keys, so equal options give equal keys. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The cache key of a dataset: sha256 hex over the data file, the tokenizer's files and `options`.
 * @throws RoadsterError E_NOT_FOUND when the data file or tokenizer.json is missing
 */
export async function cacheKey(dataFile: string, tokenizerFolder: string, options: unknown): Promise<string> {
  const hash = createHash('sha256');
  update(hash, 'roadster-data-cache', String(VERSION));
  update(hash, 'data', await hashFile(dataFile));
  for (const [name, bytes] of await tokenizerFiles(tokenizerFolder)) update(hash, name, bytes ?? 'absent');
  update(hash, 'options', canonicalJson(options));
  return hash.digest('hex');
}

/** Where the cache file of `key` lives in `dir`. */
export function cachePath(dir: string, key: string): string {
  return join(dir, `tokens-${key}.bin`);
}

function encodeBody(examples: readonly TokenizedExample[]): Buffer {
  const count = examples.length;
  const tokens = examples.reduce((n, e) => n + e.inputIds.length, 0);
  const body = Buffer.alloc(4 * (count + 1) + 4 * tokens + tokens + 4 * count);
  let at = 0;
  const i32 = (v: number): void => void (at = body.writeInt32LE(v, at));
  let offset = 0;
  i32(0);
  for (const e of examples) i32((offset += e.inputIds.length));
  for (const e of examples) for (const id of e.inputIds) i32(id);
  for (const e of examples) {
    e.labels.forEach((label, t) => {
      if (label !== IGNORE_INDEX && label !== e.inputIds[t]) {
        throw new Error(`roadster internal error: label ${label} at ${t} is neither -100 nor the token ${e.inputIds[t]}`);
      }
      at = body.writeUInt8(label === IGNORE_INDEX ? 0 : 1, at);
    });
  }
  for (const e of examples) i32(e.classLabel ?? -1);
  return body;
}

function decodeBody(body: Buffer, count: number, tokens: number): TokenizedExample[] | null {
  if (body.length !== 4 * (count + 1) + 5 * tokens + 4 * count) return null;
  const offsets = Array.from({ length: count + 1 }, (_, i) => body.readInt32LE(4 * i));
  if (offsets[0] !== 0 || offsets[count] !== tokens || offsets.some((o, i) => i > 0 && o < offsets[i - 1])) return null;
  const idsAt = 4 * (count + 1);
  const maskAt = idsAt + 4 * tokens;
  const classAt = maskAt + tokens;
  const examples: TokenizedExample[] = [];
  for (let i = 0; i < count; i++) {
    const inputIds: number[] = [];
    const labels: number[] = [];
    for (let t = offsets[i]; t < offsets[i + 1]; t++) {
      const id = body.readInt32LE(idsAt + 4 * t);
      inputIds.push(id);
      labels.push(body[maskAt + t] === 1 ? id : IGNORE_INDEX);
    }
    const classLabel = body.readInt32LE(classAt + 4 * i);
    examples.push(classLabel >= 0 ? { inputIds, labels, classLabel } : { inputIds, labels });
  }
  return examples;
}

/** Reads the cache file of `key`; never throws for a missing or damaged file. */
export async function readCache(dir: string, key: string): Promise<CacheRead> {
  let bytes: Buffer;
  try {
    bytes = await readFile(cachePath(dir, key));
  } catch (error) {
    return { hit: false, reason: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : (error as Error).message };
  }
  const bad = (reason: string): CacheRead => ({ hit: false, reason });
  if (bytes.length < 16 || bytes.toString('latin1', 0, 8) !== MAGIC) return bad('not a roadster token cache');
  if (bytes.readUInt32LE(8) !== VERSION) return bad(`cache version ${bytes.readUInt32LE(8)}, expected ${VERSION}`);
  const headerEnd = 16 + bytes.readUInt32LE(12);
  if (headerEnd > bytes.length) return bad('truncated header');
  let header: { key?: unknown; count?: unknown; tokens?: unknown; digest?: unknown; meta?: unknown };
  try {
    header = JSON.parse(bytes.toString('utf8', 16, headerEnd)) as typeof header;
  } catch {
    return bad('unreadable header');
  }
  const { count, tokens } = header;
  if (header.key !== key) return bad('key mismatch');
  if (!Number.isInteger(count) || !Number.isInteger(tokens)) return bad('bad sizes');
  const body = bytes.subarray(headerEnd);
  if (createHash('sha256').update(body).digest('hex') !== header.digest) return bad('body digest mismatch');
  const examples = decodeBody(body, count as number, tokens as number);
  return examples === null ? bad('inconsistent body') : { hit: true, payload: { examples, meta: header.meta } };
}

/**
 * Writes the cache file of `key` atomically.
 * @returns its path
 * @throws RoadsterError E_DATA when the folder cannot be written
 */
export async function writeCache(dir: string, key: string, payload: CachePayload): Promise<string> {
  const body = encodeBody(payload.examples);
  const tokens = payload.examples.reduce((n, e) => n + e.inputIds.length, 0);
  const digest = createHash('sha256').update(body).digest('hex');
  const header = Buffer.from(JSON.stringify({ key, count: payload.examples.length, tokens, digest, meta: payload.meta }), 'utf8');
  const prefix = Buffer.alloc(16);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(VERSION, 8);
  prefix.writeUInt32LE(header.length, 12);
  const path = cachePath(dir, key);
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(temp, Buffer.concat([prefix, header, body]));
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new RoadsterError('E_DATA', `Cannot write the token cache ${path}: ${(error as Error).message}. Pass a writable ` +
      'cache folder, or none to tokenize without caching.', { cause: error });
  }
  return path;
}
