// A causal language model of the Llama family with its weights in memory: traces graphs (forward, with or
// without loss, float32 or float64) and runs them. Loading follows transformers' `from_pretrained`: a local
// folder or a Hub id resolved through the HF cache. A *ForSequenceClassification checkpoint loads here too, with
// its `score` head (see sequence-classification.ts) and usually no lm_head.

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
import { type SequenceClassification, sequenceClassificationOf } from './classification-config.ts';
import { type LinearFn, type LinearSite, plainLinear } from './linear.ts';
import { expectedTensors, linearSites, names } from './llama/checkpoint-names.ts';
import { llamaForward } from './llama/forward.ts';
import { causalLmLoss, chunkedCausalLmLoss } from './lm-loss.ts';
import { type Weight, loadWeights } from './load-weights.ts';

export interface GraphOptions {
  /** Compute dtype: float32 (default) or float64 (for gradient checks). */
  readonly dtype?: 'float32' | 'float64';
  /** Adds a `labels` input and a `loss` output. */
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
  labels: 'labels',
} as const;

export interface ForwardResult {
  /** [B, T, V] */
  readonly logits: HostTensor;
  readonly loss?: number;
}

export class CausalLM {
  private readonly float64Weights = new Map<string, Float64Array>();

  constructor(
    readonly config: ModelConfig,
    readonly weights: ReadonlyMap<string, Weight>,
    readonly generationConfig: GenerationConfig | null = null,
    readonly source = '<memory>',
    /** config.json and generation_config.json as read, so saved models keep every field. */
    readonly rawFiles: { readonly config?: unknown; readonly generationConfig?: unknown } = {},
    /** The sequence-classification head (`score.weight` [K, C] in `weights`), or null for a plain causal LM. */
    readonly classification: SequenceClassification | null = null,
  ) {}

  /**
   * Loads config.json and the safetensors weights of a local model folder (`AutoModelForCausalLM.fromPretrained`
   * also takes Hub ids). `source` names the model in messages (default: the folder).
   */
  static async fromFolder(folder: string, options: { source?: string } = {}): Promise<CausalLM> {
    const { model, generation } = await loadModelConfig(folder);
    const raw = (name: string) => (existsSync(join(folder, name)) ? (JSON.parse(readFileSync(join(folder, name), 'utf8')) as unknown) : undefined);
    const config = raw('config.json');
    const classification = sequenceClassificationOf(config, join(folder, 'config.json'));
    const weights = loadWeights(folder, expectedTensors(model, classification?.id2label.length), model);
    return new CausalLM(model, weights, generation, options.source ?? folder, { config, generationConfig: raw('generation_config.json') }, classification);
  }

  /** The same model with some weights replaced (e.g. merged adapters). */
  withWeights(replaced: ReadonlyMap<string, Weight>): CausalLM {
    const weights = new Map(this.weights);
    for (const [name, w] of replaced) weights.set(name, w);
    return new CausalLM(this.config, weights, this.generationConfig, this.source, this.rawFiles, this.classification);
  }

  /** Whether the model has an output head over the vocabulary (a sequence classifier usually has none). */
  get hasLmHead(): boolean {
    return this.config.tieWordEmbeddings || this.weights.has(names.lmHead);
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

  /** Traces the forward pass into `b`; returns logits [B, T, V] and, with labels, the loss. */
  trace(b: GraphBuilder, options: GraphOptions = {}): { logits: Tensor; hidden: Tensor; loss?: Tensor } {
    const dtype = options.dtype ?? 'float32';
    const inv = ropeInvFreq(this.config);
    const inputs = {
      inputIds: b.input(INPUT_NAMES.inputIds, 'int64', ['B', 'T']),
      positionIds: b.input(INPUT_NAMES.positionIds, 'int64', ['B', 'T']),
      attentionBias: b.input(INPUT_NAMES.attentionBias, dtype, ['B', 1, 'T', 'T']),
      slidingBias: this.hasSlidingLayers ? b.input(INPUT_NAMES.slidingBias, dtype, ['B', 1, 'T', 'T']) : undefined,
    };
    const given = options.param ?? ((bb, name, dt) => this.weightTensor(bb, name, dt));
    // Without an lm_head (a sequence classifier) the vocabulary logits are a dead branch that is never lowered:
    // a zero placeholder of the head's shape lets the forward code trace unchanged.
    const param = (bb: GraphBuilder, name: string, dt: DType): Tensor =>
      name === names.lmHead && !this.hasLmHead ? bb.scalar(0, dt).expand([this.config.vocabSize, this.config.hiddenSize]) : given(bb, name, dt);
    const { logits, hidden, head } = llamaForward(
      {
        config: this.config,
        param: (name) => param(b, name, dtype),
        invFreq: b.constant(dtype === 'float32' ? Float32Array.from(inv) : Float64Array.from(inv), dtype, [inv.length]),
        linear: options.linear ?? plainLinear,
        checkpointLayers: options.recompute ?? false,
      },
      inputs,
    );
    if (!options.withLoss) return { logits, hidden };
    const labels = b.input(INPUT_NAMES.labels, 'int64', ['B', 'T']);
    const loss = options.recompute ? chunkedCausalLmLoss(hidden, head, labels, options.lossChunks ?? 8) : causalLmLoss(logits, labels);
    return { logits, hidden, loss };
  }

  /** A graph with outputs `logits` and, with `withLoss`, `loss`. */
  buildGraph(options: GraphOptions = {}): Graph {
    this.requireLmHead();
    const b = new GraphBuilder();
    const { logits, loss } = this.trace(b, options);
    return b.build(loss ? { logits, loss } : { logits });
  }

  /** Host feeds for a token batch: ids, positions and attention biases. */
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

  /**
   * Runs the model on a batch: logits [B, T, V] and, with `labels` ([B][T], -100 to ignore), the mean
   * causal-LM loss. Uses `runtime` (sessions are cached there).
   */
  async forward(
    runtime: Runtime,
    batch: TokenBatch & { labels?: readonly (readonly number[])[] },
    options: { dtype?: 'float32' | 'float64' } = {},
  ): Promise<ForwardResult> {
    const dtype = options.dtype ?? 'float32';
    const withLoss = batch.labels !== undefined;
    const compiled = await runtime.compile(this.cachedGraph(dtype, withLoss));
    const feeds = this.feeds(batch, dtype);
    if (batch.labels) feeds[INPUT_NAMES.labels] = int64Tensor(batch.labels);
    const out = await compiled.run(feeds);
    return withLoss ? { logits: out.logits, loss: Number(out.loss.data[0]) } : { logits: out.logits };
  }

  /** Throws E_USAGE for vocabulary logits of a model without an lm_head. */
  requireLmHead(): void {
    if (!this.hasLmHead) {
      throw new RoadsterError(
        'E_USAGE',
        `${this.source} is a sequence classifier without an lm_head: it gives class logits (classifySequences, or PeftModel.forward), not vocabulary logits`,
      );
    }
  }

  private readonly graphs = new Map<string, Graph>();
  private cachedGraph(dtype: 'float32' | 'float64', withLoss: boolean): Graph {
    const key = `${dtype}:${withLoss}`;
    let g = this.graphs.get(key);
    if (!g) this.graphs.set(key, (g = this.buildGraph({ dtype, withLoss })));
    return g;
  }
}
