// POST /v1/completions (OpenAI's legacy completions API, as vLLM serves it): the prompt is a string, a list of
// strings, a list of token ids or a list of such lists; `n` choices per prompt (choice index = prompt × n + i);
// `logprobs: k` gives each token's log-probability and its k best alternatives as {tokens, token_logprobs,
// top_logprobs, text_offset}; `stream: true` sends text_completion chunks as tokens arrive.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationResult, TokenEvent } from '../generate/request.ts';
import type { TokenLogprob } from '../generate/sampling/sampler.ts';
import { finishReason, finiteLogprob, submitChoices, usage } from './choices.ts';
import { requireTokenizer, responseId, type ServerContext, tokenText } from './context.ts';
import { COMPLETION_SCHEMA, choiceSettings, rejectUnsupported, type SamplingBody } from './params.ts';
import { SseStream } from './sse.ts';
import { clientSignal } from './disconnect.ts';
import { toApiError } from './errors.ts';

/** OpenAI's default max_tokens for completions. */
const DEFAULT_MAX_TOKENS = 16;

interface CompletionBody extends SamplingBody {
  readonly prompt: string | readonly string[] | readonly number[] | readonly (readonly number[])[];
  readonly logprobs?: number | null;
}

/** OpenAI's completion logprobs of some tokens; offsets count from `offset` (the text already sent). */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

function logprobsOf(ctx: ServerContext, tokens: readonly number[], lps: readonly number[], tops: readonly (readonly TokenLogprob[])[], offset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  tokens.forEach((t, i) => {
    const text = tokenText(ctx, t);
    const top: Record<string, number> = {};
    for (const alt of tops[i]) top[tokenText(ctx, alt.token)] ??= finiteLogprob(alt.logprob);
    top[text] ??= finiteLogprob(lps[i]); // the chosen token is always among them (vLLM)
    out.tokens.push(text);
    out.token_logprobs.push(finiteLogprob(lps[i]));
    out.top_logprobs.push(top);
    out.text_offset.push(offset);
    offset += text.length;
  });
  return out;
}

/** The prompts' token ids. */
function promptIds(ctx: ServerContext, prompt: CompletionBody['prompt']): number[][] {
  if (typeof prompt === 'string') return [requireTokenizer(ctx, 'a text prompt', 'prompt').encode(prompt)];
  if (prompt.every((p) => typeof p === 'number')) return [[...(prompt as readonly number[])]];
  return (prompt as readonly (string | readonly number[])[]).map((p) => (typeof p === 'string' ? requireTokenizer(ctx, 'a text prompt', 'prompt').encode(p) : [...p]));
}

export function registerCompletions(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/completions', { schema: { body: COMPLETION_SCHEMA } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const arrival = performance.now();
    const body = request.body as CompletionBody;
    rejectUnsupported(body as unknown as Record<string, unknown>, 'completions');
    const adapter = ctx.models.resolve(body.model);
    const model = body.model ?? ctx.models.baseName;
    const logprobs = body.logprobs ?? null;
    const settings = choiceSettings(body, logprobs ?? 0);
    const prompts = promptIds(ctx, body.prompt);
    const id = responseId('cmpl');
    const created = Math.floor(Date.now() / 1000);
    const signal = clientSignal(reply);
    const run = { engine: ctx.engine, metrics: ctx.metrics, modelName: model, adapter, arrival, signal, settings, prompts, maxTokens: () => body.max_tokens ?? DEFAULT_MAX_TOKENS };
    const base = { id, object: 'text_completion', created, model };

    if (!settings.stream) {
      const results = await Promise.all(submitChoices(run));
      return {
        ...base,
        choices: results.map((r, index) => ({
          index,
          text: r.text ?? '',
          logprobs: logprobs === null ? null : logprobsOf(ctx, r.tokens, r.logprobs, r.topLogprobs, 0),
          finish_reason: finishReason(r),
          stop_reason: r.finishReason === 'stop' ? r.stoppedBy : null,
          ...(settings.returnTokenIds ? { prompt_token_ids: prompts[Math.floor(index / settings.n)], token_ids: r.tokens } : {}),
        })),
        usage: usage(prompts, results),
      };
    }

    const extra = settings.includeUsage ? { usage: null } : {};
    const offsets = new Array<number>(prompts.length * settings.n).fill(0);
    let stream: SseStream | null = null;
    const onToken = (index: number, e: TokenEvent) => {
      const lp = logprobs === null ? null : logprobsOf(ctx, [e.token], [e.logprob], [e.top], offsets[index]);
      offsets[index] += e.text.length;
      if (e.text === '' && lp === null && !settings.returnTokenIds) return; // a piece of a character, or text held back by a stop string
      stream?.send({ ...base, choices: [{ index, text: e.text, logprobs: lp, finish_reason: null, ...(settings.returnTokenIds ? { token_ids: [e.token] } : {}) }], ...extra });
    };
    const pending = submitChoices({ ...run, onToken }); // before hijacking: a refused request is still a plain error
    stream = new SseStream(reply);
    const results: GenerationResult[] = [];
    try {
      await Promise.all(pending.map((p, index) => p.then((r) => {
        results[index] = r;
        stream.send({ ...base, choices: [{ index, text: '', logprobs: null, finish_reason: finishReason(r), stop_reason: r.finishReason === 'stop' ? r.stoppedBy : null }], ...extra });
      })));
      if (settings.includeUsage) stream.send({ ...base, choices: [], usage: usage(prompts, results) });
    } catch (error) {
      stream.send(toApiError(error).body());
    }
    stream.done();
    return reply;
  });
}
