// Server-sent events for `stream: true`, as OpenAI sends them: one `data: {json}` event per chunk, then
// `data: [DONE]`. The reply is taken over from Fastify (hijacked) so that chunks go out as tokens arrive; an
// error after the first byte is sent as a `data: {"error": ...}` event before [DONE], as vLLM does.

import type { FastifyReply } from 'fastify';
import type { ErrorBody } from './errors.ts';

export class SseStream {
  readonly #reply: FastifyReply;

  constructor(reply: FastifyReply) {
    this.#reply = reply;
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  /** Whether the client is still there. */
  get open(): boolean {
    return !this.#reply.raw.destroyed && !this.#reply.raw.writableEnded;
  }

  send(chunk: object | ErrorBody): void {
    if (this.open) this.#reply.raw.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  /** Sends [DONE] and ends the response. */
  done(): void {
    if (this.open) this.#reply.raw.end('data: [DONE]\n\n');
  }
}
