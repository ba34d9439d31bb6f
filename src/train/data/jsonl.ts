// Streams a JSONL file line by line (blank lines skipped, a UTF-8 BOM tolerated, CRLF accepted) and hands each
// parsed value to a record parser. A line that is not JSON, or that the parser rejects with a `LineError`, is a
// data error naming `file:line`; with `skipBadLines` it is skipped and counted instead. Bytes that are not valid
// UTF-8 are decoded as U+FFFD (as Python's errors="replace") and the lines holding them are counted.

import { createReadStream } from 'node:fs';
import { RoadsterError } from '../../errors.ts';

/** Thrown by record parsers: what is wrong with one line (the reader adds `file:line`). */
export class LineError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'LineError';
  }
}

/** One skipped line and why. */
export interface BadLine {
  readonly line: number;
  readonly reason: string;
}

/** A parsed record and the 1-based line it came from. */
export interface JsonlRecord<T> {
  readonly line: number;
  readonly value: T;
}

export interface JsonlResult<T> {
  readonly records: JsonlRecord<T>[];
  /** The first `MAX_LISTED_BAD_LINES` skipped lines; `skipped` counts all of them. */
  readonly badLines: BadLine[];
  readonly skipped: number;
  /** Lines holding bytes that are not valid UTF-8 (decoded as U+FFFD), and the first of them. */
  readonly invalidUtf8: { readonly count: number; readonly lines: readonly number[] };
}

/** Line numbers listed in a report next to a count. */
export const MAX_LISTED_LINES = 10;

/** The file's lines as bytes, without the newline (and without a CR before it). */
async function* byteLines(file: string): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  const cut = (b: Buffer) => (b.length > 0 && b[b.length - 1] === 13 ? b.subarray(0, b.length - 1) : b);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, end));
      yield cut(pending.length === 1 ? pending[0] : Buffer.concat(pending));
      pending = [];
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield cut(Buffer.concat(pending));
}

export interface JsonlOptions {
  /** Skip and count bad lines instead of failing on the first one. */
  readonly skipBadLines?: boolean;
  /** Collect bad lines into this log (shared with later stages such as tokenization) instead of a new one. */
  readonly log?: BadLineLog;
}

/** Bad lines listed in a result; more are only counted, so a broken file cannot flood memory or logs. */
export const MAX_LISTED_BAD_LINES = 100;

/** Collects bad lines: throws on the first one unless skipping. */
export class BadLineLog {
  readonly badLines: BadLine[] = [];
  skipped = 0;
  constructor(
    private readonly file: string,
    private readonly skip: boolean,
  ) {}

  /** Records `reason` for `line`; throws E_DATA when not skipping. */
  report(line: number, reason: string): void {
    if (!this.skip) {
      throw new RoadsterError('E_DATA', `${this.file}:${line}: ${reason} Fix or remove the line, or skip bad lines ` +
        '(skipBadLines, --skip-bad-lines).');
    }
    this.skipped++;
    if (this.badLines.length < MAX_LISTED_BAD_LINES) this.badLines.push({ line, reason });
  }

  /** Runs `fn`; a `LineError` it throws is reported for `line` and gives undefined. */
  guard<T>(line: number, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof LineError)) throw error;
      this.report(line, error.message);
      return undefined;
    }
  }
}

/**
 * Reads `file` as JSONL and parses each non-blank line with `parse`.
 * @param parse turns a JSON value into a record; throws `LineError` to reject the line
 * @throws RoadsterError E_NOT_FOUND when the file cannot be read, E_DATA on a bad line unless skipping
 */
export async function readJsonl<T>(file: string, parse: (value: unknown, line: number) => T, options: JsonlOptions = {}): Promise<JsonlResult<T>> {
  const log = options.log ?? new BadLineLog(file, options.skipBadLines ?? false);
  const records: JsonlRecord<T>[] = [];
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const invalid: number[] = [];
  let invalidCount = 0;
  let line = 0;
  try {
    for await (const bytes of byteLines(file)) {
      line++;
      let raw: string;
      try {
        raw = strict.decode(bytes);
      } catch {
        raw = bytes.toString('utf8');
        invalidCount++;
        if (invalid.length < MAX_LISTED_LINES) invalid.push(line);
      }
      const text = line === 1 && raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
      if (text.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(text) as unknown;
      } catch (error) {
        log.report(line, `not valid JSON (${(error as Error).message}).`);
        continue;
      }
      const value = log.guard(line, () => parse(json, line));
      if (value !== undefined) records.push({ line, value });
    }
  } catch (error) {
    if (error instanceof RoadsterError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new RoadsterError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_DATA',
      `Cannot read the data file ${file}: ${(error as Error).message}.`, { cause: error });
  }
  return { records, badLines: log.badLines, skipped: log.skipped, invalidUtf8: { count: invalidCount, lines: invalid } };
}
