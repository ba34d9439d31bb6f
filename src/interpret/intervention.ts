// Interchange interventions and ablations on module outputs, through the linear seam (docs/compose.md). A site is
// a module output named as the checkpoint names the module ("model.layers.3.mlp.down_proj") with a set of its
// output coordinates; for RoAd pairs the subspace is axis-aligned, coordinates k and k + G/2 of each chosen pair
// (pairCoordinates), so distributed interchange intervention DII(b, s) = b + Rᵀ(R s − R b) with R those
// coordinates' rows is: the base run's outputs, with the chosen coordinates at the chosen positions taken from
// the source run. The intervention acts on the module's output after the active adapters (what the layer passes
// on): for a RoAd site that is the adapted pair (R h)_k, (R h)_{k+G/2}. Implemented as a LinearWrap around the
// adapted linear function: y' = y ⊙ keep + v, with keep = 1 outside the chosen coordinates and positions (0
// inside) and v the replacement values there (0 outside), both graph inputs; a second model definition is never
// needed.

import { RoadsterError } from '../errors.ts';
import type { LinearWrap, PeftModel } from '../adapters/peft-model.ts';
import type { LinearFn } from '../models/linear.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';

/** A module output and the coordinates to act on (all of them when absent). */
export interface InterventionSite {
  readonly path: string;
  readonly coordinates?: readonly number[];
}

/** Positions: each row's last real token, or (base position, source position) pairs shared by every row. */
export type Positions = { readonly kind: 'last' } | { readonly kind: 'aligned'; readonly pairs: readonly (readonly [number, number])[] };

export interface InterventionOptions {
  readonly dtype?: 'float32' | 'float64';
  /** Padding id for ragged rows (masked out by the attention mask); default 0. */
  readonly padId?: number;
}

/** Output coordinates of the chosen RoAd pairs (`pairs` [G/2], the same in each group) of a d-wide output. */
export function pairCoordinates(d: number, groupSize: number, pairs: readonly boolean[]): number[] {
  const out: number[] = [];
  for (let g = 0; g < d; g += groupSize) {
    pairs.forEach((on, j) => {
      if (on) out.push(g + j, g + j + groupSize / 2);
    });
  }
  return out.sort((a, b) => a - b);
}

/** Ragged token rows as a right-padded batch with its attention mask. */
export function padRows(rows: readonly (readonly number[])[], padId = 0): { inputIds: number[][]; attentionMask: number[][]; lengths: number[] } {
  if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new RoadsterError('E_USAGE', 'interventions need at least one row, and no empty row');
  const t = Math.max(...rows.map((r) => r.length));
  return {
    inputIds: rows.map((r) => [...r, ...new Array<number>(t - r.length).fill(padId)]),
    attentionMask: rows.map((r) => [...new Array<number>(r.length).fill(1), ...new Array<number>(t - r.length).fill(0)]),
    lengths: rows.map((r) => r.length),
  };
}

/** Output width of each site, checked against the model. */
function siteWidths(peft: PeftModel, sites: readonly InterventionSite[]): Map<string, number> {
  const known = new Map(peft.base.linearSites().map((s) => [s.path, s.outFeatures]));
  const widths = new Map<string, number>();
  for (const s of sites) {
    const d = known.get(s.path);
    if (d === undefined) {
      const examples = [...known.keys()].slice(0, 3).join(', ');
      throw new RoadsterError('E_USAGE', `no module "${s.path}" in the model; sites are module outputs by checkpoint name, e.g. ${examples}`);
    }
    if (widths.has(s.path)) throw new RoadsterError('E_USAGE', `site ${s.path} is given twice; list its coordinates once`);
    const bad = (s.coordinates ?? []).find((c) => !Number.isInteger(c) || c < 0 || c >= d);
    if (bad !== undefined) throw new RoadsterError('E_USAGE', `site ${s.path}: coordinate ${bad} is outside its ${d} outputs`);
    widths.set(s.path, d);
  }
  return widths;
}

const captureName = (path: string) => `capture:${path}`;

/** Records the (adapted) outputs of `paths` as graph outputs "capture:<path>" [B, T, d]. */
function captureWrap(paths: readonly string[]): LinearWrap {
  const set = new Set(paths);
  return {
    key: `capture:${[...set].sort().join(',')}`,
    wrap: (_b, inner, outputs): LinearFn => (site, x, weight, bias) => {
      const y = inner(site, x, weight, bias); // [B, T, d]
      if (set.has(site.path)) outputs.set(captureName(site.path), y);
      return y;
    },
  };
}

/** y' = y ⊙ keep + value at `paths` (keep and value are graph inputs [B, T, d]); y' is recorded as "capture:<path>". */
function replaceWrap(paths: readonly string[]): LinearWrap {
  const set = new Set(paths);
  return {
    key: `replace:${[...set].sort().join(',')}`,
    wrap: (b, inner, outputs): LinearFn => (site, x, weight, bias) => {
      const y = inner(site, x, weight, bias); // [B, T, d]
      if (!set.has(site.path)) return y;
      const keep = b.input(`keep:${site.path}`, y.dtype, ['B', 'T', site.outFeatures]); // [B, T, d]
      const value = b.input(`value:${site.path}`, y.dtype, ['B', 'T', site.outFeatures]); // [B, T, d]
      const replaced = y.mul(keep).add(value); // [B, T, d]
      outputs.set(captureName(site.path), replaced);
      return replaced;
    },
  };
}

/** Logits [B, T, V] of an intervened run and the sites' outputs after the intervention [B, T, d] (float64). */
export interface InterventionResult {
  readonly logits: HostTensor;
  readonly outputs: Map<string, Float64Array>;
}

/** Runs `rows` and returns each site's adapted output [B, T, d] (float64 arrays) with the padded batch. */
export async function captureOutputs(
  peft: PeftModel,
  rows: readonly (readonly number[])[],
  paths: readonly string[],
  options: InterventionOptions = {},
): Promise<{ outputs: Map<string, Float64Array>; logits: HostTensor; lengths: number[]; t: number }> {
  const batch = padRows(rows, options.padId);
  const out = await peft.runWrapped(batch, captureWrap(paths), {}, { dtype: options.dtype });
  const outputs = new Map(paths.map((p) => [p, Float64Array.from(out[captureName(p)].data as Float32Array | Float64Array)]));
  return { outputs, logits: out.logits, lengths: batch.lengths, t: batch.inputIds[0].length };
}

/** (base position, source position) pairs of row i. */
function rowPositions(positions: Positions, baseLength: number, sourceLength: number): [number, number][] {
  switch (positions.kind) {
    case 'last':
      return [[baseLength - 1, sourceLength - 1]];
    case 'aligned':
      for (const [p, q] of positions.pairs) {
        if (p < 0 || p >= baseLength || q < 0 || q >= sourceLength) {
          throw new RoadsterError('E_USAGE', `aligned positions (${p}, ${q}) fall outside a base row of ${baseLength} or a source row of ${sourceLength} tokens`);
        }
      }
      return positions.pairs.map(([p, q]) => [p, q]);
  }
}

/** What to put at the chosen coordinates and positions of row i, position pair (p, q), coordinate k. */
type Replacement = (site: string, row: number, p: number, q: number, k: number) => number;

async function runReplaced(
  peft: PeftModel,
  baseRows: readonly (readonly number[])[],
  sites: readonly InterventionSite[],
  widths: ReadonlyMap<string, number>,
  pairsOf: (row: number, baseLength: number) => [number, number][],
  replacement: Replacement,
  options: InterventionOptions,
): Promise<InterventionResult> {
  const dtype = options.dtype ?? 'float32';
  const batch = padRows(baseRows, options.padId);
  const [rows, t] = [baseRows.length, batch.inputIds[0].length];
  const feeds: Record<string, HostTensor> = {};
  for (const site of sites) {
    const d = widths.get(site.path)!;
    const coords = site.coordinates ?? Array.from({ length: d }, (_, k) => k);
    const make = (fill: number) => (dtype === 'float64' ? new Float64Array(rows * t * d) : new Float32Array(rows * t * d)).fill(fill);
    const [keep, value] = [make(1), make(0)];
    for (let r = 0; r < rows; r++) {
      for (const [p, q] of pairsOf(r, batch.lengths[r])) {
        for (const k of coords) {
          const at = (r * t + p) * d + k;
          keep[at] = 0;
          value[at] = replacement(site.path, r, p, q, k);
        }
      }
    }
    feeds[`keep:${site.path}`] = { dtype, shape: [rows, t, d], data: keep };
    feeds[`value:${site.path}`] = { dtype, shape: [rows, t, d], data: value };
  }
  const out = await peft.runWrapped(batch, replaceWrap(sites.map((s) => s.path)), feeds, { dtype });
  return { logits: out.logits, outputs: new Map(sites.map((s) => [s.path, Float64Array.from(out[captureName(s.path)].data as Float32Array | Float64Array)])) };
}

export interface InterchangeRequest {
  /** Token rows of the base runs, whose logits come back. */
  readonly base: readonly (readonly number[])[];
  /** Token rows of the source runs (one per base row), whose coordinates are swapped in. */
  readonly source: readonly (readonly number[])[];
  readonly sites: readonly InterventionSite[];
  readonly positions: Positions;
}

/** The base runs' logits [B, T, V] (and site outputs) with the sources' coordinates at the sites and positions swapped in. */
export async function interchange(peft: PeftModel, request: InterchangeRequest, options: InterventionOptions = {}): Promise<InterventionResult> {
  if (request.base.length !== request.source.length) {
    throw new RoadsterError('E_USAGE', `interchange pairs each base row with a source row: ${request.base.length} base and ${request.source.length} source rows`);
  }
  const widths = siteWidths(peft, request.sites);
  const source = await captureOutputs(peft, request.source, [...widths.keys()], options);
  const pairsOf = (r: number, baseLength: number) => rowPositions(request.positions, baseLength, source.lengths[r]);
  return runReplaced(peft, request.base, request.sites, widths, pairsOf, (path, r, _p, q, k) => {
    const d = widths.get(path)!;
    return source.outputs.get(path)![(r * source.t + q) * d + k];
  }, options);
}

/** Zero-ablation, or mean-ablation with the mean output of each site (meanOutputs). */
export type Ablation = { readonly kind: 'zero' } | { readonly kind: 'mean'; readonly means: ReadonlyMap<string, Float64Array> };

/** The runs' logits [B, T, V] with the sites' chosen coordinates replaced by 0 or their means at `positions` ('last' or every real token). */
export async function ablate(
  peft: PeftModel,
  rows: readonly (readonly number[])[],
  sites: readonly InterventionSite[],
  ablation: Ablation,
  positions: 'last' | 'all',
  options: InterventionOptions = {},
): Promise<InterventionResult> {
  const widths = siteWidths(peft, sites);
  if (ablation.kind === 'mean') {
    for (const [path, d] of widths) {
      if (ablation.means.get(path)?.length !== d) throw new RoadsterError('E_USAGE', `mean ablation of ${path} needs its mean output of ${d} values (meanOutputs)`);
    }
  }
  const pairsOf = (_r: number, n: number): [number, number][] => (positions === 'last' ? [[n - 1, n - 1]] : Array.from({ length: n }, (_, p) => [p, p]));
  return runReplaced(peft, rows, sites, widths, pairsOf, (path, _r, _p, _q, k) => (ablation.kind === 'zero' ? 0 : ablation.means.get(path)![k]), options);
}

/** Each site's output averaged over `rows` at each row's last token, or over every real token. */
export async function meanOutputs(
  peft: PeftModel,
  rows: readonly (readonly number[])[],
  paths: readonly string[],
  positions: 'last' | 'all',
  options: InterventionOptions = {},
): Promise<Map<string, Float64Array>> {
  const { outputs, lengths, t } = await captureOutputs(peft, rows, paths, options);
  const means = new Map<string, Float64Array>();
  for (const [path, y] of outputs) {
    const d = y.length / (rows.length * t);
    const sum = new Float64Array(d);
    let count = 0;
    lengths.forEach((n, r) => {
      for (let p = positions === 'last' ? n - 1 : 0; p < n; p++, count++) for (let k = 0; k < d; k++) sum[k] += y[(r * t + p) * d + k];
    });
    means.set(path, sum.map((v) => v / count));
  }
  return means;
}
