// The request bodies of /v1/completions and /v1/chat/completions: their JSON schemas (types and ranges, checked
// by Fastify before a route runs), the parameters roadster does not support (a 400 that names them, unless the
// value asks for nothing, such as `logit_bias: {}`), and the translation of OpenAI's and vLLM's sampling fields
// into the engine's request fields.

import type { GenerationRequest } from '../generate/request.ts';
import type { SamplingParams } from '../generate/sampling/params.ts';
import { MAX_LOGPROBS } from '../generate/sampling/params.ts';
import { badRequest } from './errors.ts';

/** Most choices one request may ask for (`n`). */
export const MAX_N = 64;

const int = (minimum?: number, maximum?: number) => ({ type: 'integer', ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }) });
const num = (extra: Record<string, number> = {}) => ({ type: 'number', ...extra });
/** The schema or null (JSON null means "not given", as in OpenAI's SDKs); one type list keeps the error message short. */
const nullable = (schema: Record<string, unknown>) =>
  typeof schema.type === 'string' ? { ...schema, type: [schema.type, 'null'] } : { anyOf: [schema, { type: 'null' }] };

/** Fields both endpoints take: OpenAI's sampling fields and vLLM's extras. */
const SAMPLING_PROPERTIES = {
  model: { type: 'string', minLength: 1 },
  n: nullable(int(1, MAX_N)),
  stream: nullable({ type: 'boolean' }),
  stream_options: nullable({ type: 'object', properties: { include_usage: { type: 'boolean' } }, additionalProperties: false }),
  max_tokens: nullable(int(1)),
  temperature: nullable(num({ minimum: 0 })),
  top_p: nullable(num({ exclusiveMinimum: 0, maximum: 1 })),
  seed: nullable(int()),
  stop: nullable({ anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }),
  presence_penalty: nullable(num({ minimum: -2, maximum: 2 })),
  frequency_penalty: nullable(num({ minimum: -2, maximum: 2 })),
  user: nullable({ type: 'string' }),
  // vLLM's extras
  top_k: nullable(int(-1)),
  min_p: nullable(num({ minimum: 0, maximum: 1 })),
  repetition_penalty: nullable(num({ exclusiveMinimum: 0 })),
  ignore_eos: nullable({ type: 'boolean' }),
  stop_token_ids: nullable({ type: 'array', items: int(0) }),
  return_token_ids: nullable({ type: 'boolean' }),
} as const;

const tokenIds = { type: 'array', minItems: 1, items: int(0) };

export const COMPLETION_SCHEMA = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...SAMPLING_PROPERTIES,
    prompt: {
      anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { type: 'string' } }, tokenIds, { type: 'array', minItems: 1, items: tokenIds }],
    },
    logprobs: nullable(int(0, MAX_LOGPROBS)),
  },
} as const;

const contentPart = { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } };

export const CHAT_SCHEMA = {
  type: 'object',
  required: ['messages'],
  properties: {
    ...SAMPLING_PROPERTIES,
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string', minLength: 1 },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: contentPart }, { type: 'null' }] },
          name: { type: 'string' },
        },
      },
    },
    max_completion_tokens: nullable(int(1)),
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable(int(0, MAX_LOGPROBS)),
  },
} as const;

/** Per endpoint, the fields roadster reads; any other field is refused unless NO_OP accepts its value. */
const KNOWN = {
  completions: new Set(Object.keys(COMPLETION_SCHEMA.properties)),
  chat: new Set(Object.keys(CHAT_SCHEMA.properties)),
};

/** Unsupported fields given a value that asks for nothing (OpenAI's defaults): accepted and without effect. */
const NO_OP: Readonly<Record<string, (v: unknown) => boolean>> = {
  logit_bias: (v) => v !== null && typeof v === 'object' && Object.keys(v).length === 0,
  best_of: (v) => v === 1,
  echo: (v) => v === false,
  suffix: (v) => v === '',
  tools: (v) => Array.isArray(v) && v.length === 0,
  tool_choice: (v) => v === 'none',
  parallel_tool_calls: (v) => v === false,
  response_format: (v) => v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'text' && Object.keys(v).length === 1,
  store: (v) => v === false,
};

/** Throws a 400 naming every field of `body` that roadster does not support (null values count as absent). */
export function rejectUnsupported(body: Record<string, unknown>, endpoint: keyof typeof KNOWN): void {
  const known = KNOWN[endpoint];
  const bad = Object.entries(body)
    .filter(([k, v]) => !known.has(k) && v !== null && v !== undefined && !(NO_OP[k]?.(v) ?? false))
    .map(([k]) => k);
  if (bad.length > 0) {
    throw badRequest(
      `Unsupported parameter${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}. roadster does not implement ${bad.length > 1 ? 'them' : 'it'}; remove ${bad.length > 1 ? 'them' : 'it'} from the request.`,
      bad[0],
      'unsupported_parameter',
    );
  }
}

/** The fields both endpoints share, as the body gives them (after schema validation). */
export interface SamplingBody {
  readonly model?: string;
  readonly n?: number | null;
  readonly stream?: boolean | null;
  readonly stream_options?: { readonly include_usage?: boolean } | null;
  readonly max_tokens?: number | null;
  readonly temperature?: number | null;
  readonly top_p?: number | null;
  readonly seed?: number | null;
  readonly stop?: string | readonly string[] | null;
  readonly presence_penalty?: number | null;
  readonly frequency_penalty?: number | null;
  readonly top_k?: number | null;
  readonly min_p?: number | null;
  readonly repetition_penalty?: number | null;
  readonly ignore_eos?: boolean | null;
  readonly stop_token_ids?: readonly number[] | null;
  readonly return_token_ids?: boolean | null;
}

/** What one choice asks of the engine, less its prompt and its seed (set per choice). */
export interface ChoiceSettings {
  readonly n: number;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly returnTokenIds: boolean;
  /** The request's seed; choice i of a prompt uses seed + i. */
  readonly seed: number | null;
  readonly request: Omit<GenerationRequest, 'promptIds' | 'adapter' | 'maxTokens' | 'onToken' | 'signal'> & { readonly sampling: Partial<SamplingParams> };
}

const given = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** Translates the shared fields; `logprobs` is the number of alternatives each token reports. */
export function choiceSettings(body: SamplingBody, logprobs: number): ChoiceSettings {
  if (body.stream_options != null && body.stream !== true) throw badRequest('stream_options is only allowed with stream: true', 'stream_options');
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : [...body.stop];
  if (stop.some((s) => s.length === 0)) throw badRequest('stop strings must not be empty', 'stop');
  return {
    n: body.n ?? 1,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    returnTokenIds: body.return_token_ids === true,
    seed: given(body.seed) ?? null,
    request: {
      sampling: {
        temperature: given(body.temperature),
        topP: given(body.top_p),
        topK: given(body.top_k),
        minP: given(body.min_p),
        repetitionPenalty: given(body.repetition_penalty),
        presencePenalty: given(body.presence_penalty),
        frequencyPenalty: given(body.frequency_penalty),
        logprobs,
      },
      stop,
      stopTokenIds: body.stop_token_ids ?? [],
      ignoreEos: body.ignore_eos === true,
    },
  };
}
