// `roadster bench train`: RoAd (or LoRA) training steps on a preset-shaped model with random weights: one
// step = one ONNX Runtime run giving the loss and every adapter gradient, plus the AdamW update. Reports the
// median step time, tokens/s, peak RSS and the share of the measured matmul peak that the step's matmul
// FLOPs reach (forward, plus the input gradients of the frozen projections and attention in backward).

import { availableParallelism } from 'node:os';
import { loraConfig } from '../../adapters/lora/config.ts';
import { PeftModel } from '../../adapters/peft-model.ts';
import { roadConfig } from '../../adapters/road/config.ts';
import type { RoadVariant } from '../../adapters/road/math.ts';
import type { PresetName } from '../../io/config/index.ts';
import { CausalLM } from '../../models/causal-lm.ts';
import { benchMatmul } from '../../runtime/bench-matmul.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { AdamW } from '../../train/optimizer.ts';
import { peftParameterName } from '../../adapters/peft-model.ts';
import { type CliIo, printJson } from '../io.ts';
import { median, randomIds } from '../bench-inputs.ts';
import { ensurePresetFolder } from '../preset-cache.ts';

export interface TrainBenchOptions {
  readonly preset: PresetName;
  readonly batch: number;
  readonly seq: number;
  readonly steps: number;
  readonly method: 'road' | 'lora';
  readonly variant: RoadVariant;
  readonly groupSize: number;
  readonly rank: number;
  readonly threads?: number;
  readonly seed: number;
  readonly recompute?: boolean;
  readonly quantize: QuantizeWeights;
  readonly json?: boolean;
}

/** Matmul FLOPs of one training step with frozen weights: forward, and input gradients in backward. */
export function trainStepMatmulFlops(model: CausalLM, batch: number, seq: number): number {
  const c = model.config;
  const tokens = batch * seq;
  let linear = 0;
  for (const s of model.linearSites()) linear += s.inFeatures * s.outFeatures;
  const head = c.hiddenSize * c.vocabSize;
  const attention = c.numHiddenLayers * 2 * seq * c.numAttentionHeads * c.headDim; // QKᵀ and PV per token (full square)
  const forward = 2 * tokens * (linear + head + attention);
  // backward: dX of every projection and the head (one matmul each), and two matmuls per attention product
  const backward = 2 * tokens * (linear + head + 2 * attention);
  return forward + backward;
}

export async function benchTrain(opts: TrainBenchOptions, log: (line: string) => void) {
  const threads = opts.threads ?? availableParallelism();
  const { folder } = ensurePresetFolder(opts.preset, { dtype: 'BF16', seed: opts.seed });
  const base = await CausalLM.fromFolder(folder);
  const runtime = new Runtime({ threads, quantizeWeights: opts.quantize });
  try {
    const config =
      opts.method === 'road'
        ? roadConfig({ variant: opts.variant, groupSize: opts.groupSize, targetModules: 'all-linear' }, base.config.modelType)
        : loraConfig({ r: opts.rank, loraAlpha: opts.rank, targetModules: 'all-linear' }, base.config.modelType);
    const peft = PeftModel.getPeftModel(base, runtime, config);
    const params = new Map<string, Float32Array | Float64Array>();
    for (const [path, site] of peft.parameters('default')) for (const [p, d] of Object.entries(site)) params.set(peftParameterName(path, p, 'default'), d);
    const opt = new AdamW({ lr: 1e-3 });
    const batchFor = (step: number) => {
      const inputIds = randomIds(opts.batch, opts.seq, base.config.vocabSize, opts.seed + step);
      return { inputIds, labels: inputIds };
    };
    log(`${opts.preset}: ${peft.printTrainableParameters()}; compiling the training graph ...`);
    let t0 = performance.now();
    const recompute = opts.recompute === true;
    const first = await peft.lossAndGrads(batchFor(0), { recompute });
    const firstStepMs = performance.now() - t0;
    const { compileMs } = runtime.stats;
    opt.step(params, first.grads);
    log(`first step ${firstStepMs.toFixed(0)} ms (${compileMs.toFixed(0)} ms lowering and session creation); timing ${opts.steps} steps ...`);
    const times: number[] = [];
    const optimizerMs: number[] = [];
    for (let step = 1; step <= opts.steps; step++) {
      const batch = batchFor(step);
      t0 = performance.now();
      const { grads } = await peft.lossAndGrads(batch, { recompute });
      const t1 = performance.now();
      opt.step(params, grads);
      const t2 = performance.now();
      times.push(t2 - t0);
      optimizerMs.push(t2 - t1);
    }
    const medianMs = median(times);
    const flops = trainStepMatmulFlops(base, opts.batch, opts.seq);
    const [peak] = await benchMatmul({ threads, cases: [{ m: 512, k: 576, n: 1536 }], warmup: 3, iters: 10 });
    const achieved = flops / (medianMs / 1000) / 1e9;
    return {
      preset: opts.preset,
      method: opts.method,
      ...(opts.method === 'road' ? { variant: opts.variant, groupSize: opts.groupSize } : { rank: opts.rank }),
      targets: 'all-linear',
      recompute,
      quantize: opts.quantize,
      batch: opts.batch,
      seq: opts.seq,
      steps: opts.steps,
      threads,
      trainableParameters: peft.trainableParameters().trainable,
      medianMs,
      minMs: Math.min(...times),
      optimizerMedianMs: median(optimizerMs),
      tokensPerSecond: (opts.batch * opts.seq) / (medianMs / 1000),
      firstStepMs,
      compileMs,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      matmulGflopPerStep: flops / 1e9,
      achievedGflops: achieved,
      measuredMatmulPeakGflops: peak.gflops,
      shareOfMatmulPeak: achieved / peak.gflops,
    };
  } finally {
    await runtime.release();
  }
}

/** `roadster bench train`: progress lines on stderr, the result on stdout. */
export async function runBenchTrain(opts: TrainBenchOptions, io: CliIo): Promise<void> {
  const result = await benchTrain(opts, (line) => io.stderr.write(`${line}\n`));
  if (opts.json) return printJson(io, result);
  io.stdout.write(
    `${result.preset} ${result.method}${result.quantize === 'none' ? '' : ` (${result.quantize} weights)`}: batch ${result.batch} x seq ${result.seq}: median step ${result.medianMs.toFixed(0)} ms, ` +
      `${result.tokensPerSecond.toFixed(0)} tokens/s, ${result.achievedGflops.toFixed(0)} GFLOP/s (${(100 * result.shareOfMatmulPeak).toFixed(0)}% of the measured matmul peak), peak RSS ${result.peakRssMB.toFixed(0)} MB\n`,
  );
}
