// `roadster studio`: serves the built studio page and the shipped base model on loopback until interrupted.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_MODEL_DIR } from '../../demo/shipped-model.ts';
import { RoadsterError } from '../../errors.ts';
import type { CliIo } from '../io.ts';
import { startStudioServer } from '../studio/static-server.ts';

export interface StudioOptions {
  readonly port: string;
  readonly pageDir?: string;
}

/** The package's built page (three folders up from src/cli/commands/ and dist/cli/commands/). */
export const DEFAULT_PAGE_DIR = fileURLToPath(new URL('../../../dist/studio/', import.meta.url));

export async function runStudio(opts: StudioOptions, io: CliIo): Promise<void> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RoadsterError('E_USAGE', `--port must be an integer in [0, 65535], got ${opts.port}`);
  const pageDir = resolve(opts.pageDir ?? DEFAULT_PAGE_DIR);
  if (!existsSync(join(pageDir, 'index.html'))) {
    throw new RoadsterError('E_NOT_FOUND', `${pageDir} holds no built studio page; build it with npm run build:studio (npm ci and npm run build do it too)`);
  }
  const server = await startStudioServer({ pageDir, modelDir: SHIPPED_MODEL_DIR, port });
  io.stderr.write(`roadster studio: open ${server.url} (cross-origin isolated; 127.0.0.1 only). Ctrl-C stops it.\n`);
  io.stdout.write(`${server.url}\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
