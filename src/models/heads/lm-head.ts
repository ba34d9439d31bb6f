// The language-model head of transformers' LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM: logits
// over the vocabulary from the final hidden states through `lm_head` (or the token embeddings when tied), the
// causal-LM loss (chunked over the vocabulary when training recomputes), and the next-token step of
// generation: the last position's logits and their logsumexp, which the KV-cache graphs of generation-graph.ts
// end with.
//
// Letters: B batch, T positions, C hidden, V vocabulary.

import { RoadsterError } from '../../errors.ts';
import { dimAdd } from '../../graph/dim.ts';
import type { GraphBuilder, Tensor } from '../../graph/tracer.ts';
import type { ModelConfig } from '../../io/config/index.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import { batchShape, int64Tensor } from '../attention-inputs.ts';
import { type WeightSpec, decoderTensors, names } from '../llama/checkpoint-names.ts';
import type { HeadBatch, HeadTraceContext, ModelHead, RowCorrect } from './head.ts';
import { causalLmLoss, chunkedCausalLmLoss } from './lm-loss.ts';

/** Graph input names of the language-model head. */
export const LM_HEAD_INPUTS = {
  /** [B, T] int64 token labels, -100 ignored. */
  labels: 'labels',
} as const;

const IGNORE_INDEX = -100;

export class LmHead implements ModelHead {
  readonly type = 'lm' as const;
  readonly taskType = 'CAUSAL_LM' as const;
  readonly description = 'a causal language model';
  readonly lossInputs = 'labels';
  readonly generates = true;

  constructor(readonly config: ModelConfig) {}

  /** Whether the output head is the token embedding matrix (tie_word_embeddings). */
  get tied(): boolean {
    return this.config.tieWordEmbeddings;
  }

  weightSpecs(): WeightSpec[] {
    return this.tied ? [] : [{ name: names.lmHead, shape: [this.config.vocabSize, this.config.hiddenSize] }];
  }

  ownWeights(): WeightSpec[] {
    return []; // PEFT could save lm_head in modules_to_save; roadster does not train it
  }

  /** The output matrix [V, C]: lm_head.weight, or the token embeddings when tied. */
  weight(param: (name: string) => Tensor): Tensor {
    return this.tied ? param(names.embed) : param(names.lmHead); // [V, C]
  }

  trace(b: GraphBuilder, hidden: Tensor, ctx: HeadTraceContext): { logits: Tensor; loss?: Tensor } {
    const head = this.weight(ctx.param); // [V, C]
    const logits = hidden.matmul(head, { transB: true }).named('logits'); // [B, T, V]
    if (!ctx.withLoss) return { logits };
    const labels = b.input(LM_HEAD_INPUTS.labels, 'int64', ['B', 'T']); // [B, T]
    const loss = ctx.recompute ? chunkedCausalLmLoss(hidden, head, labels, ctx.lossChunks ?? 8) : causalLmLoss(logits, labels); // []
    return { logits, loss };
  }

  /**
   * The generation step's outputs from the hidden states [B, T, C] of the new positions: the last position's
   * logits [B, V] (the vocabulary product is never computed for the rest of a prompt) and their logsumexp [B],
   * the log-probabilities' normaliser, so the host's sampler needs no pass of exp over V.
   */
  traceNextToken(hidden: Tensor, param: (name: string) => Tensor): { logits: Tensor; logsumexp: Tensor } {
    const [batch, t] = hidden.shape;
    const last = hidden.slice(1, dimAdd(t, -1), t).reshape([batch, this.config.hiddenSize]); // [B, C]
    const logits = last.matmul(this.weight(param), { transB: true }); // [B, V]
    const max = logits.max(-1, true); // [B, 1]
    const logsumexp = logits.sub(max).exp().sum(-1).log().add(max.squeeze(-1)); // [B]
    return { logits, logsumexp };
  }

  hasLossInputs(batch: HeadBatch): boolean {
    return batch.labels !== undefined;
  }

  feeds(batch: HeadBatch, _dtype: 'float32' | 'float64', withLoss: boolean): Record<string, HostTensor> {
    if (!withLoss) return {};
    if (!batch.labels) throw new RoadsterError('E_USAGE', 'the causal-LM loss needs labels ([B][T], -100 to ignore)');
    return { [LM_HEAD_INPUTS.labels]: int64Tensor(batch.labels) };
  }

  /** Positions whose next label counts (labels[t + 1] != -100), the loss's denominator. */
  lossTerms(batch: HeadBatch): number {
    let n = 0;
    for (const row of batch.labels ?? []) for (let j = 1; j < row.length; j++) if (row[j] !== IGNORE_INDEX) n++;
    return n;
  }

  /**
   * Rows with a class label (label-word classification) are correct when every label token is the arg-max of
   * the logits before it (teacher-forced, what greedy decoding of the label gives); other rows have no label.
   */
  rowsCorrect(logits: HostTensor, batch: HeadBatch): RowCorrect[] {
    const [, t, v] = logits.shape;
    const data = logits.data as Float32Array | Float64Array;
    const [rows] = batchShape(batch);
    return Array.from({ length: rows }, (_, row) => {
      if (!batch.classLabels || !batch.labels) return null;
      let ok = true;
      let any = false;
      for (let j = 0; j + 1 < t; j++) {
        const target = batch.labels[row][j + 1];
        if (target === IGNORE_INDEX) continue;
        any = true;
        let best = 0;
        for (let k = 1; k < v; k++) if (data[(row * t + j) * v + k] > data[(row * t + j) * v + best]) best = k;
        if (best !== target) ok = false;
      }
      return any ? ok : null;
    });
  }

  runIdentity(): Record<string, unknown> {
    return {};
  }

  configJson(json: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return { ...json };
  }
}

/** Every tensor a *ForCausalLM checkpoint holds, with its shape: the decoder's and the untied lm_head. */
export function causalLmTensors(config: ModelConfig): WeightSpec[] {
  return [...decoderTensors(config), ...new LmHead(config).weightSpecs()];
}
