// One HTTP request becomes several engine requests ("choices"): `n` per prompt, choice i of a prompt seeded
// with seed + i when the request has a seed. They are submitted together (so they share the first prefill) and
// cancelled together when the client goes away; a failure to submit one (a full queue, a bad value) cancels the
// ones already in and is the request's error. Metrics are recorded per choice.

import type { GenerationEngine } from '../generate/engine.ts';
import type { GenerationHandle, GenerationResult, TokenEvent } from '../generate/request.ts';
import type { FinishedReason, ServerMetrics } from './metrics.ts';
import type { ChoiceSettings } from './params.ts';

/** What one HTTP request runs. */
export interface ChoiceRun {
  readonly engine: GenerationEngine;
  readonly metrics: ServerMetrics;
  /** The name `model` gave (for the per-adapter counter). */
  readonly modelName: string;
  /** The resident adapter, or null for the base model. */
  readonly adapter: string | null;
  /** When the request arrived (performance.now()). */
  readonly arrival: number;
  /** Aborted when the client disconnects. */
  readonly signal: AbortSignal;
  readonly settings: ChoiceSettings;
  /** Prompts' token ids; choice index = prompt index × n + i. */
  readonly prompts: readonly (readonly number[])[];
  /** Most new tokens for a prompt. */
  readonly maxTokens: (prompt: readonly number[]) => number;
  /** Streaming: each generated token of a choice. */
  readonly onToken?: (choice: number, event: TokenEvent) => void;
}

/** OpenAI's finish_reason (vLLM's "abort" for a cancelled request). */
export function finishReason(result: GenerationResult): FinishedReason {
  return result.finishReason === 'cancelled' ? 'abort' : result.finishReason;
}

/** Submits every choice; returns their results in choice order. */
export function submitChoices(run: ChoiceRun): Promise<GenerationResult>[] {
  const { settings } = run;
  const handles: GenerationHandle[] = [];
  const results: Promise<GenerationResult>[] = [];
  try {
    run.prompts.forEach((promptIds, p) => {
      for (let i = 0; i < settings.n; i++) {
        const index = p * settings.n + i;
        const tracker = run.metrics.track(run.modelName, run.arrival);
        const handle = run.engine.submit({
          ...settings.request,
          sampling: { ...settings.request.sampling, seed: settings.seed === null ? null : settings.seed + i },
          promptIds,
          adapter: run.adapter,
          maxTokens: run.maxTokens(promptIds),
          signal: run.signal,
          onToken: (event) => {
            tracker.token();
            run.onToken?.(index, event);
          },
        });
        handles.push(handle);
        results.push(handle.result.then((r) => (tracker.finish(finishReason(r), r.promptTokens), r)));
      }
    });
  } catch (error) {
    for (const h of handles) h.cancel();
    for (const r of results) r.catch(() => {});
    throw error;
  }
  return results;
}

/** OpenAI's usage object. */
export function usage(prompts: readonly (readonly number[])[], results: readonly GenerationResult[]): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = prompts.reduce((n, p) => n + p.length, 0);
  const completion = results.reduce((n, r) => n + r.tokens.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** JSON cannot carry -Infinity: vLLM reports -9999 for a token of probability 0. */
export function finiteLogprob(lp: number): number {
  return Number.isFinite(lp) ? lp : -9999;
}
