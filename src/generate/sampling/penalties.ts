// Repetition, frequency and presence penalties, in vLLM's order (vllm/model_executor/layers/utils.py,
// apply_penalties): first the repetition penalty over every token of the prompt and of the output (the CTRL
// paper's rule as transformers' RepetitionPenaltyLogitsProcessor: l > 0 -> l / r, else l * r), then the OpenAI
// penalties over the output only: l -= frequency * count + presence * [count > 0]. The state is sparse (the
// distinct tokens seen), so applying it costs O(distinct tokens), not O(V).

import { RoadsterError } from '../../errors.ts';
import type { SamplingParams } from './params.ts';

/** The token history of one request and the penalties it implies. */
export class PenaltyState {
  readonly #repetition: number;
  readonly #presence: number;
  readonly #frequency: number;
  /** Distinct prompt tokens. */
  readonly #prompt: Set<number>;
  /** How many times each token was generated. */
  readonly #counts = new Map<number, number>();

  constructor(params: SamplingParams, promptIds: readonly number[]) {
    this.#repetition = params.repetitionPenalty;
    this.#presence = params.presencePenalty;
    this.#frequency = params.frequencyPenalty;
    this.#prompt = new Set(promptIds);
  }

  /** True when applying would change some logit. */
  get active(): boolean {
    const repetition = this.#repetition !== 1 && (this.#prompt.size > 0 || this.#counts.size > 0);
    const openai = (this.#presence !== 0 || this.#frequency !== 0) && this.#counts.size > 0;
    return repetition || openai;
  }

  /** Records a generated token. */
  record(token: number): void {
    this.#counts.set(token, (this.#counts.get(token) ?? 0) + 1);
  }

  /**
   * Penalises logits [V] in place.
   * @throws RoadsterError E_USAGE when a history token is outside the vocabulary [0, V)
   */
  apply(logits: Float64Array): void {
    const v = logits.length;
    const check = (token: number, where: string): void => {
      if (!(token >= 0 && token < v)) {
        throw new RoadsterError('E_USAGE', `sampling: ${where} token id ${token} is outside the vocabulary of ${v} ` +
          'logits; the prompt and the logits must come from the same model.');
      }
    };
    const r = this.#repetition;
    if (r !== 1) {
      // l > 0 -> l / r, else l * r (so a penalty > 1 always lowers the logit)
      const penalise = (t: number): void => {
        const l = logits[t];
        logits[t] = l > 0 ? l / r : l * r;
      };
      for (const t of this.#prompt) {
        check(t, 'prompt');
        penalise(t);
      }
      for (const t of this.#counts.keys()) {
        check(t, 'generated');
        if (!this.#prompt.has(t)) penalise(t);
      }
    }
    if (this.#presence !== 0 || this.#frequency !== 0) {
      // l -= frequency * count + presence * [count > 0]
      for (const [t, count] of this.#counts) {
        check(t, 'generated');
        logits[t] -= this.#frequency * count + this.#presence;
      }
    }
  }
}

/**
 * The penalised logits of a request whose prompt is `promptIds` and whose output so far is `generatedIds`
 * (a float64 copy; `logits` is not modified). For tests and tools; the sampler keeps a `PenaltyState`.
 */
export function applyPenalties(
  logits: ArrayLike<number>,
  params: SamplingParams,
  promptIds: readonly number[],
  generatedIds: readonly number[],
): Float64Array {
  const state = new PenaltyState(params, promptIds);
  for (const t of generatedIds) state.record(t);
  const out = Float64Array.from(logits);
  state.apply(out);
  return out;
}
