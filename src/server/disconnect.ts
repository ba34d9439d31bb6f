// A client that goes away cancels its generation: the response's socket closes before the response has ended,
// and the signal given to every engine request of it aborts, which frees their batch rows at the next step.

import type { FastifyReply } from 'fastify';

/** Aborts when the client disconnects before the whole response was written. */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
