#!/usr/bin/env node
// The `roadster` command: runs the compiled CLI (dist/cli/main.js), built by `npm run build`. An installed
// package ships dist/; a checkout builds it in `npm ci` (the `prepare` script). The sources themselves run
// with `npm run roadster -- ...` (tsx).

import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('roadster: dist/cli/main.js is missing; run `npm run build` in the roadster checkout first.\n');
  process.exit(1);
}
await import(main.href);
