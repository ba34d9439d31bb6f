// The record formats of a training JSONL file, as TRL's SFTTrainer reads them: language modelling `{"text"}`,
// prompt-completion `{"prompt", "completion"}`, conversational `{"messages": [{role, content}, ...]}`, plus
// classification `{"text", "label"}`. Each record is validated into one `Example`; keys outside the format
// (ids, metadata) are ignored, keys of two formats in one record are an error.

import type { ChatMessage } from '../../io/tokenizer/index.ts';
import { LineError } from './jsonl.ts';

/** The data formats, by the name used in options and reports. */
export const DATA_FORMATS = ['text', 'prompt-completion', 'messages', 'classification'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** One validated record. */
export type Example =
  /** causal LM: loss on every token */
  | { readonly format: 'text'; readonly text: string }
  /** loss on the completion only */
  | { readonly format: 'prompt-completion'; readonly prompt: string; readonly completion: string }
  /** rendered with the chat template; loss on assistant turns only */
  | { readonly format: 'messages'; readonly messages: readonly ChatMessage[] }
  /** a text and its class */
  | { readonly format: 'classification'; readonly text: string; readonly label: string | number };

const FORMAT_HELP = 'Each line must be one of {"text": ...}, {"prompt": ..., "completion": ...}, ' +
  '{"messages": [{"role": ..., "content": ...}, ...]} or {"text": ..., "label": ...}.';

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function stringField(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (value === undefined) throw new LineError(`field "${field}" is missing.`);
  if (typeof value !== 'string') throw new LineError(`field "${field}" must be a string, found ${typeName(value)} ${show(value)}.`);
  return value;
}

function labelField(record: Record<string, unknown>): string | number {
  const label = record.label;
  if (typeof label === 'string' || (typeof label === 'number' && Number.isInteger(label))) return label;
  throw new LineError(`field "label" must be a string or an integer, found ${typeName(label)} ${show(label)}.`);
}

function messagesField(record: Record<string, unknown>): ChatMessage[] {
  const messages = record.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new LineError(`field "messages" must be a non-empty array of {"role", "content"}, found ${show(messages)}.`);
  }
  return messages.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw new LineError(`field "messages[${i}]" must be an object {"role", "content"}, found ${show(m)}.`);
    }
    const message = m as Record<string, unknown>;
    for (const field of ['role', 'content']) {
      if (typeof message[field] !== 'string') {
        throw new LineError(`field "messages[${i}].${field}" must be a string, found ${message[field] === undefined ? 'nothing' : `${typeName(message[field])} ${show(message[field])}`}.`);
      }
    }
    return message as ChatMessage;
  });
}

/**
 * The format a record's keys point to, or null when they point to none.
 * @throws LineError when the keys of two formats are present
 */
export function detectFormat(record: Record<string, unknown>): DataFormat | null {
  const has = (key: string): boolean => Object.hasOwn(record, key);
  const candidates: DataFormat[] = [];
  if (has('messages')) candidates.push('messages');
  if (has('prompt') || has('completion')) candidates.push('prompt-completion');
  if (has('label')) candidates.push('classification');
  else if (has('text')) candidates.push('text');
  if (candidates.length > 1) {
    throw new LineError(`the record mixes the keys of formats ${candidates.map((f) => `"${f}"`).join(' and ')}; ` +
      'keep the keys of one format.');
  }
  return candidates[0] ?? null;
}

/** The format a file is held to: chosen by the caller, or set by its first record. */
export interface ExpectedFormat {
  readonly format: DataFormat;
  /** The line whose record set the format; undefined when the caller chose it. */
  readonly line?: number;
}

/**
 * Validates one JSON record as an `Example`.
 * @param expected the file's format when known. A caller's `text` accepts classification records (the label is
 *   ignored); a `classification` file reports a record without label as a missing field.
 * @throws LineError naming the field that is missing or of the wrong type, or the format mismatch
 */
export function parseExample(value: unknown, expected?: ExpectedFormat): Example {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LineError(`expected a JSON object, found ${typeName(value)} ${show(value)}. ${FORMAT_HELP}`);
  }
  const record = value as Record<string, unknown>;
  const detected = detectFormat(record);
  if (expected === undefined) {
    if (detected === null) throw new LineError(`unknown record format: keys ${show(Object.keys(record))}. ${FORMAT_HELP}`);
    return validate(record, detected);
  }
  const format = expected.format;
  const compatible = detected === null || detected === format ||
    (format === 'classification' && detected === 'text') ||
    (format === 'text' && detected === 'classification' && expected.line === undefined);
  if (!compatible) {
    const source = expected.line === undefined ? 'as chosen by the caller' : `as set by line ${expected.line}`;
    throw new LineError(`this record has the "${detected}" format but the file's format is "${format}" (${source}); ` +
      'a file must use one format throughout.');
  }
  return validate(record, format);
}

function validate(record: Record<string, unknown>, format: DataFormat): Example {
  switch (format) {
    case 'text':
      return { format, text: stringField(record, 'text') };
    case 'prompt-completion':
      return { format, prompt: stringField(record, 'prompt'), completion: stringField(record, 'completion') };
    case 'messages':
      return { format, messages: messagesField(record) };
    case 'classification':
      if (record.label === undefined) throw new LineError('field "label" is missing.');
      return { format, text: stringField(record, 'text'), label: labelField(record) };
  }
}
