// Entry point of the `roadster` command (bin/roadster.js imports this file): runs the CLI on the process's
// arguments, streams and environment, and sets the exit code.

import { processIo } from './io.ts';
import { runCli } from './program.ts';

// A closed pipe (`roadster ... | head`) ends the command quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await runCli(process.argv.slice(2), processIo());
