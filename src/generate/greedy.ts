// Greedy decoding without a KV cache: each step runs the whole sequence and appends the arg-max of the last
// position's logits. Batches are left-padded with an attention mask, so every row's last position is real and
// each row generates exactly what it would alone (transformers' generate with do_sample=False).

import type { CausalLM } from '../models/causal-lm.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { RoadsterError } from '../errors.ts';

export interface GreedyOptions {
  readonly maxNewTokens: number;
  /** Stop a row when it produces one of these. */
  readonly eosTokenIds?: readonly number[];
  /** Id used for left padding (its value does not matter: padded positions are masked). */
  readonly padTokenId?: number;
  /** Called after each step with the tokens chosen for each row (null for finished rows). */
  readonly onStep?: (tokens: (number | null)[]) => void;
}

/** Index of the largest value in data[offset, offset + n); the first one on ties, as torch.argmax. */
function argmax(data: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let k = 0; k < n; k++) {
    const v = data[offset + k];
    if (v > bestValue) {
      bestValue = v;
      best = k;
    }
  }
  return best;
}

/** Greedily extends each prompt; returns the new tokens of each row (without the prompt). */
export async function greedyGenerate(
  model: CausalLM,
  runtime: Runtime,
  prompts: readonly (readonly number[])[],
  options: GreedyOptions,
): Promise<number[][]> {
  if (prompts.length === 0 || prompts.some((p) => p.length === 0)) {
    throw new RoadsterError('E_USAGE', 'every prompt needs at least one token');
  }
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) {
    throw new RoadsterError('E_USAGE', `maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
  }
  const eos = new Set(options.eosTokenIds ?? []);
  const pad = options.padTokenId ?? 0;
  const rows = prompts.map((p) => [...p]);
  const generated: number[][] = prompts.map(() => []);
  const done = prompts.map(() => false);
  for (let step = 0; step < options.maxNewTokens && done.includes(false); step++) {
    const t = Math.max(...rows.map((r) => r.length));
    const inputIds = rows.map((r) => [...new Array<number>(t - r.length).fill(pad), ...r]);
    const attentionMask = rows.map((r) => [...new Array<number>(t - r.length).fill(0), ...new Array<number>(r.length).fill(1)]);
    const { logits } = await model.forward(runtime, { inputIds, attentionMask });
    const v = logits.shape[2];
    const chosen = rows.map((r, i) => {
      if (done[i]) return null;
      const token = argmax(logits.data as Float32Array, (i * t + t - 1) * v, v);
      r.push(token);
      generated[i].push(token);
      if (eos.has(token)) done[i] = true;
      return token;
    });
    options.onStep?.(chosen);
  }
  return generated;
}
