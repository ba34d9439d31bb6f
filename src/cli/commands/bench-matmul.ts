// `roadster bench matmul`: float32 matmul throughput of ONNX Runtime on this machine, with 1 thread and with all
// threads, on the shapes DESIGN.md's engine comparison used. Prints JSON with --json, else a table.

import { availableParallelism, cpus } from 'node:os';
import type { Command } from 'commander';
import { type BenchResult, type QuantizeWeights, benchMatmul } from '../../runtime/index.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';
import { intAtLeast, quantizeOption } from '../options.ts';

/** The machine a benchmark ran on. */
export interface MachineInfo {
  /** Logical CPUs the process may use (os.availableParallelism()). */
  readonly cpus: number;
  /** CPU model as the OS names it. */
  readonly model: string;
}

export function machineInfo(): MachineInfo {
  return { cpus: availableParallelism(), model: cpus()[0]?.model.trim() ?? 'unknown' };
}

interface MatmulOptions {
  readonly threads?: number;
  readonly iters: number;
  readonly warmup: number;
  readonly peakGflops?: number;
  readonly quantize: QuantizeWeights;
  readonly json?: boolean;
}

export function registerBenchMatmul(bench: Command, io: CliIo): void {
  bench
    .command('matmul')
    .description('matmul GFLOP/s (float32, or int8 weights) with 1 thread and with all threads')
    .option('--threads <n>', 'the multi-thread count (default: all available)', intAtLeast(1))
    .option('--iters <n>', 'timed runs per case (the median is reported)', intAtLeast(1), 20)
    .option('--warmup <n>', 'untimed runs per case first', intAtLeast(0), 5)
    .option('--peak-gflops <x>', 'machine peak, to report each result as a fraction of it', intAtLeast(1))
    .addOption(quantizeOption())
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: MatmulOptions) => {
      const machine = machineInfo();
      const many = opts.threads ?? machine.cpus;
      const threads = many === 1 ? [1] : [1, many];
      const results = await benchMatmul({ threads, iters: opts.iters, warmup: opts.warmup, quantize: opts.quantize });
      const rows = results.map((r: BenchResult) => ({
        ...r,
        ...(opts.peakGflops === undefined ? {} : { fractionOfPeak: r.gflops / opts.peakGflops }),
      }));
      if (opts.json) {
        printJson(io, { machine, quantize: opts.quantize, iters: opts.iters, warmup: opts.warmup, ...(opts.peakGflops === undefined ? {} : { peakGflops: opts.peakGflops }), results: rows });
        return;
      }
      io.stdout.write(`${machine.model}, ${machine.cpus} CPUs; median of ${opts.iters} runs after ${opts.warmup} warm-up runs\n`);
      const header = ['m', 'k', 'n', 'transB', 'threads', 'ms', 'GFLOP/s', ...(opts.peakGflops === undefined ? [] : ['of peak'])];
      io.stdout.write(
        formatTable(
          header,
          rows.map((r) => [
            r.case.m, r.case.k, r.case.n, r.case.transB ? 'yes' : 'no', r.threads, Number(r.medianMs.toFixed(3)), Number(r.gflops.toFixed(1)),
            ...('fractionOfPeak' in r ? [`${(100 * (r.fractionOfPeak as number)).toFixed(0)}%`] : []),
          ]),
        ),
      );
    });
}
