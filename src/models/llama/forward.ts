// Forward pass of the Llama family (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM), traced into the
// graph IR. Follows transformers' modeling_llama.py (eager attention): RMSNorm, rotate-half RoPE, grouped-query
// attention, SwiGLU MLP, up to the final norm: the decoder (the backbone) only; the model's head (heads/: the
// lm_head, or a classifier's score) turns its hidden states into outputs. Forward code only: weights arrive
// through `param`, every projection goes through `linear`, masks and positions arrive as inputs.
//
// Letters: B batch, T query positions, S key positions (= T without a cache), C hidden, H heads, Hkv KV heads,
// R = H / Hkv, D head dim, F intermediate, P cached positions (decoding with a KV cache).
//
// With a KV cache the new tokens' queries attend to the P cached keys and to the T new keys; the cached keys are
// read where they lie (two score products whose results are concatenated, never the cache itself), and each
// layer returns the new keys (after RoPE) and values for the caller to store.

import { dimAdd, dimMul } from '../../graph/dim.ts';
import type { Tensor } from '../../graph/tracer.ts';
import { concat } from '../../graph/tracer.ts';
import type { ModelConfig } from '../../io/config/index.ts';
import type { LinearFn, ProjectionKind } from '../linear.ts';
import { hasBias, names, projectionShape } from './checkpoint-names.ts';

export interface ForwardInputs {
  /** [B, T] int64 token ids. */
  readonly inputIds: Tensor;
  /** [B, T] int64 positions (0-based; from the attention mask for padded batches). */
  readonly positionIds: Tensor;
  /** [B, 1, T, S] float: 0 where a query may attend to a key, a large negative number elsewhere. */
  readonly attentionBias: Tensor;
  /** The same for sliding-window layers (needed only when the config has some). */
  readonly slidingBias?: Tensor;
  /**
   * Decoding with a KV cache: layer i's cached keys (after RoPE) and values, each [B, Hkv, P, D]. The biases are
   * then [B, 1, T, P+T]: the first P keys are the cache's, the last T the new tokens'.
   */
  readonly cache?: (layer: number) => { readonly keys: Tensor; readonly values: Tensor };
}

/** One layer's keys (after RoPE) and values of the positions a forward pass computed, [B, Hkv, T, D] each. */
export interface LayerKv {
  readonly keys: Tensor;
  readonly values: Tensor;
}

export interface ForwardContext {
  readonly config: ModelConfig;
  /** A weight by checkpoint name. */
  readonly param: (name: string) => Tensor;
  /** [D/2] RoPE inverse frequencies, as a tensor of the compute dtype. */
  readonly invFreq: Tensor;
  readonly linear: LinearFn;
  /** Trace each decoder layer as a recomputation region (activation checkpointing for training). */
  readonly checkpointLayers?: boolean;
}

function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const variance = x.mul(x).mean(-1, true); // [..., 1]
  return x.mul(variance.add(eps).sqrt().reciprocal()).mul(weight); // [..., C]
}

function rotateHalf(x: Tensor): Tensor {
  const d = x.shape.at(-1) as number;
  const [x1, x2] = x.split(-1, [d / 2, d / 2]); // [..., D/2] each
  return concat([x2.neg(), x1], -1); // [..., D]
}

function project(ctx: ForwardContext, layer: number, kind: ProjectionKind, x: Tensor): Tensor {
  const path = names.projection(layer, kind);
  const [outFeatures, inFeatures] = projectionShape(ctx.config, kind);
  const bias = hasBias(ctx.config, kind) ? ctx.param(`${path}.bias`) : null;
  const site = { path, layer, kind, inFeatures, outFeatures };
  return x.builder.scope(path, () => ctx.linear(site, x, ctx.param(`${path}.weight`), bias));
}

/** cos and sin of the rotary angles, [B, T, D], each as [B, 1, 1, T, D] (queries) and [B, 1, S, D] (keys). */
interface Rope {
  readonly cos: Tensor;
  readonly sin: Tensor;
}

/**
 * Grouped-query attention with the R = H / Hkv query heads of a KV head stacked along the rows: queries
 * [B, Hkv, R*T, D] against keys [B, Hkv, S, D], so each product is one matmul per KV head (no broadcast of the
 * keys over R, and no sum over R in the keys' and values' gradients).
 */
function attention(ctx: ForwardContext, layer: number, x: Tensor, rope: Rope, bias: Tensor, past: LayerKv | null): { out: Tensor; kv: LayerKv } {
  const { numAttentionHeads: h, numKeyValueHeads: hkv, headDim: d } = ctx.config;
  const r = h / hkv;
  const [b, t] = x.shape;
  const [cosQ, sinQ] = [rope.cos.unsqueeze([1, 2]), rope.sin.unsqueeze([1, 2])]; // [B, 1, 1, T, D]
  const [cosK, sinK] = [rope.cos.unsqueeze(1), rope.sin.unsqueeze(1)]; // [B, 1, T, D]
  const q = project(ctx, layer, 'q_proj', x) // [B, T, H*D]
    .reshape([b, t, hkv, r, d]) // [B, T, Hkv, R, D]
    .transpose([0, 2, 3, 1, 4]); // [B, Hkv, R, T, D]
  const k = project(ctx, layer, 'k_proj', x) // [B, T, Hkv*D]
    .reshape([b, t, hkv, d]) // [B, T, Hkv, D]
    .transpose([0, 2, 1, 3]); // [B, Hkv, T, D]
  const v = project(ctx, layer, 'v_proj', x).reshape([b, t, hkv, d]).transpose([0, 2, 1, 3]); // [B, Hkv, T, D]
  const qRot = q.mul(cosQ).add(rotateHalf(q).mul(sinQ)).reshape([b, hkv, dimMul(r, t), d]); // [B, Hkv, R*T, D]
  const kRot = k.mul(cosK).add(rotateHalf(k).mul(sinK)); // [B, Hkv, T, D]
  const scale = 1 / Math.sqrt(d);
  const keyCount = past ? dimAdd(past.keys.shape[2], t) : t; // S
  const own = qRot.matmul(kRot, { transB: true }).mul(scale); // [B, Hkv, R*T, T]
  // with a cache, the keys are [P cached; T new]: S = P + T
  const scores = (past ? concat([qRot.matmul(past.keys, { transB: true }).mul(scale), own], -1) : own) // [B, Hkv, R*T, S]
    .reshape([b, hkv, r, t, keyCount]) // [B, Hkv, R, T, S]
    .add(bias.unsqueeze(1)); // [B, Hkv, R, T, S]
  const probs = scores.softmax(-1).named('attn_probs'); // [B, Hkv, R, T, S]
  const flat = probs.reshape([b, hkv, dimMul(r, t), keyCount]); // [B, Hkv, R*T, S]
  let mixed: Tensor; // [B, Hkv, R*T, D]
  if (past) {
    const p = past.keys.shape[2];
    const [fromCache, fromNew] = flat.split(-1, [p, t]); // [B, Hkv, R*T, P], [B, Hkv, R*T, T]
    mixed = fromCache.matmul(past.values).add(fromNew.matmul(v)); // [B, Hkv, R*T, D]
  } else {
    mixed = flat.matmul(v); // [B, Hkv, R*T, D]
  }
  const out = mixed
    .reshape([b, hkv, r, t, d]) // [B, Hkv, R, T, D]
    .transpose([0, 3, 1, 2, 4]) // [B, T, Hkv, R, D]
    .reshape([b, t, h * d]); // [B, T, H*D]
  return { out: project(ctx, layer, 'o_proj', out), kv: { keys: kRot, values: v } }; // [B, T, C]
}

function mlp(ctx: ForwardContext, layer: number, x: Tensor): Tensor {
  const gate = project(ctx, layer, 'gate_proj', x).silu(); // [B, T, F]
  const up = project(ctx, layer, 'up_proj', x); // [B, T, F]
  return project(ctx, layer, 'down_proj', gate.mul(up)); // [B, T, C]
}

/**
 * Runs the decoder; returns the final hidden states [B, T, C] and each layer's new keys and values (used only
 * when decoding with a KV cache; unused outputs are never lowered).
 */
export function llamaForward(ctx: ForwardContext, inputs: ForwardInputs): { hidden: Tensor; kv: LayerKv[] } {
  const { config, param } = ctx;
  const b = inputs.inputIds.builder;
  let x = param(names.embed).gather(inputs.inputIds, 0).named('embed'); // [B, T, C]

  const rope: Rope = b.scope('rope', () => {
    const freqs = inputs.positionIds.cast(x.dtype).unsqueeze(-1).mul(ctx.invFreq); // [B, T, D/2]
    const emb = concat([freqs, freqs], -1); // [B, T, D]
    return { cos: emb.cos(), sin: emb.sin() }; // [B, T, D]
  });

  const kv: LayerKv[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const bias = config.layerTypes[i] === 'sliding' ? inputs.slidingBias! : inputs.attentionBias; // [B, 1, T, S]
    const past = inputs.cache ? inputs.cache(i) : null;
    const layer = () => {
      const attn = attention(ctx, i, rmsNorm(x, param(names.inputNorm(i)), config.rmsNormEps), rope, bias, past);
      kv.push(attn.kv);
      const h = x.add(attn.out); // [B, T, C]
      return h.add(mlp(ctx, i, rmsNorm(h, param(names.postAttentionNorm(i)), config.rmsNormEps))); // [B, T, C]
    };
    x = b.scope(`model.layers.${i}`, () => (ctx.checkpointLayers ? b.checkpoint(layer) : b.stage(layer)));
  }

  const hidden = b.scope('model.norm', () => rmsNorm(x, param(names.finalNorm), config.rmsNormEps)); // [B, T, C]
  return { hidden, kv };
}
