// Traces adapters into a model graph through the linear seam: active adapters applied in sequence (PEFT's
// semantics; their parameters are graph inputs so gradients reach them). Mixed batches are in mixed-batch.ts.

import type { DType } from '../graph/dtype.ts';
import type { GraphBuilder, Tensor } from '../graph/tracer.ts';
import { type LinearFn, type LinearSite, plainLinear } from '../models/linear.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import { mixSeed } from '../seeded-random.ts';
import type { AdapterEntry, SiteParams } from './kind.ts';
import { dropoutRows, dropoutRowsInputName, tracedDropout } from './lora/dropout.ts';
import { type AdapterConfig, kindOf } from './kinds.ts';

/** Graph input name of an adapter parameter: by slot (position in the active list), so names do not matter. */
export function paramInputName(slot: number, path: string, param: string): string {
  return `adapter${slot}:${path}.${param}`;
}

/** A linear function applying `adapters` in order at every site they wrap. */
export function sequentialLinear(b: GraphBuilder, dtype: DType, adapters: readonly AdapterEntry<AdapterConfig>[], options: { training?: boolean } = {}): LinearFn {
  const tables = new Map<string, Tensor>(); // dropout mask tables, shared by the sites of this graph
  return (site, x, weight, bias) => {
    let y = plainLinear(site, x, weight, bias);
    adapters.forEach((a, slot) => {
      const params = a.params.get(site.path);
      if (!params) return;
      const kind = kindOf(a.config);
      const shapes = siteInputShapes(a.config, site);
      const inputs = Object.fromEntries(Object.entries(shapes).map(([p, shape]) => [p, b.input(paramInputName(slot, site.path, p), dtype, shape)]));
      const training = options.training ? { dropout: tracedDropout(b, tables, dtype, slot, site.path) } : undefined;
      y = kind.apply(a.config, site, x, y, inputs, b, training);
    });
    return y;
  };
}

/** Whether training drops the input of the adapter's sites (AdapterKind.dropoutRate > 0: LoRA's lora_dropout). */
export function trainsWithDropout(config: AdapterConfig): boolean {
  return (kindOf(config).dropoutRate?.(config) ?? 0) > 0;
}

/** The adapters' sites that drop their input in training (see trainsWithDropout), in slot order. */
export function dropoutSites(adapters: readonly AdapterEntry<AdapterConfig>[]): { slot: number; path: string }[] {
  const sites: { slot: number; path: string }[] = [];
  adapters.forEach((a, slot) => {
    if (!trainsWithDropout(a.config)) return;
    for (const path of a.params.keys()) sites.push({ slot, path });
  });
  return sites;
}

/** Host feeds of the dropout sites for a [B, T] batch: per site, mask rows drawn from (seed, site number). */
export function dropoutFeeds(adapters: readonly AdapterEntry<AdapterConfig>[], seed: number, rows: number, columns: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  dropoutSites(adapters).forEach(({ slot, path }, k) => {
    feeds[dropoutRowsInputName(slot, path)] = dropoutRows(mixSeed(seed, k), [rows, columns]);
  });
  return feeds;
}

/** A site's graph inputs and their shapes: the method's HostInputs, or its parameters. */
export function siteInputShapes(config: AdapterConfig, site: LinearSite): Record<string, readonly number[]> {
  const kind = kindOf(config);
  return kind.hostInputs ? kind.hostInputs.shapes(config, site) : kind.paramShapes(config, site);
}

/** Host feeds for the graph inputs of `adapters` (in slot order), converted to the graph dtype. */
export function sequentialFeeds(
  adapters: readonly AdapterEntry<AdapterConfig>[],
  siteOf: (path: string) => LinearSite,
  dtype: 'float32' | 'float64',
): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  adapters.forEach((a, slot) => {
    const host = kindOf(a.config).hostInputs;
    for (const [path, params] of a.params) {
      const site = siteOf(path);
      const shapes = siteInputShapes(a.config, site);
      const values: Record<string, Float32Array | Float64Array> = host ? host.values(a.config, site, params) : params;
      for (const [input, data] of Object.entries(values)) {
        feeds[paramInputName(slot, path, input)] = { dtype, shape: shapes[input], data: asDType(data, dtype) };
      }
    }
  });
  return feeds;
}

/**
 * A site's parameter gradients (by parameter name, in the graph dtype) from its graph inputs' gradients: the
 * same arrays when the inputs are the parameters, else the method's chain rule (HostInputs.grads).
 */
export function siteParamGrads(
  config: AdapterConfig,
  site: LinearSite,
  params: SiteParams,
  inputGrads: Readonly<Record<string, Float32Array | Float64Array>>,
  dtype: 'float32' | 'float64',
): Record<string, Float32Array | Float64Array> {
  const host = kindOf(config).hostInputs;
  if (!host) return { ...inputGrads };
  const grads = host.grads(config, site, params, inputGrads);
  return Object.fromEntries(Object.entries(grads).map(([p, g]) => [p, asDType(g, dtype)]));
}

/** `data` as the graph dtype (the same array when it already is). */
export function asDType(data: Float32Array | Float64Array, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  if (dtype === 'float64') return data instanceof Float64Array ? data : Float64Array.from(data);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}
