// `roadster generate --requests FILE.jsonl`: one request per line, in the field names of the OpenAI and vLLM
// APIs ({"ids": [...] | "prompt": "..." | "messages": [...], "adapter": NAME | null, "max_tokens": N,
// "temperature": T, ...}). Every line is parsed and checked before anything is generated; a bad line is an
// E_USAGE error that names `file:line` and the field.

import { readFileSync } from 'node:fs';
import { RoadsterError } from '../../errors.ts';
import type { SamplingParams } from '../../generate/sampling/params.ts';

/** One line of a requests file, parsed (prompts not yet tokenized). */
export interface RequestLine {
  readonly where: string;
  readonly prompt: { readonly ids: number[] } | { readonly text: string } | { readonly messages: { role: string; content: string }[] };
  readonly adapter: string | null | undefined;
  readonly maxTokens: number | undefined;
  readonly sampling: Partial<SamplingParams>;
  readonly stop: string[] | undefined;
  readonly stopTokenIds: number[] | undefined;
  readonly ignoreEos: boolean | undefined;
}

/** Sampling fields by their JSON names. */
const SAMPLING_FIELDS = {
  temperature: 'temperature',
  top_k: 'topK',
  top_p: 'topP',
  min_p: 'minP',
  repetition_penalty: 'repetitionPenalty',
  presence_penalty: 'presencePenalty',
  frequency_penalty: 'frequencyPenalty',
  seed: 'seed',
  logprobs: 'logprobs',
} as const satisfies Record<string, keyof SamplingParams>;

const OTHER_FIELDS = new Set(['ids', 'prompt', 'messages', 'adapter', 'max_tokens', 'stop', 'stop_token_ids', 'ignore_eos']);

function fail(where: string, message: string): never {
  throw new RoadsterError('E_USAGE', `${where}: ${message}`);
}

function intList(value: unknown, where: string, field: string): number[] {
  if (!Array.isArray(value) || value.some((v) => !Number.isInteger(v) || v < 0)) fail(where, `"${field}" must be a list of non-negative integer token ids`);
  return value as number[];
}

/** Parses one request line (`where` is "file:line"). */
export function parseRequestLine(text: string, where: string): RequestLine {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(where, `not valid JSON (${(e as Error).message}); each line must be one JSON object`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(where, 'each line must be a JSON object such as {"prompt": "...", "max_tokens": 16}');
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !OTHER_FIELDS.has(k) && !(k in SAMPLING_FIELDS));
  if (unknown.length > 0) {
    fail(where, `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}; known: ${[...OTHER_FIELDS, ...Object.keys(SAMPLING_FIELDS)].join(', ')}`);
  }
  const given = ['ids', 'prompt', 'messages'].filter((k) => o[k] !== undefined);
  if (given.length !== 1) fail(where, `give exactly one of "ids", "prompt" and "messages" (found ${given.length === 0 ? 'none' : given.join(', ')})`);
  let prompt: RequestLine['prompt'];
  if (o.ids !== undefined) prompt = { ids: intList(o.ids, where, 'ids') };
  else if (o.prompt !== undefined) {
    if (typeof o.prompt !== 'string') fail(where, '"prompt" must be a string');
    prompt = { text: o.prompt };
  } else {
    const m = o.messages;
    if (!Array.isArray(m) || m.some((x) => typeof x?.role !== 'string' || typeof x?.content !== 'string')) {
      fail(where, '"messages" must be a list of {"role": string, "content": string}');
    }
    prompt = { messages: m as { role: string; content: string }[] };
  }
  if (o.adapter !== undefined && o.adapter !== null && typeof o.adapter !== 'string') fail(where, '"adapter" must be a name or null');
  if (o.max_tokens !== undefined && (!Number.isInteger(o.max_tokens) || (o.max_tokens as number) < 1)) fail(where, '"max_tokens" must be a positive integer');
  const stop = o.stop === undefined ? undefined : typeof o.stop === 'string' ? [o.stop] : o.stop;
  if (stop !== undefined && (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string'))) fail(where, '"stop" must be a string or a list of strings');
  if (o.ignore_eos !== undefined && typeof o.ignore_eos !== 'boolean') fail(where, '"ignore_eos" must be true or false');
  const sampling: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(SAMPLING_FIELDS)) {
    const v = o[field];
    if (v === undefined) continue;
    if (!(typeof v === 'number' || (field === 'seed' && v === null))) fail(where, `"${field}" must be a number`);
    sampling[key] = v;
  }
  return {
    where,
    prompt,
    adapter: o.adapter as string | null | undefined,
    maxTokens: o.max_tokens as number | undefined,
    sampling: sampling as Partial<SamplingParams>,
    stop: stop as string[] | undefined,
    stopTokenIds: o.stop_token_ids === undefined ? undefined : intList(o.stop_token_ids, where, 'stop_token_ids'),
    ignoreEos: o.ignore_eos as boolean | undefined,
  };
}

/** Reads and parses every non-empty line of a requests file. */
export function readRequestsFile(file: string): RequestLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RoadsterError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_USAGE', `cannot read --requests ${file}: ${(e as Error).message}`);
  }
  const lines: RequestLine[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() !== '') lines.push(parseRequestLine(line, `${file}:${i + 1}`));
  });
  if (lines.length === 0) throw new RoadsterError('E_USAGE', `--requests ${file} holds no request; write one JSON object per line`);
  return lines;
}
