// `roadster bench matmul`: float32 matmul throughput of ONNX Runtime on this machine, with 1 thread and with all
// threads, on the shapes of the engine comparison in docs/design.md. Prints JSON with --json, else a table.

import { availableParallelism, cpus } from 'node:os';
import { type BenchResult, type QuantizeWeights, benchMatmul } from '../../runtime/index.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';

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

export interface MatmulOptions {
  readonly threads?: number;
  readonly iters: number;
  readonly warmup: number;
  readonly peakGflops?: number;
  readonly quantize: QuantizeWeights;
  readonly json?: boolean;
}

/** `roadster bench matmul`. */
export async function runBenchMatmul(opts: MatmulOptions, io: CliIo): Promise<void> {
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
}
