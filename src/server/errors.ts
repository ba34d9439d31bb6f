// The HTTP layer's errors in OpenAI's JSON shape, `{"error": {"message", "type", "param", "code"}}`, and the one
// mapping from whatever a route throws (an ApiError, a RoadsterError from the engine or an adapter load, a
// Fastify error for a bad body) to a status and that shape. The server's single error handler calls `toApiError`.

import { RoadsterError, type ErrorCode } from '../errors.ts';

/** OpenAI's error body. */
export interface ErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | number | null };
}

/** An error with its HTTP status, in OpenAI's terms (`type`, `param`, `code`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 naming the request field at fault. */
export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, code);
}

/** 404 for a `model` that names neither the base nor a resident adapter (OpenAI's `model_not_found`). */
export function modelNotFound(model: string, known: readonly string[]): ApiError {
  return new ApiError(404, `The model \`${model}\` does not exist. Served models: ${known.map((k) => `\`${k}\``).join(', ')}.`, 'invalid_request_error', 'model', 'model_not_found');
}

/** Seconds a client should wait before retrying a 429 or a 503. */
export const RETRY_AFTER_SECONDS = 1;

/** RoadsterError codes that describe bad input (a request, an adapter folder, a template): 400. */
const CLIENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_USAGE', 'E_ADAPTER', 'E_SAFETENSORS', 'E_CONFIG', 'E_WEIGHTS', 'E_NOT_FOUND', 'E_TOKENIZER', 'E_SHAPE']);

interface FastifyLikeError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly validation?: readonly { readonly instancePath?: string; readonly params?: Record<string, unknown> }[];
  readonly validationContext?: string;
  readonly message: string;
}

/** The status and OpenAI-shaped body of any error a route or Fastify raised. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof RoadsterError) {
    if (error.code === 'E_OVERLOADED') {
      return new ApiError(429, error.message, 'rate_limit_exceeded', null, 'rate_limit_exceeded', { 'retry-after': String(RETRY_AFTER_SECONDS) });
    }
    if (CLIENT_CODES.has(error.code)) return new ApiError(400, error.message, 'invalid_request_error', null, error.code);
    return new ApiError(500, error.message, 'server_error', null, error.code);
  }
  const e = error as FastifyLikeError;
  if (e !== null && typeof e === 'object' && Array.isArray(e.validation)) {
    const first = e.validation[0];
    const path = (first?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const missing = first?.params?.missingProperty;
    const param = typeof missing === 'string' ? (path === '' ? missing : `${path}.${missing}`) : path === '' ? null : path;
    return badRequest(`Invalid request: ${e.message}`, param);
  }
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, `${e.message}; send a smaller body`, 'invalid_request_error', null, 'request_too_large');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.message, 'invalid_request_error', null, e.code ?? null);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(500, `internal error: ${message}`, 'server_error');
}
