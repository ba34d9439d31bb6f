// The tiny Llama edited so that the answer is known: only pair 0 of group 4 (coordinates 32 and 36 under group
// size 8) of layer 1's down_proj reaches the logits. Embeddings live in coordinates 0-31, attention writes nothing,
// only layer 1's MLP writes (into 32-63), and the head reads coordinates 32 and 36.

import { CausalLM } from '../../src/models/causal-lm.ts';
import type { Weight } from '../../src/models/load-weights.ts';
import { TINY_LLAMA } from './fixtures.ts';

export async function onePairModel(): Promise<CausalLM> {
  const base = await CausalLM.fromFolder(TINY_LLAMA);
  const replaced = new Map<string, Weight>();
  const edit = (name: string, f: (data: Float32Array, cols: number) => void) => {
    const old = base.weights.get(name)!;
    const data = Float32Array.from(old.data);
    f(data, old.shape[1] ?? 1);
    replaced.set(name, { shape: old.shape, data });
  };
  edit('model.embed_tokens.weight', (x, c) => x.forEach((_, i) => (i % c >= 32 ? (x[i] = 0) : 0)));
  for (const l of [0, 1]) edit(`model.layers.${l}.self_attn.o_proj.weight`, (x) => x.fill(0));
  edit('model.layers.0.mlp.down_proj.weight', (x) => x.fill(0));
  edit('model.layers.1.mlp.down_proj.weight', (x, c) => x.forEach((_, i) => (Math.floor(i / c) < 32 ? (x[i] = 0) : 0)));
  edit('lm_head.weight', (x, c) => x.forEach((_, i) => (i % c !== 32 && i % c !== 36 ? (x[i] = 0) : 0)));
  edit('model.norm.weight', (x) => x.fill(1));
  return base.withWeights(replaced);
}
