// Training data from a JSONL text the user picked: the same records, checks and tokenization as
// `loadDataset` in Node (train/data/load.ts) — formats, truncation, classification labels — read from a string.
// Every bad line is collected with its 1-based line number and reason, so the page can list them all.

import { RoadsterError } from '../errors.ts';
import type { Tokenizer } from '../io/tokenizer/tokenizer.ts';
import { TokenizedDataset } from '../train/data/dataset.ts';
import { type DataFormat, type Example, type ExpectedFormat, parseExample } from '../train/data/formats.ts';
import { type BadLine, BadLineLog } from '../train/data/jsonl.ts';
import { buildClassList, type ClassList } from '../train/data/labels.ts';
import { clipExample, DEFAULT_PROMPT_SEPARATOR, type TokenizedExample, tokenizeExample } from '../train/data/tokenize.ts';

export interface TextDatasetOptions {
  readonly tokenizer: Tokenizer;
  /** Longest example, in tokens (longer ones are truncated). */
  readonly maxLength: number;
  /** Name of the data in messages (the file's name). */
  readonly source?: string;
}

/** The dataset (null when no line is usable) and every bad line. */
export interface TextDataset {
  readonly dataset: TokenizedDataset | null;
  readonly format: DataFormat | null;
  readonly badLines: readonly BadLine[];
  /** Non-blank lines read. */
  readonly lines: number;
  /** Examples cut to maxLength. */
  readonly truncated: number;
}

/**
 * Parses and tokenizes JSONL `text` (blank lines skipped, a BOM tolerated, CRLF accepted). Bad lines (not JSON,
 * not a record of the file's format, nothing to train on) are listed, not thrown.
 */
export function datasetFromJsonl(text: string, options: TextDatasetOptions): TextDataset {
  const { tokenizer, maxLength } = options;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RoadsterError('E_USAGE', `maxLength must be a positive integer, found ${maxLength}.`);
  const log = new BadLineLog(options.source ?? 'the data', true);
  let expected: ExpectedFormat | undefined;
  const records: { line: number; example: Example; cut: boolean }[] = [];
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split('\n');
  let read = 0;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() === '') return;
    read++;
    let json: unknown;
    try {
      json = JSON.parse(content) as unknown;
    } catch (error) {
      log.report(line, `not valid JSON (${(error as Error).message}).`);
      return;
    }
    const parsed = log.guard(line, () => parseExample(json, expected));
    if (parsed === undefined) return;
    expected ??= { format: parsed.format, line };
    const { example, cut } = clipExample(parsed, maxLength);
    records.push({ line, example, cut });
  });
  const format = expected?.format ?? null;
  let classes: ClassList | undefined;
  if (format === 'classification') {
    classes = buildClassList(records.flatMap((r) => (r.example.format === 'classification' ? [r.example.label] : [])));
  }
  const examples: TokenizedExample[] = [];
  let truncated = 0;
  for (const { line, example, cut } of records) {
    const result = log.guard(line, () => tokenizeExample(example, tokenizer, { maxLength, labelMode: 'generate', promptSeparator: DEFAULT_PROMPT_SEPARATOR, classes }));
    if (result === undefined) continue;
    if (result.droppedTokens > 0 || cut) truncated++;
    if (result.example !== null) examples.push(result.example);
    else if (!(result.droppedTokens > 0 || cut)) log.report(line, 'nothing to train on (an empty text, completion or label, or a conversation with no assistant turn).');
  }
  const badLines = [...log.badLines].sort((a, b) => a.line - b.line);
  const info = format === null ? { format: 'text' as const } : { format };
  return { dataset: examples.length === 0 ? null : new TokenizedDataset(examples, info), format, badLines, lines: read, truncated };
}
