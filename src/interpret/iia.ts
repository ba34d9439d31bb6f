// Interchange intervention accuracy (IIA; Geiger et al.): over a dataset of (base, source, expected) triples for
// a causal variable, the share of base runs whose prediction, with the source's coordinates swapped in at the
// sites (interchange), is the label the causal model expects for that counterfactual. A prediction is the
// candidate token with the largest logit at the base row's last token (for label words, the first token of
// each class's words).

import { RoadsterError } from '../errors.ts';
import type { PeftModel } from '../adapters/peft-model.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import { type InterventionOptions, type InterventionSite, type Positions, interchange, padRows } from './intervention.ts';

export interface IiaExample {
  readonly base: readonly number[];
  readonly source: readonly number[];
  /** The index (into `candidates`) the causal variable predicts for this base with the source's value. */
  readonly expected: number;
}

export interface IiaOptions extends InterventionOptions {
  readonly sites: readonly InterventionSite[];
  readonly positions?: Positions;
  /** Token ids of the classes, in class order. */
  readonly candidates: readonly number[];
  readonly batchSize?: number;
}

export interface IiaResult {
  /** Share of examples whose intervened prediction is `expected`. */
  readonly iia: number;
  readonly examples: number;
  /** The intervened prediction of each example (candidate index). */
  readonly predictions: readonly number[];
}

/** The arg-max candidate at each row's last real token of logits [B, T, V]. */
export function lastTokenPredictions(logits: HostTensor, lengths: readonly number[], candidates: readonly number[]): number[] {
  const [, t, v] = logits.shape as number[];
  return lengths.map((n, r) => {
    const at = (r * t + n - 1) * v;
    let best = 0;
    candidates.forEach((id, c) => {
      if (logits.data[at + id] > logits.data[at + candidates[best]]) best = c;
    });
    return best;
  });
}

/** IIA of swapping the sites' coordinates from each source into its base. */
export async function interchangeAccuracy(peft: PeftModel, examples: readonly IiaExample[], options: IiaOptions): Promise<IiaResult> {
  if (examples.length === 0) throw new RoadsterError('E_USAGE', 'IIA needs at least one (base, source, expected) example');
  if (options.candidates.length < 2) throw new RoadsterError('E_USAGE', 'IIA needs the token ids of at least two classes');
  const bad = examples.find((e) => !Number.isInteger(e.expected) || e.expected < 0 || e.expected >= options.candidates.length);
  if (bad) throw new RoadsterError('E_USAGE', `expected class ${bad.expected} is not one of the ${options.candidates.length} candidates`);
  const size = options.batchSize ?? 8;
  const predictions: number[] = [];
  for (let i = 0; i < examples.length; i += size) {
    const chunk = examples.slice(i, i + size);
    const { logits } = await interchange(
      peft,
      { base: chunk.map((e) => e.base), source: chunk.map((e) => e.source), sites: options.sites, positions: options.positions ?? { kind: 'last' } },
      options,
    );
    predictions.push(...lastTokenPredictions(logits, padRows(chunk.map((e) => e.base)).lengths, options.candidates));
  }
  const hits = predictions.filter((p, i) => p === examples[i].expected).length;
  return { iia: hits / examples.length, examples: examples.length, predictions };
}
