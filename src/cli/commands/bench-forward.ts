// `roadster bench forward`: float32 forward passes (logits) of a preset-shaped model with random weights. The
// weights come from a cached preset folder (see preset-cache.ts; written on first use), so the run also
// exercises the real loading path. Times session creation, one warm-up run, then `--steps` timed runs on fresh
// random token ids; reports the median, tokens/s and the process's peak RSS as JSON (--json) or text.

import { availableParallelism } from 'node:os';
import { PRESETS, type PresetName } from '../../io/config/index.ts';
import { CausalLM } from '../../models/causal-lm.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { type CliIo, printJson } from '../io.ts';
import { median, randomIds } from '../bench-inputs.ts';
import type { PresetDtype } from '../options.ts';
import { ensurePresetFolder } from '../preset-cache.ts';

export interface ForwardOptions {
  readonly preset: PresetName;
  readonly batch: number;
  readonly seq: number;
  readonly steps: number;
  readonly threads?: number;
  readonly quantize: QuantizeWeights;
  readonly dtype: PresetDtype;
  readonly seed: number;
  readonly cacheDir?: string;
  readonly json?: boolean;
}

/** What `bench forward` reports. */
export interface ForwardBenchResult {
  readonly preset: PresetName;
  readonly repoId: string;
  readonly params: number;
  readonly batch: number;
  readonly seq: number;
  readonly steps: number;
  readonly threads: number;
  /** Frozen matmul weights: float32 (none) or int8. */
  readonly quantize: QuantizeWeights;
  readonly medianMs: number;
  readonly minMs: number;
  readonly tokensPerSecond: number;
  readonly sessionCreateMs: number;
  readonly firstRunMs: number;
  readonly loadMs: number;
  readonly peakRssMB: number;
  /** Whether the ONNX model went through an external data file (protobuf's 2 GB limit). */
  readonly externalData: boolean;
  /** Storage dtype of the cached preset folder (the compute is float32). */
  readonly storageDtype: PresetDtype;
  /** Whether the preset folder was written by this run (then peakRssMB includes writing it). */
  readonly presetCreated: boolean;
}

const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Runs the benchmark; `log` receives progress lines. */
export async function benchForward(opts: ForwardOptions, log: (line: string) => void): Promise<ForwardBenchResult> {
  const threads = opts.threads ?? availableParallelism();
  log(`preparing ${opts.preset} (${opts.dtype}, seed ${opts.seed}) ...`);
  const { folder, created } = ensurePresetFolder(opts.preset, { dtype: opts.dtype, seed: opts.seed, cacheDir: opts.cacheDir });
  let t0 = process.hrtime.bigint();
  const model = await CausalLM.fromFolder(folder);
  const loadMs = msSince(t0);
  const params = [...model.weights.values()].reduce((n, w) => n + w.data.length, 0);
  log(`loaded ${params.toLocaleString('en-US')} parameters from ${folder} in ${loadMs.toFixed(0)} ms; creating the session ...`);
  const runtime = new Runtime({ threads, quantizeWeights: opts.quantize });
  try {
    t0 = process.hrtime.bigint();
    const compiled = await runtime.compile(model.buildGraph());
    const sessionCreateMs = msSince(t0);
    const feedsFor = (step: number) => model.feeds({ inputIds: randomIds(opts.batch, opts.seq, model.config.vocabSize, opts.seed + step) });
    t0 = process.hrtime.bigint();
    await compiled.run(feedsFor(0));
    const firstRunMs = msSince(t0);
    log(`session ${sessionCreateMs.toFixed(0)} ms, first run ${firstRunMs.toFixed(0)} ms; timing ${opts.steps} runs ...`);
    const times: number[] = [];
    for (let step = 1; step <= opts.steps; step++) {
      const feeds = feedsFor(step);
      t0 = process.hrtime.bigint();
      await compiled.run(feeds);
      times.push(msSince(t0));
    }
    const medianMs = median(times);
    return {
      preset: opts.preset,
      repoId: PRESETS[opts.preset].repoId,
      params,
      batch: opts.batch,
      seq: opts.seq,
      steps: opts.steps,
      threads,
      quantize: opts.quantize,
      medianMs,
      minMs: Math.min(...times),
      tokensPerSecond: (opts.batch * opts.seq) / (medianMs / 1000),
      sessionCreateMs,
      firstRunMs,
      loadMs,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      externalData: compiled.info.externalData,
      storageDtype: opts.dtype,
      presetCreated: created,
    };
  } finally {
    await runtime.release();
  }
}

/** `roadster bench forward`: progress lines on stderr, the result on stdout. */
export async function runBenchForward(opts: ForwardOptions, io: CliIo): Promise<void> {
  const result = await benchForward(opts, (line) => io.stderr.write(`${line}\n`));
  if (opts.json) {
    printJson(io, result);
    return;
  }
  io.stdout.write(
    `${result.preset}: batch ${result.batch} x seq ${result.seq}, ${result.threads} threads: median ${result.medianMs.toFixed(1)} ms, ` +
      `${result.tokensPerSecond.toFixed(0)} tokens/s; session ${result.sessionCreateMs.toFixed(0)} ms, peak RSS ${result.peakRssMB.toFixed(0)} MB` +
      `${result.externalData ? ' (external data)' : ''}\n`,
  );
}
