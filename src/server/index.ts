// The OpenAI-compatible server (issue 14): createServer and what its options and result name.

export { createServer, DEFAULT_BODY_LIMIT, type RoadsterServer, type ServerOptions } from './server.ts';
export type { ModelCard } from './adapters.ts';
export type { ErrorBody } from './errors.ts';
