// The studio's web server: static files on loopback only, cross-origin isolated (COOP same-origin, COEP
// require-corp), so that the page gets SharedArrayBuffer and onnxruntime-web its WebAssembly threads. Two roots:
// the built page (index.html, the bundle, ort/), and the shipped base model under /models/roadster-base/.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream',
};

/** Headers of every response: cross-origin isolation, and nothing cached across rebuilds. */
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

export interface StudioServerOptions {
  /** The built page (scripts/build-studio.ts's output). */
  readonly pageDir: string;
  /** The shipped model's folder, served under /models/roadster-base/. */
  readonly modelDir: string;
  /** TCP port on 127.0.0.1 (0: any free one). */
  readonly port?: number;
}

export interface StudioServer {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  close(): Promise<void>;
}

const MODEL_PREFIX = '/models/roadster-base/';

/** The file under `root` that `rel` names, or null when it would leave `root`. */
function inside(root: string, rel: string): string | null {
  const path = normalize(join(root, rel));
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep) ? path : null;
}

/** Starts the server; resolves once it listens. */
export function startStudioServer(options: StudioServerOptions): Promise<StudioServer> {
  const server: Server = createServer(async (req, res) => {
    const fail = (status: number, text: string) => {
      res.writeHead(status, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'only GET and HEAD');
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      return fail(400, 'bad path');
    }
    const file = pathname.startsWith(MODEL_PREFIX)
      ? inside(options.modelDir, pathname.slice(MODEL_PREFIX.length))
      : inside(options.pageDir, pathname === '/' ? 'index.html' : pathname.slice(1));
    if (file === null) return fail(403, 'outside the served folders');
    try {
      const info = await stat(file);
      if (!info.isFile()) return fail(404, 'not found');
      res.writeHead(200, { ...HEADERS, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': info.size });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch {
      fail(404, 'not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
