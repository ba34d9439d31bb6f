// Full-parameter training of a CausalLM on the roadster engine: every weight is a graph input (not an
// initializer), autodiff adds the gradient of the loss with respect to each, one ONNX Runtime run per step
// returns the loss and all gradients, and AdamW (in TypeScript) updates the float32 weights in place. Follows
// nanoGPT's recipe: weight decay on matrices only (embeddings and projections), none on RMSNorm weights, global
// gradient-norm clipping, cosine learning-rate schedule with linear warmup.

import { type CompiledGraph, GraphBuilder, type HostTensor, type Runtime, type Tensor, grad, gradName } from '../../src/index.ts';
import type { CausalLM } from '../../src/models/causal-lm.ts';
import { causalLmTensors } from '../../src/models/heads/lm-head.ts';
import { attentionBias, positionIds } from '../../src/models/attention-inputs.ts';
import { AdamW, clipCoefficient, globalNorm } from '../../src/train/optimizer.ts';
import { type Schedule, lrFactor } from '../../src/train/schedule.ts';

export interface FullTrainOptions {
  /** Peak learning rate. */
  readonly lr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly eps?: number;
  /** Global gradient-norm clip (null: none). */
  readonly maxGradNorm: number | null;
}

/** What one optimizer step did, with its time split. */
export interface StepResult {
  readonly loss: number;
  /** Gradient norm before clipping. */
  readonly gradNorm: number;
  readonly lr: number;
  /** ONNX Runtime run (forward + backward, including feeding the weights and copying gradients out). */
  readonly runSeconds: number;
  /** Gradient norm and AdamW update in TypeScript. */
  readonly updateSeconds: number;
}

/** Token rows [B][T] as an int64 tensor. */
function idsTensor(rows: readonly Int32Array[]): HostTensor {
  const t = rows[0].length;
  const data = new BigInt64Array(rows.length * t);
  rows.forEach((r, i) => {
    for (let j = 0; j < t; j++) data[i * t + j] = BigInt(r[j]);
  });
  return { dtype: 'int64', shape: [rows.length, t], data };
}

/** Trains every weight of `model` (its Float32Arrays are updated in place). Call `release` when done. */
export class FullParameterTrainer {
  /** The trained weights by checkpoint name (the model's own arrays). */
  readonly params: ReadonlyMap<string, Float32Array>;
  private readonly decay: AdamW;
  private readonly noDecay: AdamW;
  private readonly decayNames: ReadonlySet<string>;
  private readonly schedule: Schedule;
  private readonly positional = new Map<string, Record<string, HostTensor>>();
  private stepIndex = 0;

  private constructor(
    readonly model: CausalLM,
    private readonly trainGraph: CompiledGraph,
    private readonly lossGraph: CompiledGraph,
    readonly options: FullTrainOptions,
  ) {
    const params = new Map<string, Float32Array>();
    for (const spec of causalLmTensors(model.config)) params.set(spec.name, model.weights.get(spec.name)!.data);
    this.params = params;
    this.decayNames = new Set(causalLmTensors(model.config).filter((s) => s.shape.length >= 2).map((s) => s.name));
    const common = { lr: options.lr, betas: options.betas, eps: options.eps ?? 1e-8 };
    this.decay = new AdamW({ ...common, weightDecay: options.weightDecay });
    this.noDecay = new AdamW({ ...common, weightDecay: 0 });
    this.schedule = { kind: 'cosine', warmupSteps: options.warmupSteps, totalSteps: options.totalSteps };
  }

  /**
   * Traces the loss graph with every weight as an input, differentiates it, and compiles both the training
   * graph (loss + gradients) and the loss-only graph (evaluation).
   */
  static async create(model: CausalLM, runtime: Runtime, options: FullTrainOptions): Promise<FullParameterTrainer> {
    const names = causalLmTensors(model.config).map((s) => s.name);
    const b = new GraphBuilder();
    const shapes = new Map(causalLmTensors(model.config).map((s) => [s.name, s.shape]));
    const inputs = new Map<string, Tensor>();
    // tied embeddings ask for the embedding twice (lookup and output head): one input serves both
    const param = (bb: GraphBuilder, name: string) => {
      let t = inputs.get(name);
      if (!t) inputs.set(name, (t = bb.input(name, 'float32', shapes.get(name)!)));
      return t;
    };
    const { loss } = model.trace(b, { withLoss: true, param });
    const lossOnly = b.build({ loss: loss! });
    const withGrads = grad(lossOnly, 'loss', names);
    const [trainGraph, lossGraph] = [await runtime.compile(withGrads), await runtime.compile(lossOnly)];
    return new FullParameterTrainer(model, trainGraph, lossGraph, options);
  }

  /** Optimizer steps taken. */
  get step(): number {
    return this.stepIndex;
  }

  /** Learning rate of the next step. */
  get lr(): number {
    return this.options.lr * lrFactor(this.schedule, this.stepIndex);
  }

  private feeds(rows: readonly Int32Array[]): Record<string, HostTensor> {
    const [b, t] = [rows.length, rows[0].length];
    const key = `${b}x${t}`;
    let fixed = this.positional.get(key);
    if (!fixed) {
      // every row is one full window: positions 0..T-1 and a causal mask, the same for every batch of this shape
      const batch = { inputIds: Array.from({ length: b }, () => new Array<number>(t).fill(0)) };
      fixed = { position_ids: positionIds(batch), attention_bias: attentionBias(batch, 'float32') };
      this.positional.set(key, fixed);
    }
    const ids = idsTensor(rows);
    const feeds: Record<string, HostTensor> = { ...fixed, input_ids: ids, labels: ids };
    for (const [name, data] of this.params) feeds[name] = { dtype: 'float32', shape: this.model.weights.get(name)!.shape, data };
    return feeds;
  }

  /** One optimizer step on a batch of token windows (labels = inputs; the loss shifts them). */
  async trainStep(rows: readonly Int32Array[]): Promise<StepResult> {
    const t0 = performance.now();
    const out = await this.trainGraph.run(this.feeds(rows));
    const t1 = performance.now();
    const loss = Number(out.loss.data[0]);
    const grads = new Map<string, Float32Array>();
    for (const name of this.params.keys()) grads.set(name, out[gradName(name)].data as Float32Array);
    const gradNorm = globalNorm(grads.values());
    const lr = this.lr;
    const scale = this.options.maxGradNorm === null ? 1 : clipCoefficient(gradNorm, this.options.maxGradNorm);
    const pick = (decay: boolean) => new Map([...this.params].filter(([name]) => this.decayNames.has(name) === decay));
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
      this.decay.step(pick(true), grads, lr, scale);
      this.noDecay.step(pick(false), grads, lr, scale);
    }
    this.stepIndex++;
    return { loss, gradNorm, lr, runSeconds: (t1 - t0) / 1000, updateSeconds: (performance.now() - t1) / 1000 };
  }

  /** Mean loss over batches of windows (each batch weighted by its rows). */
  async evaluate(batches: readonly (readonly Int32Array[])[]): Promise<number> {
    let sum = 0;
    let rows = 0;
    for (const batch of batches) {
      const out = await this.lossGraph.run(this.feeds(batch));
      sum += Number(out.loss.data[0]) * batch.length;
      rows += batch.length;
    }
    return sum / rows;
  }

  /** Releases the sessions (the runtime stays usable). */
  async release(): Promise<void> {
    await this.trainGraph.dispose();
    await this.lossGraph.dispose();
  }
}
