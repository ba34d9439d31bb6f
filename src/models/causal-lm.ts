// A model of the Llama family with its weights in memory: the decoder (llama/forward.ts, the backbone) and one
// head (heads/: the language model's lm_head, or a sequence classifier's score). Traces graphs (forward, with or
// without loss, float32 or float64) and runs them, with one graph cache. Loading follows transformers'
// `from_pretrained`: a local folder or a Hub id resolved through the HF cache; config.json says which head the
// checkpoint has (a *ForSequenceClassification checkpoint loads with its `score` head).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../errors.ts';
import type { DType } from '../graph/dtype.ts';
import type { Graph } from '../graph/ir.ts';
import { GraphBuilder, type Tensor } from '../graph/tracer.ts';
import { type ModelConfig, loadModelConfig, ropeInvFreq } from '../io/config/index.ts';
import type { GenerationConfig } from '../io/config/index.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { type TokenBatch, attentionBias, batchShape, int64Tensor, positionIds } from './attention-inputs.ts';
import type { SequenceClassification } from './classification-config.ts';
import type { HeadBatch } from './heads/head.ts';
import { type Head, headFromConfigJson, headOf } from './heads/kinds.ts';
import { LM_HEAD_INPUTS, type LmHead } from './heads/lm-head.ts';
import { type LinearFn, type LinearSite, plainLinear } from './linear.ts';
import { type WeightSpec, decoderTensors, linearSites } from './llama/checkpoint-names.ts';
import { type ForwardContext, llamaForward } from './llama/forward.ts';
import { type Weight, loadWeights } from './load-weights.ts';

export interface GraphOptions {
  /** Compute dtype: float32 (default) or float64 (for gradient checks). */
  readonly dtype?: 'float32' | 'float64';
  /** Adds the head's loss inputs (`labels`, or `class_labels` on a classifier) and a `loss` output. */
  readonly withLoss?: boolean;
  /** Replaces the plain projection (adapters attach here). */
  readonly linear?: LinearFn;
  /**
   * Training memory: recompute each decoder layer in the backward pass instead of keeping its activations, and
   * compute the loss over vocabulary chunks so that the [B, T, V] logits never exist at once.
   */
  readonly recompute?: boolean;
  /** Vocabulary chunks of the loss when `recompute` is set (default 8). */
  readonly lossChunks?: number;
  /** Provides weights by name; by default they are graph initializers. */
  readonly param?: (b: GraphBuilder, name: string, dtype: DType) => Tensor;
}

/** Graph input names every causal-LM graph uses. */
export const INPUT_NAMES = {
  inputIds: 'input_ids',
  positionIds: 'position_ids',
  attentionBias: 'attention_bias',
  slidingBias: 'sliding_attention_bias',
  labels: LM_HEAD_INPUTS.labels,
} as const;

export interface ForwardResult {
  /** [B, T, V] */
  readonly logits: HostTensor;
  readonly loss?: number;
}

/** Whether `x` is a head (rather than the config fields of a classification head). */
function isHead(x: Head | SequenceClassification): x is Head {
  return typeof (x as Partial<Head>).trace === 'function';
}

export class CausalLM {
  private readonly float64Weights = new Map<string, Float64Array>();
  /** The head on the decoder's hidden states: the language model's, or a sequence classifier's. */
  readonly head: Head;

  constructor(
    readonly config: ModelConfig,
    readonly weights: ReadonlyMap<string, Weight>,
    readonly generationConfig: GenerationConfig | null = null,
    readonly source = '<memory>',
    /** config.json and generation_config.json as read, so saved models keep every field. */
    readonly rawFiles: { readonly config?: unknown; readonly generationConfig?: unknown } = {},
    /**
     * The head: a `Head`, or the labels of a sequence-classification head (`score.weight` [K, C] in `weights`);
     * null (the default) for the language model's head.
     */
    head: Head | SequenceClassification | null = null,
  ) {
    this.head = head === null ? headOf(config, null) : isHead(head) ? head : headOf(config, head);
  }

  /**
   * Loads config.json and the safetensors weights of a local model folder (`AutoModelForCausalLM.fromPretrained`
   * also takes Hub ids). `source` names the model in messages (default: the folder).
   */
  static async fromFolder(folder: string, options: { source?: string } = {}): Promise<CausalLM> {
    const { model, generation } = await loadModelConfig(folder);
    const raw = (name: string) => (existsSync(join(folder, name)) ? (JSON.parse(readFileSync(join(folder, name), 'utf8')) as unknown) : undefined);
    const config = raw('config.json');
    const head = headFromConfigJson(config, model, join(folder, 'config.json'));
    const weights = loadWeights(folder, [...decoderTensors(model), ...head.weightSpecs()], model);
    return new CausalLM(model, weights, generation, options.source ?? folder, { config, generationConfig: raw('generation_config.json') }, head);
  }

  /** The same model with some weights replaced (e.g. merged adapters). */
  withWeights(replaced: ReadonlyMap<string, Weight>): CausalLM {
    const weights = new Map(this.weights);
    for (const [name, w] of replaced) weights.set(name, w);
    return new CausalLM(this.config, weights, this.generationConfig, this.source, this.rawFiles, this.head);
  }

  /** The sequence-classification head's labels and pad id, or null when the head is the language model's. */
  get classification(): SequenceClassification | null {
    return this.head.type === 'classification' ? this.head.spec : null;
  }

  /** Whether the model's head is the language model's (vocabulary logits; a sequence classifier has none). */
  get hasLmHead(): boolean {
    return this.head.type === 'lm';
  }

  /** Every tensor of the model (decoder and head) with its shape, in checkpoint order. */
  tensorSpecs(): WeightSpec[] {
    return [...decoderTensors(this.config), ...this.head.weightSpecs()];
  }

  /** The decoder's linear layers, where adapters attach. */
  linearSites(): LinearSite[] {
    return linearSites(this.config);
  }

  /** Whether any layer uses a sliding window. */
  get hasSlidingLayers(): boolean {
    return this.config.layerTypes.includes('sliding');
  }

  /** A weight as a graph initializer of the given dtype (float64 copies are made once and cached). */
  weightTensor(b: GraphBuilder, name: string, dtype: DType): Tensor {
    const w = this.weights.get(name);
    if (!w) throw new RoadsterError('E_WEIGHTS', `model has no weight "${name}"`);
    if (dtype === 'float32') return b.initializer(name, w.data, w.shape);
    let d = this.float64Weights.get(name);
    if (!d) this.float64Weights.set(name, (d = Float64Array.from(w.data)));
    return b.initializer(name, d, w.shape);
  }

  /** What the decoder's forward code needs besides its inputs, for graphs traced into `b`. */
  forwardContext(
    b: GraphBuilder,
    options: { dtype: 'float32' | 'float64'; param: (name: string) => Tensor; linear?: LinearFn; recompute?: boolean },
  ): ForwardContext {
    const inv = ropeInvFreq(this.config);
    return {
      config: this.config,
      param: options.param,
      invFreq: b.constant(options.dtype === 'float32' ? Float32Array.from(inv) : Float64Array.from(inv), options.dtype, [inv.length]),
      linear: options.linear ?? plainLinear,
      checkpointLayers: options.recompute ?? false,
    };
  }

  /**
   * Traces the forward pass into `b`: the decoder's final hidden states [B, T, C], the head's logits (vocabulary
   * [B, T, V], or class logits [B, K] on a classifier) and, with `withLoss`, the head's loss.
   */
  trace(b: GraphBuilder, options: GraphOptions = {}): { logits: Tensor; hidden: Tensor; loss?: Tensor } {
    const dtype = options.dtype ?? 'float32';
    const given = options.param ?? ((bb, name, dt) => this.weightTensor(bb, name, dt));
    const param = (name: string): Tensor => given(b, name, dtype);
    const recompute = options.recompute ?? false;
    const { hidden } = llamaForward(this.forwardContext(b, { dtype, param, linear: options.linear, recompute }), {
      inputIds: b.input(INPUT_NAMES.inputIds, 'int64', ['B', 'T']),
      positionIds: b.input(INPUT_NAMES.positionIds, 'int64', ['B', 'T']),
      attentionBias: b.input(INPUT_NAMES.attentionBias, dtype, ['B', 1, 'T', 'T']),
      slidingBias: this.hasSlidingLayers ? b.input(INPUT_NAMES.slidingBias, dtype, ['B', 1, 'T', 'T']) : undefined,
    }); // [B, T, C]
    const { logits, loss } = this.head.trace(b, hidden, { dtype, param, withLoss: options.withLoss ?? false, recompute, lossChunks: options.lossChunks });
    return loss ? { logits, hidden, loss } : { logits, hidden };
  }

  /** A graph with outputs `logits` (the head's) and, with `withLoss`, `loss`. */
  buildGraph(options: GraphOptions = {}): Graph {
    const b = new GraphBuilder();
    const { logits, loss } = this.trace(b, options);
    return b.build(loss ? { logits, loss } : { logits });
  }

  /** Host feeds of the decoder for a token batch: ids, positions and attention biases. */
  feeds(batch: TokenBatch, dtype: 'float32' | 'float64' = 'float32'): Record<string, HostTensor> {
    const [, t] = batchShape(batch);
    if (t > this.config.maxPositionEmbeddings) {
      throw new RoadsterError('E_USAGE', `sequence of ${t} tokens exceeds max_position_embeddings (${this.config.maxPositionEmbeddings})`);
    }
    const feeds: Record<string, HostTensor> = {
      [INPUT_NAMES.inputIds]: int64Tensor(batch.inputIds),
      [INPUT_NAMES.positionIds]: positionIds(batch),
      [INPUT_NAMES.attentionBias]: attentionBias(batch, dtype),
    };
    if (this.hasSlidingLayers) feeds[INPUT_NAMES.slidingBias] = attentionBias(batch, dtype, this.config.slidingWindow);
    return feeds;
  }

  /** Host feeds of a whole graph of this model: the decoder's and the head's (its loss inputs with `withLoss`). */
  graphFeeds(batch: HeadBatch, dtype: 'float32' | 'float64', withLoss: boolean): Record<string, HostTensor> {
    return { ...this.feeds(batch, dtype), ...this.head.feeds(batch, dtype, withLoss) };
  }

  /**
   * Runs the model on a batch: logits [B, T, V] and, with `labels` ([B][T], -100 to ignore), the mean
   * causal-LM loss. Uses `runtime` (sessions are cached there).
   * @throws RoadsterError E_USAGE on a model whose head is not the language model's (see `run`)
   */
  async forward(
    runtime: Runtime,
    batch: TokenBatch & { labels?: readonly (readonly number[])[] },
    options: { dtype?: 'float32' | 'float64' } = {},
  ): Promise<ForwardResult> {
    this.requireLmHead();
    return this.run(runtime, batch, options);
  }

  /**
   * Runs the model and its head on a batch: the head's logits and, when the batch carries the head's loss
   * inputs (`labels`, or `classLabels` on a classifier), its loss.
   */
  async run(runtime: Runtime, batch: HeadBatch, options: { dtype?: 'float32' | 'float64' } = {}): Promise<{ logits: HostTensor; loss?: number }> {
    const dtype = options.dtype ?? 'float32';
    const withLoss = this.head.hasLossInputs(batch);
    const compiled = await runtime.compile(this.cachedGraph(dtype, withLoss));
    const out = await compiled.run(this.graphFeeds(batch, dtype, withLoss));
    return withLoss ? { logits: out.logits, loss: Number(out.loss.data[0]) } : { logits: out.logits };
  }

  /**
   * The language-model head (vocabulary logits, generation's next-token step).
   * @throws RoadsterError E_USAGE on a model with another head
   */
  requireLmHead(): LmHead {
    if (this.head.type !== 'lm') {
      throw new RoadsterError(
        'E_USAGE',
        `${this.source} is ${this.head.description} without an lm_head: it gives class logits (classifySequences, or PeftModel.forward), not vocabulary logits`,
      );
    }
    return this.head;
  }

  private readonly graphs = new Map<string, Graph>();
  private cachedGraph(dtype: 'float32' | 'float64', withLoss: boolean): Graph {
    const key = `${dtype}:${withLoss}`;
    let g = this.graphs.get(key);
    if (!g) this.graphs.set(key, (g = this.buildGraph({ dtype, withLoss })));
    return g;
  }
}
