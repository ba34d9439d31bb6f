// The compose demo's interchange intervention accuracy: at the last prompt token of ham e-mails (bases the model
// predicts ham) swap in the coordinates of a subspace from spam e-mails (sources it predicts spam), at every
// adapted layer, and count how often the prediction becomes spam. The subspace is A's pairs; the baseline is
// random pairs of the same number per group (drawn per layer), and B's pairs (disjoint from A's) as a second
// control. A prediction is the class whose label token has the larger logit. The same three rates per decoder layer
// (A's pairs in that layer's adapted modules only) locate where A's decision is read.

import type { PeftModel } from '../adapters/peft-model.ts';
import { parsePairSelection, selectedPairs } from '../adapters/road/pairs.ts';
import { type InterventionSite, captureOutputs, interchangeAccuracy, lastTokenPredictions, pairCoordinates } from '../interpret/index.ts';
import { seededUniforms } from '../seeded-random.ts';
import { RoadsterError } from '../errors.ts';

export interface IiaReport {
  /** Share of (ham base, spam source) pairs whose prediction becomes spam when A's pairs are swapped in; null when there were no such pairs. */
  readonly flipRate: number | null;
  /** The adapter the runs use. */
  readonly model: string;
  readonly subspace: string;
  /** Pairs of the same size chosen at random, per draw, and their mean. */
  readonly random: { readonly mean: number | null; readonly draws: readonly number[] };
  /** The disjoint complement (B's pairs). */
  readonly complement: number | null;
  readonly examples: number;
  readonly sites: number;
  readonly positions: 'last token';
  /** The same rates with the swap in one decoder layer's adapted modules only. */
  readonly layers: readonly LayerIia[];
}

/** IIA with the swap in one decoder layer. */
export interface LayerIia {
  readonly layer: number;
  readonly sites: number;
  readonly flipRate: number;
  readonly random: { readonly mean: number; readonly draws: readonly number[] };
  readonly complement: number;
}

/** The prompts to intervene on: token ids ending where the label token is predicted, their classes and those tokens. */
export interface IiaPrompts {
  readonly prompts: readonly (readonly number[])[];
  /** Class index of each prompt. */
  readonly labels: readonly number[];
  readonly classNames: readonly string[];
  /** The label token of each class. */
  readonly candidates: readonly number[];
}

export interface IiaSettings {
  readonly model: string;
  readonly groupSize: number;
  readonly subspace: string;
  readonly complement: string;
  /** The class names of the bases (ham) and of the sources and the expected prediction (spam). */
  readonly baseClass: string;
  readonly sourceClass: string;
  readonly sites: readonly string[];
  readonly pairs: number;
  readonly randomDraws: number;
  readonly seed: number;
  readonly padId: number;
}

/** Random `count` of the G/2 pair indices. */
function randomPairs(half: number, count: number, next: () => number): boolean[] {
  const order = Array.from({ length: half }, (_, j) => j);
  for (let i = half - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const chosen = new Array<boolean>(half).fill(false);
  for (const j of order.slice(0, count)) chosen[j] = true;
  return chosen;
}

/** IIA of A's subspace against random subspaces of the same size and B's subspace (see the file header). */
export async function subspaceIia(peft: PeftModel, test: IiaPrompts, s: IiaSettings): Promise<IiaReport> {
  const classes = test.classNames;
  const [ham, spam] = [classes.indexOf(s.baseClass), classes.indexOf(s.sourceClass)];
  if (ham < 0 || spam < 0) throw new RoadsterError('E_DATA', `IIA needs the classes ${s.baseClass} and ${s.sourceClass}; the test set has ${classes.join(', ')}`);
  const candidates = [...test.candidates];
  if (new Set(candidates).size !== candidates.length) throw new RoadsterError('E_DATA', 'the classes share a label token; IIA needs them to differ');
  const prompts = test.prompts.map((p) => [...p]);
  const predicted: number[] = [];
  for (let i = 0; i < prompts.length; i += 16) {
    const chunk = prompts.slice(i, i + 16);
    const { logits } = await captureOutputs(peft, chunk, [], { padId: s.padId });
    predicted.push(...lastTokenPredictions(logits, chunk.map((p) => p.length), candidates));
  }
  const bases = prompts.filter((_, i) => test.labels[i] === ham && predicted[i] === ham);
  const sources = prompts.filter((_, i) => test.labels[i] === spam && predicted[i] === spam);
  const subspace = `A's pairs ${s.subspace} of every group, at all ${s.sites.length} adapted layers`;
  if (bases.length === 0 || sources.length === 0) {
    // the model predicts one class only: no (ham base, spam source) pair to flip
    return { flipRate: null, model: s.model, subspace, random: { mean: null, draws: [] }, complement: null, examples: 0, sites: s.sites.length, positions: 'last token', layers: [] };
  }
  const examples = bases.slice(0, s.pairs).map((base, i) => ({ base, source: sources[i % sources.length], expected: spam }));
  const widths = new Map(peft.base.linearSites().map((x) => [x.path, x.outFeatures]));
  const rate = async (sites: InterventionSite[]) => (await interchangeAccuracy(peft, examples, { sites, candidates, padId: s.padId, batchSize: 8 })).iia;
  const mine = selectedPairs(parsePairSelection(s.subspace), s.groupSize);
  const other = selectedPairs(parsePairSelection(s.complement), s.groupSize);
  const count = mine.filter(Boolean).length;
  // A's pairs, B's pairs and random draws of the same size at `paths`
  const rates = async (paths: readonly string[]) => {
    const sitesFor = (pairsOf: () => boolean[]): InterventionSite[] => paths.map((path) => ({ path, coordinates: pairCoordinates(widths.get(path)!, s.groupSize, pairsOf()) }));
    const flipRate = await rate(sitesFor(() => mine));
    const complement = await rate(sitesFor(() => other));
    const draws: number[] = [];
    for (let d = 0; d < s.randomDraws; d++) {
      const next = seededUniforms(s.seed * 1009 + d + 1);
      draws.push(await rate(sitesFor(() => randomPairs(s.groupSize / 2, count, next))));
    }
    return { flipRate, complement, random: { mean: draws.reduce((a, b) => a + b, 0) / Math.max(1, draws.length), draws } };
  };
  const whole = await rates(s.sites);
  const byLayer = new Map<number, string[]>();
  for (const path of s.sites) {
    const layer = /\.layers\.(\d+)\./.exec(path);
    if (layer !== null) byLayer.set(Number(layer[1]), [...(byLayer.get(Number(layer[1])) ?? []), path]);
  }
  const layers: LayerIia[] = [];
  for (const [layer, paths] of [...byLayer].sort((a, b) => a[0] - b[0])) layers.push({ layer, sites: paths.length, ...(await rates(paths)) });
  return { ...whole, model: s.model, subspace, examples: examples.length, sites: s.sites.length, positions: 'last token', layers };
}
