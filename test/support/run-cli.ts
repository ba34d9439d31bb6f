// The command line run in-process with captured output, shared by the CLI, train, adapter and demo tests.

import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/program.ts';

export interface CapturedRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function sink(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      into.push(String(chunk));
      done();
    },
  });
}

/** runCli(`args`) with `env`; stderr pretends to be a terminal when `tty` (progress bars render). */
export async function runCliCaptured(args: readonly string[], env: NodeJS.ProcessEnv, options: { tty?: boolean } = {}): Promise<CapturedRun> {
  const out: string[] = [];
  const err: string[] = [];
  const terminal = { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true };
  const stderr = Object.assign(sink(err), options.tty ? terminal : {});
  const code = await runCli(args, { stdout: sink(out), stderr, env });
  return { code, stdout: out.join(''), stderr: err.join('') };
}
