// loadDataset: JSONL file → validated examples → tokens and labels → a TokenizedDataset, with a report of what
// was skipped, truncated and dropped. With a cache folder, the tokenized result is stored under a key of the
// data file, the tokenizer's files and the options, and a later load with the same inputs reads it back.

import { RoadsterError } from '../../errors.ts';
import type { Tokenizer } from '../../io/tokenizer/index.ts';
import { cacheKey, cachePath, readCache, writeCache } from './cache.ts';
import { TokenizedDataset, type DatasetInfo } from './dataset.ts';
import { DATA_FORMATS, parseExample, type DataFormat, type ExpectedFormat } from './formats.ts';
import { BadLineLog, MAX_LISTED_LINES, readJsonl, type BadLine } from './jsonl.ts';
import { buildClassList, type ClassList, type LabelNames } from './labels.ts';
import { clipExample, DEFAULT_PROMPT_SEPARATOR, LABEL_MODES, labelCompletionIds, tokenizeExample, type LabelMode, type TokenizedExample } from './tokenize.ts';

/** The chat roles templates know; messages with other roles are counted and reported. */
export const KNOWN_ROLES: readonly string[] = ['system', 'developer', 'user', 'assistant', 'tool', 'function', 'ipython'];

export interface LoadDatasetOptions {
  readonly tokenizer: Tokenizer;
  /** Longest example, in tokens; longer ones are truncated (see tokenize.ts). */
  readonly maxLength: number;
  /** The file's format; detected from the first record when omitted. */
  readonly format?: DataFormat;
  /** Classification records: 'generate' (default) or 'classify'. */
  readonly labelMode?: LabelMode;
  /** Classification: the words of each class (a list by class index, or a map from label value). */
  readonly labelNames?: LabelNames;
  /** Classification in 'generate' mode: text between the text and the label words. */
  readonly promptSeparator?: string;
  /** 'classify' mode: text appended after each text and kept by truncation (see TokenizeOptions). Default none. */
  readonly classifySuffix?: string;
  /** Skip and count bad lines instead of failing on the first. */
  readonly skipBadLines?: boolean;
  /** Folder of the token cache (e.g. `<out>/.cache/`); no caching when omitted. */
  readonly cacheDir?: string;
  /** The folder the tokenizer was loaded from; required with `cacheDir` (the cache key hashes its files). */
  readonly tokenizerFolder?: string;
}

export interface LoadReport {
  /** Examples in the dataset. */
  readonly examples: number;
  readonly format: DataFormat;
  /** Lines skipped with `skipBadLines` (the first 100 are listed). */
  readonly badLines: readonly BadLine[];
  readonly skipped: number;
  /** Examples longer than maxLength, and the tokens cut from them. */
  readonly truncated: number;
  readonly droppedTokens: number;
  /** Examples left without any loss term (or token) after truncation. */
  readonly droppedExamples: number;
  /**
   * Records with a field longer than maxLength × MAX_CHARS_PER_TOKEN characters, cut to that before tokenizing
   * (counted in `truncated` too; `droppedTokens` counts only tokens dropped from what was tokenized).
   */
  readonly cutRecords: number;
  /** Records with nothing to train on before any truncation (an empty text, completion or label, a conversation without assistant turn), and the first of their lines. */
  readonly emptyRecords: number;
  readonly emptyLines: readonly number[];
  /** Lines holding bytes that are not valid UTF-8 (read as U+FFFD), and the first of them. */
  readonly invalidUtf8Lines: number;
  readonly invalidUtf8At: readonly number[];
  /** Chat messages whose role is none of KNOWN_ROLES (chat templates skip or mis-render them), and those roles. */
  readonly unknownRoles: { readonly messages: number; readonly roles: readonly string[] };
  /** 'off' without cacheDir; 'hit'; 'miss' (tokenized and stored); 'rebuilt' (a damaged file was replaced). */
  readonly cache: 'off' | 'hit' | 'miss' | 'rebuilt';
  readonly cacheFile?: string;
}

export interface LoadedDataset {
  readonly dataset: TokenizedDataset;
  readonly report: LoadReport;
}

type StoredReport = Omit<LoadReport, 'cache' | 'cacheFile'>;

function checkOptions(options: LoadDatasetOptions): void {
  const { maxLength, format, labelMode, promptSeparator, classifySuffix, cacheDir, tokenizerFolder } = options;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RoadsterError('E_USAGE', `maxLength must be a positive integer, found ${maxLength}.`);
  if (format !== undefined && !DATA_FORMATS.includes(format)) {
    throw new RoadsterError('E_USAGE', `format must be one of ${DATA_FORMATS.join(', ')}, found ${JSON.stringify(format)}.`);
  }
  if (labelMode !== undefined && !LABEL_MODES.includes(labelMode)) {
    throw new RoadsterError('E_USAGE', `labelMode must be one of ${LABEL_MODES.join(', ')}, found ${JSON.stringify(labelMode)}.`);
  }
  if (promptSeparator !== undefined && typeof promptSeparator !== 'string') throw new RoadsterError('E_USAGE', 'promptSeparator must be a string.');
  if (classifySuffix !== undefined && typeof classifySuffix !== 'string') throw new RoadsterError('E_USAGE', 'classifySuffix must be a string.');
  if (cacheDir !== undefined && tokenizerFolder === undefined) {
    throw new RoadsterError('E_USAGE', 'cacheDir needs tokenizerFolder: the cache key hashes the tokenizer files, so ' +
      'pass the folder the tokenizer was loaded from (or no cacheDir).');
  }
}

/** The cached metadata, checked (a cache written by another version may lack fields). */
function storedMeta(meta: unknown): { info: DatasetInfo; report: StoredReport } | null {
  const m = meta as { info?: { format?: unknown }; report?: Record<string, unknown> } | null;
  if (typeof m !== 'object' || m === null || typeof m.info !== 'object' || typeof m.report !== 'object' || m.report === null) return null;
  if (!DATA_FORMATS.includes(m.info.format as DataFormat)) return null;
  for (const field of ['examples', 'skipped', 'truncated', 'droppedTokens', 'droppedExamples', 'cutRecords', 'emptyRecords', 'invalidUtf8Lines']) {
    if (!Number.isInteger(m.report[field])) return null;
  }
  if (!Array.isArray(m.report.badLines)) return null;
  return m as { info: DatasetInfo; report: StoredReport };
}

async function tokenizeFile(file: string, options: LoadDatasetOptions): Promise<{ examples: TokenizedExample[]; info: DatasetInfo; report: StoredReport }> {
  const { tokenizer, maxLength } = options;
  const log = new BadLineLog(file, options.skipBadLines ?? false);
  let expected: ExpectedFormat | undefined = options.format === undefined ? undefined : { format: options.format };
  let cutRecords = 0;
  const { records, invalidUtf8 } = await readJsonl(file, (value, line) => {
    const parsed = parseExample(value, expected);
    expected ??= { format: parsed.format, line };
    const { example, cut } = clipExample(parsed, maxLength); // a huge record costs no more than truncation keeps
    if (cut) cutRecords++;
    return { example, cut };
  }, { log });
  const format = expected?.format ?? options.format ?? 'text';
  if (format === 'messages' && records.length > 0) tokenizer.chatTemplate();

  let classes: ClassList | undefined;
  const labelMode = options.labelMode ?? 'generate';
  const separator = options.promptSeparator ?? DEFAULT_PROMPT_SEPARATOR;
  if (format === 'classification') {
    classes = buildClassList(records.flatMap((r) => (r.value.example.format === 'classification' ? [r.value.example.label] : [])), options.labelNames);
  }
  const examples: TokenizedExample[] = [];
  let truncated = 0;
  let droppedTokens = 0;
  let droppedExamples = 0;
  const emptyLines: number[] = [];
  let emptyRecords = 0;
  let unknownRoleMessages = 0;
  const unknownRoles = new Set<string>();
  for (const { line, value } of records) {
    const { example, cut } = value;
    if (example.format === 'messages') {
      for (const m of example.messages) {
        if (KNOWN_ROLES.includes(m.role)) continue;
        unknownRoleMessages++;
        unknownRoles.add(m.role);
      }
    }
    const result = log.guard(line, () => tokenizeExample(example, tokenizer, { maxLength, labelMode, promptSeparator: separator, classifySuffix: options.classifySuffix, classes }));
    if (result === undefined) continue;
    if (result.droppedTokens > 0 || cut) truncated++;
    droppedTokens += result.droppedTokens;
    if (result.example !== null) examples.push(result.example);
    else if (result.droppedTokens > 0 || cut) droppedExamples++;
    else {
      emptyRecords++;
      if (emptyLines.length < MAX_LISTED_LINES) emptyLines.push(line);
    }
  }
  if (examples.length === 0) {
    const why = [
      records.length + log.skipped === 0 ? 'it has no records (only blank lines, or none)' : '',
      log.skipped > 0 ? `${log.skipped} bad line(s) skipped` : '',
      emptyRecords > 0 ? `${emptyRecords} record(s) have nothing to train on (an empty text, completion or label, or a conversation with no assistant turn; lines ${emptyLines.join(', ')})` : '',
      droppedExamples > 0 ? `${droppedExamples} example(s) had nothing to learn from after truncation to maxLength ${maxLength}` : '',
    ].filter((s) => s !== '');
    throw new RoadsterError('E_DATA', `${file} has no usable example: ${why.join('; ')}. Check the file and its format` +
      `${droppedExamples > 0 ? ', or raise maxLength' : ''}.`);
  }
  const info: DatasetInfo = classes === undefined ? { format } : {
    format,
    labelMode,
    classNames: classes.names,
    ...(labelMode === 'generate' ? { classCompletions: classes.names.map((w) => labelCompletionIds(tokenizer, w, separator)) } : {}),
  };
  const badLines = [...log.badLines].sort((a, b) => a.line - b.line);
  const report: StoredReport = {
    examples: examples.length,
    format,
    badLines,
    skipped: log.skipped,
    truncated,
    droppedTokens,
    droppedExamples,
    cutRecords,
    emptyRecords,
    emptyLines,
    invalidUtf8Lines: invalidUtf8.count,
    invalidUtf8At: invalidUtf8.lines,
    unknownRoles: { messages: unknownRoleMessages, roles: [...unknownRoles].sort() },
  };
  return { examples, info, report };
}

/**
 * Reads, validates and tokenizes a JSONL training file.
 * @throws RoadsterError E_DATA naming `file:line` for a bad line (unless skipBadLines) and when no usable
 *   example is left; E_USAGE for bad options; E_NOT_FOUND when the file is missing; E_TOKENIZER when a
 *   conversational file meets a tokenizer without chat template
 */
export async function loadDataset(file: string, options: LoadDatasetOptions): Promise<LoadedDataset> {
  checkOptions(options);
  const { cacheDir, tokenizerFolder } = options;
  if (cacheDir === undefined || tokenizerFolder === undefined) {
    const { examples, info, report } = await tokenizeFile(file, options);
    return { dataset: new TokenizedDataset(examples, info), report: { ...report, cache: 'off' } };
  }
  const key = await cacheKey(file, tokenizerFolder, {
    maxLength: options.maxLength,
    format: options.format,
    labelMode: options.labelMode ?? 'generate',
    labelNames: options.labelNames,
    promptSeparator: options.promptSeparator ?? DEFAULT_PROMPT_SEPARATOR,
    classifySuffix: options.classifySuffix ?? '',
    skipBadLines: options.skipBadLines ?? false,
  });
  const cached = await readCache(cacheDir, key);
  const meta = cached.hit ? storedMeta(cached.payload.meta) : null;
  if (cached.hit && meta !== null) {
    const report: LoadReport = { ...meta.report, cache: 'hit', cacheFile: cachePath(cacheDir, key) };
    return { dataset: new TokenizedDataset(cached.payload.examples, meta.info), report };
  }
  const { examples, info, report } = await tokenizeFile(file, options);
  const cacheFile = await writeCache(cacheDir, key, { examples, meta: { info, report } });
  const state = cached.hit || cached.reason !== 'absent' ? 'rebuilt' : 'miss';
  return { dataset: new TokenizedDataset(examples, info), report: { ...report, cache: state, cacheFile } };
}
