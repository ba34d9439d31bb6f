// `createServer`: the OpenAI-compatible HTTP server over one GenerationEngine, where every request picks its
// adapter by `model`. Fastify routes (schemas check the bodies), one error handler that answers in OpenAI's
// error shape, bearer auth on /v1 when an API key is set (/health and /metrics stay open, as vLLM leaves them),
// a body size limit (413), and a drain for SIGTERM: new requests get 503, the ones in flight finish (or are
// cancelled at the deadline), then the listener closes. The caller owns the model and the runtime.

import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { type EngineOptions, GenerationEngine } from '../generate/engine.ts';
import type { Tokenizer } from '../io/tokenizer/index.ts';
import type { CausalLM } from '../models/causal-lm.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { ServedModels } from './adapters.ts';
import { registerChat } from './chat.ts';
import { registerCompletions } from './completions.ts';
import type { ServerContext } from './context.ts';
import { ApiError, badRequest, RETRY_AFTER_SECONDS, toApiError } from './errors.ts';
import { ServerMetrics } from './metrics.ts';

export interface ServerOptions {
  readonly model: CausalLM;
  readonly runtime: Runtime;
  /** The model's tokenizer; null for a folder without one (token-id prompts only, no chat). */
  readonly tokenizer?: Tokenizer | null;
  /** The base model's name in requests and /v1/models. */
  readonly servedModelName: string;
  /** Where the base model came from (its folder or Hub id), /v1/models' `root`. Default: servedModelName. */
  readonly modelSource?: string;
  /** Adapters resident from the start: name -> PEFT folder (any path). */
  readonly adapters?: Readonly<Record<string, string>>;
  /** Folder under which /v1/load_lora_adapter may load adapters (and requests may name its subfolders); null: runtime loading off. */
  readonly adaptersDir?: string | null;
  /** Bearer token that /v1 requests must send; null: no auth. */
  readonly apiKey?: string | null;
  /** Engine limits (maxBatch, maxQueue, maxModelLen, maxCachedTokens, maxLoadedAdapters). */
  readonly engine?: Omit<EngineOptions, 'tokenizer'>;
  /** Largest request body in bytes (default 1 MiB); larger bodies get 413. */
  readonly bodyLimit?: number;
  readonly host?: string;
  /** 0 picks a free port. Default 8000. */
  readonly port?: number;
  /** Called with what fits but looks wrong about a loaded adapter (another recorded base model, an assumed group size). */
  readonly onWarning?: (message: string) => void;
  /** Run the engine's warm-up (GenerationEngine.warmUp) before listening (default true). */
  readonly warmUp?: boolean;
}

export interface RoadsterServer {
  readonly app: FastifyInstance;
  readonly engine: GenerationEngine;
  readonly metrics: ServerMetrics;
  /** Warms the engine up (unless `warmUp: false`), then starts accepting requests; resolves with the base URL (http://host:port). */
  listen(): Promise<string>;
  /**
   * Stops accepting (503 for new requests), waits for the requests in flight to finish, cancelling those still
   * running after `timeoutMs`, then closes the listener and the engine. Resolves true when nothing was cancelled.
   */
  drain(timeoutMs: number): Promise<boolean>;
  /** Cancels everything and closes at once. */
  close(): Promise<void>;
}

/** Default body limit: 1 MiB, Fastify's default, ample for prompts of a model's context. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Builds the server (not listening yet). Adapters given in `options.adapters` are loaded here. */
export function createServer(options: ServerOptions): RoadsterServer {
  const tokenizer = options.tokenizer ?? null;
  const engine = new GenerationEngine(options.model, options.runtime, { ...options.engine, tokenizer });
  try {
    for (const [name, dir] of Object.entries(options.adapters ?? {})) {
      for (const w of engine.loadAdapter(name, dir).warnings) options.onWarning?.(`adapter "${name}": ${w}`);
    }
  } catch (error) {
    void engine.close();
    throw error;
  }
  const models = new ServedModels(engine, options.servedModelName, options.modelSource ?? options.servedModelName, options.adaptersDir ?? null, options.onWarning);
  const metrics = new ServerMetrics(engine, options.servedModelName);
  const ctx: ServerContext = { engine, models, metrics, tokenizer };
  let state: 'starting' | 'ready' | 'draining' | 'closed' = 'starting';

  const app = Fastify({
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: false,
    forceCloseConnections: 'idle',
    // Types must be right as sent: "5" is not a number (Fastify coerces by default).
    ajv: { customOptions: { coerceTypes: false, allErrors: false } },
  });

  app.setErrorHandler((error, _request, reply) => {
    const e = toApiError(error);
    void reply.code(e.status).headers(e.headers).send(e.body());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new ApiError(404, `No route ${request.method} ${request.url}`, 'invalid_request_error', null, 'not_found');
    void reply.code(404).send(e.body());
  });

  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0];
    if (state === 'draining' || state === 'closed') {
      throw new ApiError(503, 'The server is shutting down and accepts no new requests; retry on another replica.', 'server_error', null, 'server_shutting_down', {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
    }
    const key = options.apiKey ?? null;
    if (key !== null && path.startsWith('/v1/')) {
      const header = request.headers.authorization ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7).trim() : null;
      if (token === null || !sameKey(token, key)) {
        throw new ApiError(401, token === null ? 'Missing API key: send the header "Authorization: Bearer <key>".' : 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
      }
    }
  });

  // A JSON body that is not an object (a list, a number) reaches no route schema's properties: say so plainly.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && (request.body === null || typeof request.body !== 'object' || Array.isArray(request.body))) {
      throw badRequest('The request body must be a JSON object.');
    }
  });

  app.get('/health', async (_request, reply) => {
    if (state !== 'ready') return reply.code(503).send({ status: state });
    return reply.send({ status: 'ok' });
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.header('content-type', contentType).send(body);
  });
  app.get('/v1/models', async () => ({ object: 'list', data: models.cards() }));
  app.post('/v1/load_lora_adapter', {
    schema: { body: { type: 'object', required: ['lora_name', 'lora_path'], properties: { lora_name: { type: 'string', minLength: 1 }, lora_path: { type: 'string', minLength: 1 } } } },
  }, async (request, reply) => {
    const { lora_name: name, lora_path: path } = request.body as { lora_name: string; lora_path: string };
    const { evicted } = models.load(name, path);
    const also = evicted.length > 0 ? ` (evicted, least recently used: ${evicted.join(', ')})` : '';
    return reply.type('text/plain; charset=utf-8').send(`Success: LoRA adapter '${name}' added successfully.${also}`);
  });
  app.post('/v1/unload_lora_adapter', {
    schema: { body: { type: 'object', required: ['lora_name'], properties: { lora_name: { type: 'string', minLength: 1 }, lora_int_id: {} } } },
  }, async (request, reply) => {
    const { lora_name: name } = request.body as { lora_name: string };
    models.unload(name);
    return reply.type('text/plain; charset=utf-8').send(`Success: LoRA adapter '${name}' removed successfully.`);
  });
  registerCompletions(app, ctx);
  registerChat(app, ctx);

  return {
    app,
    engine,
    metrics,
    async listen() {
      if (options.warmUp !== false) await engine.warmUp();
      const url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8000 });
      state = 'ready';
      return url;
    },
    async drain(timeoutMs) {
      if (state === 'closed') return true;
      state = 'draining';
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        engine.idle().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      await engine.close(); // cancels what is left at the deadline; the responses then end
      await app.close();
      state = 'closed';
      return finished;
    },
    async close() {
      state = 'closed';
      await engine.close();
      await app.close();
    },
  };
}
