// What a generation request asks for and what it gets back, and the checks made before any work is done: an
// empty prompt, ids outside the vocabulary, a prompt plus max tokens longer than the context, bad sampling
// values and stop strings without a tokenizer are E_USAGE errors that say what to fix.

import { RoadsterError } from '../errors.ts';
import { type SamplingParams, samplingParams } from './sampling/params.ts';
import type { TokenLogprob } from './sampling/sampler.ts';
import { type FinishReason as StopReason, MAX_STOP_STRINGS } from './stop.ts';


export interface GenerationRequest {
  /** The prompt's token ids (at least one). */
  readonly promptIds: readonly number[];
  /** A resident adapter's name; null, undefined or "__base__" for the base model. */
  readonly adapter?: string | null;
  /** Most new tokens (default 16). */
  readonly maxTokens?: number;
  /** Sampling settings (default: DEFAULT_SAMPLING, temperature 1). */
  readonly sampling?: Partial<SamplingParams>;
  /** Token ids that end the request besides the model's EOS ids. */
  readonly stopTokenIds?: readonly number[];
  /** Strings that end the request; the text stops before them (needs the engine's tokenizer). */
  readonly stop?: readonly string[];
  /** Keep going past the EOS ids (default false). */
  readonly ignoreEos?: boolean;
  /** Streaming: called once per generated token, in order. */
  readonly onToken?: (event: TokenEvent) => void;
  /** Aborting cancels the request (as `GenerationHandle.cancel`). */
  readonly signal?: AbortSignal;
}

/** One generated token as it is streamed. */
export interface TokenEvent {
  readonly token: number;
  /** log-probability of the token under the model's distribution (before sampling's processing). */
  readonly logprob: number;
  /** The most likely tokens of that distribution (as many as `sampling.logprobs` asks). */
  readonly top: readonly TokenLogprob[];
  /** Text completed by this token ('' while a character or a possible stop string is incomplete; '' without a tokenizer). */
  readonly text: string;
}

/** Why a request ended, in OpenAI's words; "cancelled" for cancelled requests. */
export type FinishReason = StopReason | 'cancelled';

export interface GenerationResult {
  /** The generated token ids (a stop token included). */
  readonly tokens: number[];
  /** The log-probability of each generated token. */
  readonly logprobs: number[];
  /** Per generated token, the most likely alternatives (empty lists when `sampling.logprobs` is 0). */
  readonly topLogprobs: (readonly TokenLogprob[])[];
  /** The generated text (stop string excluded), or null without a tokenizer. */
  readonly text: string | null;
  readonly finishReason: FinishReason;
  /** The stop token id or stop string that ended the request, when one did. */
  readonly stoppedBy: number | string | null;
  readonly promptTokens: number;
  /** The seed the sampler used (the request's, or the one drawn for it). */
  readonly seed: number;
}

/** A submitted request. */
export interface GenerationHandle {
  readonly id: number;
  readonly result: Promise<GenerationResult>;
  /** Ends the request now: its batch row and cache are freed, `result` resolves with finishReason "cancelled". */
  cancel(): void;
}

/** A request's settings after validation. */
export interface CheckedRequest {
  readonly promptIds: readonly number[];
  readonly adapter: string | null;
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  readonly stopTokenIds: ReadonlySet<number>;
  readonly stop: readonly string[];
}

export interface RequestLimits {
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly eosTokenIds: readonly number[];
  readonly hasTokenizer: boolean;
}

function usage(message: string): RoadsterError {
  return new RoadsterError('E_USAGE', message);
}

/** Validates a request against the model's limits; throws E_USAGE naming the field. */
export function checkRequest(request: GenerationRequest, limits: RequestLimits): CheckedRequest {
  const ids = request.promptIds;
  if (!Array.isArray(ids) || ids.length === 0) throw usage('the prompt is empty: give at least one token id (or a non-empty prompt)');
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= limits.vocabSize) {
      throw usage(`prompt token id ${id} (position ${i}) is outside the model's vocabulary [0, ${limits.vocabSize})`);
    }
  });
  const maxTokens = request.maxTokens ?? 16;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw usage(`max_tokens must be a positive integer, got ${maxTokens}`);
  if (ids.length + maxTokens > limits.contextLength) {
    throw usage(
      `the prompt's ${ids.length} tokens plus max_tokens ${maxTokens} exceed the context of ${limits.contextLength} tokens; ` +
        `shorten the prompt or lower max_tokens to ${Math.max(0, limits.contextLength - ids.length)} or less`,
    );
  }
  const stop = request.stop ?? [];
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0)) throw usage('stop must be a list of non-empty strings');
  if (stop.length > MAX_STOP_STRINGS) throw usage(`stop has ${stop.length} strings; at most ${MAX_STOP_STRINGS} are allowed`);
  if (stop.length > 0 && !limits.hasTokenizer) throw usage('stop strings need a tokenizer; this model has none (use stop token ids)');
  const stopIds = new Set(request.ignoreEos ? [] : limits.eosTokenIds);
  for (const id of request.stopTokenIds ?? []) {
    if (!Number.isInteger(id) || id < 0 || id >= limits.vocabSize) throw usage(`stop token id ${id} is outside the vocabulary [0, ${limits.vocabSize})`);
    stopIds.add(id);
  }
  const adapter = request.adapter === undefined || request.adapter === null || request.adapter === '__base__' ? null : request.adapter;
  return { promptIds: [...ids], adapter, maxTokens, sampling: samplingParams(request.sampling ?? {}), stopTokenIds: stopIds, stop };
}
