// POST /v1/chat/completions: the messages go through the model's chat template (with the assistant's
// generation prompt), then generate as completions do. `logprobs: true` with `top_logprobs: k` gives
// choices[].logprobs.content[{token, logprob, bytes, top_logprobs}]; `stream: true` sends chat.completion.chunk
// events (the first delta of each choice carries the role, the last the finish_reason). Only text content parts
// are accepted; tools, images and audio are refused.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationResult, TokenEvent } from '../generate/request.ts';
import type { TokenLogprob } from '../generate/sampling/sampler.ts';
import type { ChatMessage } from '../io/tokenizer/index.ts';
import { finishReason, finiteLogprob, submitChoices, usage } from './choices.ts';
import { requireTokenizer, responseId, type ServerContext, tokenBytes, tokenText } from './context.ts';
import { clientSignal } from './disconnect.ts';
import { badRequest, toApiError } from './errors.ts';
import { CHAT_SCHEMA, choiceSettings, rejectUnsupported, type SamplingBody } from './params.ts';
import { SseStream } from './sse.ts';

interface ChatBody extends SamplingBody {
  readonly messages: readonly { readonly role: string; readonly content?: string | readonly { readonly type: string; readonly text?: string }[] | null; readonly name?: string }[];
  readonly max_completion_tokens?: number | null;
  readonly logprobs?: boolean | null;
  readonly top_logprobs?: number | null;
}

interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

function entry(ctx: ServerContext, token: number, logprob: number): ChatTokenLogprob {
  return { token: tokenText(ctx, token), logprob: finiteLogprob(logprob), bytes: tokenBytes(ctx, token) };
}

function logprobsOf(ctx: ServerContext, tokens: readonly number[], lps: readonly number[], tops: readonly (readonly TokenLogprob[])[]) {
  return {
    content: tokens.map((t, i) => ({ ...entry(ctx, t, lps[i]), top_logprobs: tops[i].map((alt) => entry(ctx, alt.token, alt.logprob)) })),
    refusal: null,
  };
}

/** The messages with their content as text (text parts joined); other part types are a 400. */
function textMessages(body: ChatBody): ChatMessage[] {
  return body.messages.map((m, i) => {
    const content = m.content ?? null;
    if (content === null || typeof content === 'string') return { ...m, content };
    const parts = content.map((part, j) => {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw badRequest(`messages[${i}].content[${j}] is a "${part.type}" part; roadster serves text models and accepts only {"type": "text", "text": ...} parts`, `messages.${i}.content.${j}.type`);
      }
      return part.text;
    });
    return { ...m, content: parts.join('\n') };
  });
}

export function registerChat(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/chat/completions', { schema: { body: CHAT_SCHEMA } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const arrival = performance.now();
    const body = request.body as ChatBody;
    rejectUnsupported(body as unknown as Record<string, unknown>, 'chat');
    if (body.max_tokens != null && body.max_completion_tokens != null && body.max_tokens !== body.max_completion_tokens) {
      throw badRequest('max_tokens and max_completion_tokens differ; give one of them', 'max_completion_tokens');
    }
    if (body.top_logprobs != null && body.top_logprobs > 0 && body.logprobs !== true) throw badRequest('top_logprobs needs logprobs: true', 'top_logprobs');
    const adapter = ctx.models.resolve(body.model);
    const model = body.model ?? ctx.models.baseName;
    const wantLogprobs = body.logprobs === true;
    const settings = choiceSettings(body, wantLogprobs ? (body.top_logprobs ?? 0) : 0);
    const tokenizer = requireTokenizer(ctx, 'chat', 'messages');
    const prompt = tokenizer.applyChatTemplate(textMessages(body), { addGenerationPrompt: true, tokenize: true });
    const prompts = [prompt];
    const engine = ctx.engine;
    // Without a limit, a reply may fill the rest of the context (vLLM's default).
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? Math.max(1, Math.min(engine.maxModelLen, engine.maxCachedTokens) - prompt.length);
    const id = responseId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    const signal = clientSignal(reply);
    const run = { engine, metrics: ctx.metrics, modelName: model, adapter, arrival, signal, settings, prompts, maxTokens: () => maxTokens };
    const base = { id, object: 'chat.completion', created, model };

    if (!settings.stream) {
      const results = await Promise.all(submitChoices(run));
      return {
        ...base,
        choices: results.map((r, index) => ({
          index,
          message: { role: 'assistant', content: r.text ?? '', refusal: null },
          logprobs: wantLogprobs ? logprobsOf(ctx, r.tokens, r.logprobs, r.topLogprobs) : null,
          finish_reason: finishReason(r),
          stop_reason: r.finishReason === 'stop' ? r.stoppedBy : null,
          ...(settings.returnTokenIds ? { token_ids: r.tokens } : {}),
        })),
        usage: usage(prompts, results),
        ...(settings.returnTokenIds ? { prompt_token_ids: prompt } : {}),
      };
    }

    const chunk = { ...base, object: 'chat.completion.chunk' };
    const extra = settings.includeUsage ? { usage: null } : {};
    let stream: SseStream | null = null;
    const onToken = (index: number, e: TokenEvent) => {
      const lp = wantLogprobs ? logprobsOf(ctx, [e.token], [e.logprob], [e.top]) : null;
      if (e.text === '' && lp === null && !settings.returnTokenIds) return; // a piece of a character, or text held back by a stop string
      stream?.send({ ...chunk, choices: [{ index, delta: { content: e.text }, logprobs: lp, finish_reason: null, ...(settings.returnTokenIds ? { token_ids: [e.token] } : {}) }], ...extra });
    };
    const pending = submitChoices({ ...run, onToken });
    stream = new SseStream(reply);
    for (let index = 0; index < pending.length; index++) {
      stream.send({ ...chunk, choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...extra });
    }
    const results: GenerationResult[] = [];
    try {
      await Promise.all(pending.map((p, index) => p.then((r) => {
        results[index] = r;
        stream.send({ ...chunk, choices: [{ index, delta: {}, logprobs: null, finish_reason: finishReason(r), stop_reason: r.finishReason === 'stop' ? r.stoppedBy : null }], ...extra });
      })));
      if (settings.includeUsage) stream.send({ ...chunk, choices: [], usage: usage(prompts, results) });
    } catch (error) {
      stream.send(toApiError(error).body());
    }
    stream.done();
    return reply;
  });
}
