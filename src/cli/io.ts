// What a CLI command may touch outside its arguments: the output streams and the environment. main.ts passes
// the process's; tests pass their own. Only the CLI reads the environment (docs/design.md: no hidden globals).

import { RoadsterError } from '../errors.ts';

/** Streams and environment of one CLI invocation. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /** Progress bars render here when it is a terminal. */
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** The process's streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/**
 * Whether `stream` may receive ANSI colors: a terminal, NO_COLOR unset or empty (no-color.org), FORCE_COLOR not
 * 0/false, TERM not "dumb". roadster itself prints no colors; this tells commander, which would otherwise read
 * the process's own streams and environment.
 */
export function hasColors(io: CliIo, stream: { isTTY?: boolean }): boolean {
  const { NO_COLOR, FORCE_COLOR, TERM } = io.env;
  if ((NO_COLOR !== undefined && NO_COLOR !== '') || FORCE_COLOR === '0' || FORCE_COLOR === 'false') return false;
  return stream.isTTY === true && TERM !== 'dumb';
}

/** Whether progress bars draw on stderr: only on a terminal that can move the cursor; else plain lines. */
export function showsProgressBars(io: CliIo): boolean {
  return io.stderr.isTTY === true && io.env.TERM !== 'dumb';
}

/** Writes `value` as indented JSON and a newline. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A fixed-width text table: one header row, then the rows (numbers right-aligned). */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: readonly string[], raw: readonly (string | number)[] | null): string =>
    r.map((cell, c) => (raw !== null && typeof raw[c] === 'number' ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(cells[0], null), ...rows.map((raw, i) => line(cells[i + 1], raw))].join('\n') + '\n';
}

/** A usage error for a bad flag value (exit code 2). */
export function usageError(message: string): RoadsterError {
  return new RoadsterError('E_USAGE', message);
}
