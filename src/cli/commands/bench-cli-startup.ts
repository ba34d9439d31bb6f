// `roadster bench cli-startup`: wall time of starting the CLI, as a user waits for it: `roadster --version`,
// `--help` and `inspect --help` spawned as new processes (the same Node.js, flags and entry script as this run:
// bin/roadster.js runs the build, `npm run roadster` the sources through tsx), beside a bare `node -e ""`.
// Commands load their implementation lazily (cli/define/), so these stay close to Node's own startup.

import { spawnSync } from 'node:child_process';
import { median } from '../bench-inputs.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';

export interface CliStartupOptions {
  readonly runs: number;
  readonly json?: boolean;
}

/** One spawned command line: its arguments and the wall times of its runs. */
export interface StartupCase {
  readonly args: readonly string[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface CliStartupResult {
  readonly node: string;
  /** What each case ran before its arguments: the Node.js binary, its flags and the CLI's entry script. */
  readonly command: readonly string[];
  readonly runs: number;
  /** `node -e ""`: Node's own startup on this machine, the floor of every case. */
  readonly nodeBaseline: StartupCase;
  readonly cases: readonly StartupCase[];
}

const CASES: readonly (readonly string[])[] = [['--version'], ['--help'], ['inspect', '--help']];

function timeRuns(argv: readonly string[], runs: number): StartupCase & { args: readonly string[] } {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${process.execPath} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) times.push(ms); // the first run warms the file cache
  }
  return { args: argv, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times) };
}

/** Spawns each case `runs` times (after one untimed run). */
export function benchCliStartup(runs: number): CliStartupResult {
  const command = [...process.execArgv, process.argv[1]];
  const baseline = timeRuns(['-e', ''], runs);
  return {
    node: process.version,
    command: [process.execPath, ...command],
    runs,
    nodeBaseline: { ...baseline, args: ['-e', '""'] },
    cases: CASES.map((args) => ({ ...timeRuns([...command, ...args], runs), args })),
  };
}

/** `roadster bench cli-startup`. */
export function runBenchCliStartup(opts: CliStartupOptions, io: CliIo): void {
  const result = benchCliStartup(opts.runs);
  if (opts.json) return printJson(io, result);
  io.stdout.write(`${result.command.join(' ')} (Node.js ${result.node}), median of ${result.runs} runs\n`);
  const row = (name: string, c: StartupCase) => [name, Number(c.medianMs.toFixed(1)), Number(c.minMs.toFixed(1)), Number(c.maxMs.toFixed(1))];
  io.stdout.write(formatTable(['command', 'median ms', 'min ms', 'max ms'], [
    row('node -e ""', result.nodeBaseline),
    ...result.cases.map((c) => row(`roadster ${c.args.join(' ')}`, c)),
  ]));
}
