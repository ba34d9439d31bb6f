// Causal-LM losses, as transformers' ForCausalLMLoss: logits at t predict the label at t + 1, mean over labels
// that are not -100. The labels are shifted (with -100 appended) instead of the logits, so [B, T, V] logits are
// never copied. The chunked form never holds the whole [B, T, V] logits: the vocabulary is cut into chunks,
// each a recomputation region (docs/autodiff.md#chunked-cross-entropy).
// Letters: B batch, T positions, C hidden, V vocabulary, Vk one chunk of it.

import { concat, type Tensor } from '../../graph/tracer.ts';

/** labels[:, 1:] with -100 appended: the target of each position. [B, T] → [B, T] */
function shiftedTargets(labels: Tensor): Tensor {
  const [b] = labels.shape;
  const ignore = labels.builder.scalar(-100, 'int64').expand([b, 1]); // [B, 1]
  return concat([labels.slice(1, 1), ignore], 1); // [B, T]
}

/** Mean cross-entropy of logits [B, T, V] against labels [B, T] shifted by one. */
export function causalLmLoss(logits: Tensor, labels: Tensor): Tensor {
  return logits.crossEntropy(shiftedTargets(labels), -100).named('loss'); // []
}

/**
 * The same loss from hidden states [B, T, C] and the output head [V, C], computed over `chunks` slices of the
 * vocabulary. Per chunk: zₖ = h Wₖᵀ, a stabiliser mₖ (the chunk's max truncated to an integer, which carries no
 * gradient), sₖ = Σ exp(zₖ − mₖ) and the target logit if it falls in the chunk. Then
 * log Σ exp(z) = M + log Σₖ sₖ exp(mₖ − M) with M = maxₖ mₖ. Each chunk is a recomputation region, so the
 * backward pass rebuilds zₖ instead of keeping all [B, T, V] logits alive, and each chunk's input carries a
 * zero that depends on the previous chunk, so the forward pass also holds one chunk at a time.
 */
export function chunkedCausalLmLoss(hidden: Tensor, head: Tensor, labels: Tensor, chunks: number): Tensor {
  const b = hidden.builder;
  const dtype = hidden.dtype;
  const vocab = head.shape[0] as number;
  const size = Math.ceil(vocab / chunks);
  const sizes = Array.from({ length: Math.ceil(vocab / size) }, (_, k) => Math.min(size, vocab - k * size));
  const targets = shiftedTargets(labels); // [B, T]
  const weights = sizes.length > 1 ? head.split(0, sizes) : [head]; // [Vk, C] each
  let offset = 0;
  // Each chunk waits for the previous one (h + 0·its result), so only one chunk's logits exist at a time.
  let after: Tensor | null = null;
  const parts = weights.map((w, k) => {
    const start = offset;
    offset += sizes[k];
    const h = after === null ? hidden : hidden.add(after); // [B, T, C]
    const t = after === null ? targets : targets.add(after.cast('int64')); // [B, T]
    const part = b.scope(`loss_chunk_${k}`, () =>
      b.checkpoint(() => {
        const z = h.matmul(w, { transB: true }); // [B, T, Vk]
        const m = z.max(-1).cast('int64').cast(dtype); // [B, T], no gradient
        const s = z.sub(m.unsqueeze(-1)).exp().sum(-1); // [B, T]
        const ids = b.constant(Array.from({ length: sizes[k] }, (_, j) => start + j), 'int64', [sizes[k]]); // [Vk]
        const picked = t.unsqueeze(-1).eq(ids).where(z, 0).sum(-1); // [B, T]
        return { m, s, picked };
      }),
    );
    after = part.s.add(part.picked).reshape([-1]).slice(0, 0, 1).reshape([]).mul(0); // [] = 0, after chunk k
    return part;
  });
  const top = concat(parts.map((p) => p.m.unsqueeze(-1)), -1).max(-1); // [B, T]
  let total = parts[0].s.mul(parts[0].m.sub(top).exp()); // [B, T]
  let picked = parts[0].picked; // [B, T]
  for (const p of parts.slice(1)) {
    total = total.add(p.s.mul(p.m.sub(top).exp()));
    picked = picked.add(p.picked);
  }
  const keep = targets.eq(-100).not().cast(dtype); // [B, T]
  const nll = total.log().add(top).sub(picked); // [B, T]
  return nll.mul(keep).sum().div(keep.sum()).named('loss'); // []
}
