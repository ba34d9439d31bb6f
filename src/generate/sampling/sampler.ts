// One request's token chooser, following vLLM v1's sampler (vllm/v1/sample/sampler.py). Per token:
//
//   1. log-probabilities of the raw logits (log-softmax, float64): the chosen token's and the `logprobs` best
//      (vLLM's default logprobs_mode "raw_logprobs", and what OpenAI's `logprobs` reports);
//   2. penalties on a float64 copy: repetition over prompt + output, then frequency and presence over the output
//      (penalties.ts);
//   3. greedy (temperature < 1e-5): the arg-max of the penalised logits, first index on ties; otherwise
//      temperature, min-p, top-k, top-p and one draw from the request's own seeded generator (filters.ts);
//   4. the chosen token joins the history the penalties read.
//
// Each request owns its generator (mulberry32 seeded from `seed`), so a seed gives the same tokens whatever
// else shares the batch, and it consumes exactly one uniform per sampled (non-greedy) token.

import { randomInt } from 'node:crypto';
import { assert } from '../../errors.ts';
import { mixSeed, seededUniforms } from '../../seeded-random.ts';
import { FilterWorkspace, drawKept, filterLogits } from './filters.ts';
import { isGreedy, type SamplingParams } from './params.ts';
import { PenaltyState } from './penalties.ts';
import { argmax, topIndices } from './select.ts';

/** A token and its log-probability under the model's raw distribution. */
export interface TokenLogprob {
  readonly token: number;
  readonly logprob: number;
}

/** The chosen token, its raw log-probability, and the `logprobs` most likely tokens (descending). */
export interface TokenChoice {
  readonly token: number;
  readonly logprob: number;
  readonly top: readonly TokenLogprob[];
}

/** A 32-bit generator seed from any safe integer (negative and above 2^32 included). */
function generatorSeed(seed: number): number {
  return mixSeed(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
}

/** A fresh random seed for requests that give none. */
function randomSeed(): number {
  return randomInt(2 ** 32);
}

/** log(sum(exp(x))) in float64, shifted by the maximum (m, when known) so that it cannot overflow. */
export function logSumExp(x: ArrayLike<number>, m = x[argmax(x)]): number {
  assert(m > -Infinity, 'logSumExp of logits that are all -inf or NaN');
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i] - m);
  return m + Math.log(s);
}

/** Chooses the tokens of one request, step after step. */
export class Sampler {
  readonly params: SamplingParams;
  /** The seed in use: the request's, or the random one drawn for it (report it to reproduce the request). */
  readonly seed: number;
  readonly #uniform: () => number;
  readonly #penalties: PenaltyState;
  readonly #ws: FilterWorkspace;
  #topBuffer = new Int32Array(0);

  /**
   * @param params validated by `samplingParams`
   * @param promptIds the prompt, read by the repetition penalty
   * @param workspace buffers to share with the other samplers of a batch (about 26 bytes per vocabulary entry,
   *   1.3 MB at V = 49,152); safe because `choose` calls run one at a time. A sampler of its own by default.
   */
  constructor(params: SamplingParams, promptIds: readonly number[], workspace: FilterWorkspace = new FilterWorkspace()) {
    this.params = params;
    this.#ws = workspace;
    this.seed = params.seed ?? randomSeed();
    this.#uniform = seededUniforms(generatorSeed(this.seed));
    this.#penalties = new PenaltyState(params, promptIds);
  }

  /**
   * Chooses the next token from one row's logits [V] (never modified) and records it for the penalties.
   * @param logSumExpOfLogits log(sum(exp(logits))) when the caller has it (e.g. from the model graph), which
   *   saves a pass of exp over the vocabulary; computed here otherwise
   * @throws RoadsterError E_USAGE when a prompt token id is outside [0, V)
   */
  choose(logits: Float32Array | Float64Array, logSumExpOfLogits?: number): TokenChoice {
    const v = logits.length;
    const params = this.params;
    const ws = this.#ws;
    ws.ensure(v);
    // Everything below reads the float64 copy z, so the helpers see one array type (monomorphic and faster).
    const z = ws.z;
    z.set(logits);
    const greedy = isGreedy(params);
    const penalised = this.#penalties.active;
    // Raw log-probabilities first, while z still holds the raw logits.
    const top = this.#top(z);
    let lse = logSumExpOfLogits;
    // Unpenalised at temperature 1 with nothing removed before top-p, the filters' weights summed over the
    // vocabulary are the softmax's denominator: no second pass of exp. Greedy without penalties: the arg-max
    // of z is the max logSumExp needs.
    const reuse = !greedy && !penalised && params.temperature === 1 && params.topK === 0 && params.minP === 0;
    if (lse === undefined && !reuse && !(greedy && !penalised)) lse = logSumExp(z);
    if (penalised) this.#penalties.apply(z);
    let token: number;
    if (greedy) {
      token = argmax(z);
      lse ??= logSumExp(z, z[token]);
    } else {
      const kept = filterLogits(ws, params);
      token = drawKept(ws, kept, this.#uniform());
      lse ??= kept.zMax + Math.log(kept.vocabMass);
    }
    this.#penalties.record(token);
    return { token, logprob: logits[token] - lse, top: top.map((t) => ({ token: t, logprob: logits[t] - lse })) };
  }

  /** The `logprobs` most likely tokens of the raw logits, best first. */
  #top(raw: Float64Array): number[] {
    const n = Math.min(this.params.logprobs, raw.length);
    if (n === 0) return [];
    if (this.#topBuffer.length < n) this.#topBuffer = new Int32Array(n);
    return [...topIndices(raw, n, this.#topBuffer)];
  }
}
