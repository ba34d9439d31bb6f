// `roadster serve`: loads the model (and its tokenizer when it has one), the --adapter folders, starts the
// server (src/server/) and prints one line with its URL once it accepts requests. SIGTERM or SIGINT drains:
// new requests get 503, requests in flight finish within --drain-timeout (then they are cancelled), the
// listener closes and the command returns (exit code 0).

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import type { Tokenizer } from '../../io/tokenizer/index.ts';
import { AutoModelForCausalLM, AutoTokenizer, type FromPretrainedOptions } from '../../models/auto.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { createServer } from '../../server/index.ts';
import { type CliIo, usageError } from '../io.ts';
import { modelLoadOptions } from '../load-options.ts';

export interface ServeOptions {
  readonly model: string;
  readonly adapter?: [string, string][];
  readonly adaptersDir?: string;
  readonly host: string;
  readonly port: number;
  readonly apiKey?: string;
  readonly servedModelName?: string;
  readonly maxLoadedAdapters: number;
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly maxModelLen?: number;
  readonly bodyLimit: number;
  readonly drainTimeout: number;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly threads?: number;
  readonly quantize: QuantizeWeights;
}

/** The tokenizer of a folder or Hub repo, or null when it has none (token-id prompts only). */
async function optionalTokenizer(model: string, options: FromPretrainedOptions): Promise<Tokenizer | null> {
  if (existsSync(model)) return existsSync(join(model, 'tokenizer.json')) ? AutoTokenizer.fromPretrained(model, options) : null;
  try {
    return await AutoTokenizer.fromPretrained(model, options);
  } catch (error) {
    if (error instanceof RoadsterError && (error.code === 'E_NOT_FOUND' || error.code === 'E_TOKENIZER')) return null;
    throw error;
  }
}

/** `roadster serve`; resolves after a signal has drained the server. */
export async function serve(opts: ServeOptions, io: CliIo): Promise<void> {
  const names = (opts.adapter ?? []).map(([n]) => n);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw usageError(`--adapter ${dup}=... is given twice; each adapter needs its own name.`);
  if (opts.adaptersDir !== undefined && !existsSync(opts.adaptersDir)) throw usageError(`--adapters-dir ${opts.adaptersDir} does not exist.`);
  const { options: loadOptions, stop: stopProgress } = modelLoadOptions(opts, io);
  let model;
  let tokenizer: Tokenizer | null;
  try {
    model = await AutoModelForCausalLM.fromPretrained(opts.model, loadOptions);
    tokenizer = await optionalTokenizer(opts.model, loadOptions);
  } finally {
    stopProgress();
  }
  const log = (line: string) => io.stderr.write(`${line}\n`);
  if (tokenizer === null) log('roadster serve: the model has no tokenizer.json; prompts must be token ids and /v1/chat/completions is unavailable');
  const apiKey = opts.apiKey ?? (io.env.ROADSTER_API_KEY || undefined);
  const runtime = new Runtime({ threads: opts.threads ?? availableParallelism(), quantizeWeights: opts.quantize });
  try {
    const servedModelName = opts.servedModelName ?? opts.model;
    const server = createServer({
      model,
      runtime,
      tokenizer,
      servedModelName,
      modelSource: opts.model,
      adapters: Object.fromEntries(opts.adapter ?? []),
      adaptersDir: opts.adaptersDir ?? null,
      apiKey: apiKey ?? null,
      engine: { maxBatch: opts.maxBatch, maxQueue: opts.maxQueue, maxLoadedAdapters: opts.maxLoadedAdapters, ...(opts.maxModelLen === undefined ? {} : { maxModelLen: opts.maxModelLen }) },
      bodyLimit: opts.bodyLimit,
      host: opts.host,
      port: opts.port,
      onWarning: (message) => io.stderr.write(`warning: ${message}\n`),
    });
    const signalled = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    const { maxBatch, maxPrefillTokens } = server.engine;
    log(`roadster serve: warming up (a prefill of ${maxBatch} rows filling ${maxPrefillTokens} tokens, then a decode step) ...`);
    const url = await server.listen();
    log(`roadster serve: listening on ${url} (model "${servedModelName}"${names.length > 0 ? `, adapters ${names.join(', ')}` : ''}${apiKey ? ', API key required' : ''})`);
    const signal = await signalled;
    log(`roadster serve: ${signal}, draining (new requests get 503; up to ${opts.drainTimeout} s for the ${server.engine.stats().running + server.engine.stats().waiting} in flight)`);
    const clean = await server.drain(opts.drainTimeout * 1000);
    log(`roadster serve: stopped${clean ? '' : ' (requests still running at the deadline were cancelled)'}`);
  } finally {
    await runtime.release();
  }
}
