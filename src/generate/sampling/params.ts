// Per-request sampling parameters, validated once at the edge (a request, a CLI flag) so that the sampler can
// trust them. Names and ranges follow vLLM's SamplingParams and the OpenAI API (presence/frequency in [-2, 2],
// at most 20 logprobs); camelCase as the rest of roadster.

import { RoadsterError } from '../../errors.ts';

/** How the next token of one request is chosen. Build with `samplingParams`, which validates every field. */
export interface SamplingParams {
  /** >= 0; 0 (or below 1e-5, as vLLM) = greedy: arg-max of the penalised logits, first index on ties. Default 1. */
  readonly temperature: number;
  /** Keep the k most likely tokens; integer >= 0, 0 or -1 (vLLM's spelling) = off. Default 0. */
  readonly topK: number;
  /** Keep the smallest set of most likely tokens whose mass reaches p; (0, 1], 1 = off. Default 1. */
  readonly topP: number;
  /** Keep tokens with p >= minP * p_max; [0, 1], 0 = off. Default 0. */
  readonly minP: number;
  /** > 0, 1 = off: over prompt + generated ids, positive logits are divided by it and negative ones multiplied. */
  readonly repetitionPenalty: number;
  /** [-2, 2], 0 = off: subtracted once from the logit of every token generated so far (OpenAI). */
  readonly presencePenalty: number;
  /** [-2, 2], 0 = off: subtracted from each token's logit once per time it was generated (OpenAI). */
  readonly frequencyPenalty: number;
  /** Safe integer; the same seed gives the same tokens whatever shares the batch. null = a fresh random seed. */
  readonly seed: number | null;
  /** How many of the most likely alternatives to report per token, 0..20 (the chosen token's is always reported). */
  readonly logprobs: number;
}

/** The most logprobs alternatives one may ask for (OpenAI's and vLLM's default cap). */
export const MAX_LOGPROBS = 20;

/** Temperatures below this are greedy (vLLM's _SAMPLING_EPS): dividing by them would overflow. */
export const GREEDY_TEMPERATURE = 1e-5;

/** Plain multinomial sampling from the model's distribution, no penalties, no logprobs alternatives. */
export const DEFAULT_SAMPLING: SamplingParams = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  seed: null,
  logprobs: 0,
});

function bad(field: string, value: unknown, expected: string): RoadsterError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new RoadsterError('E_USAGE', `sampling: ${field} must be ${expected}, found ${shown}.`);
}

function finite(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(field, value, 'a finite number');
  return value;
}

/**
 * Fills the missing fields with `DEFAULT_SAMPLING` and validates all of them.
 * @throws RoadsterError E_USAGE naming the field, the value found and the allowed range
 */
export function samplingParams(partial: Partial<SamplingParams> = {}): SamplingParams {
  const known = new Set(Object.keys(DEFAULT_SAMPLING));
  for (const key of Object.keys(partial)) {
    if (!known.has(key)) {
      throw new RoadsterError('E_USAGE', `sampling: unknown field "${key}"; the fields are ${[...known].join(', ')}.`);
    }
  }
  const p: SamplingParams = { ...DEFAULT_SAMPLING, ...stripUndefined(partial) };
  const temperature = finite('temperature', p.temperature);
  if (temperature < 0) throw bad('temperature', temperature, '>= 0 (0 = greedy)');
  const topK = finite('topK', p.topK);
  if (!Number.isInteger(topK) || topK < -1) throw bad('topK', topK, 'an integer >= 0 (0 or -1 = off)');
  const topP = finite('topP', p.topP);
  if (!(topP > 0 && topP <= 1)) throw bad('topP', topP, 'in (0, 1] (1 = off)');
  const minP = finite('minP', p.minP);
  if (!(minP >= 0 && minP <= 1)) throw bad('minP', minP, 'in [0, 1] (0 = off)');
  const repetitionPenalty = finite('repetitionPenalty', p.repetitionPenalty);
  if (!(repetitionPenalty > 0)) throw bad('repetitionPenalty', repetitionPenalty, '> 0 (1 = off)');
  const presencePenalty = finite('presencePenalty', p.presencePenalty);
  if (!(presencePenalty >= -2 && presencePenalty <= 2)) throw bad('presencePenalty', presencePenalty, 'in [-2, 2] (0 = off)');
  const frequencyPenalty = finite('frequencyPenalty', p.frequencyPenalty);
  if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw bad('frequencyPenalty', frequencyPenalty, 'in [-2, 2] (0 = off)');
  const seed = p.seed;
  if (seed !== null && !Number.isSafeInteger(seed)) throw bad('seed', seed, 'an integer (or null for a random seed)');
  const logprobs = finite('logprobs', p.logprobs);
  if (!Number.isInteger(logprobs) || logprobs < 0 || logprobs > MAX_LOGPROBS) {
    throw bad('logprobs', logprobs, `an integer in [0, ${MAX_LOGPROBS}]`);
  }
  return Object.freeze({
    temperature,
    topK: topK === -1 ? 0 : topK,
    topP,
    minP,
    repetitionPenalty,
    presencePenalty,
    frequencyPenalty,
    seed,
    logprobs,
  });
}

/** A field given as undefined means "the default", as when spreading optional request fields. */
function stripUndefined(partial: Partial<SamplingParams>): Partial<SamplingParams> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<SamplingParams>;
}

/** True when the request takes the arg-max rather than drawing (temperature 0, or below 1e-5 as vLLM). */
export function isGreedy(params: SamplingParams): boolean {
  return params.temperature < GREEDY_TEMPERATURE;
}
