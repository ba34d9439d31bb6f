#!/usr/bin/env node
// The `roadster` command: registers tsx's ESM loader so that the TypeScript sources run as they are, then starts
// the CLI (src/cli/main.ts).

import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
