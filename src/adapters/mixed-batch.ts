// Mixed-adapter batches: every row names its adapter (or none), RoAd and LoRA rows alike. Per method, the
// adapters form a table of slots (slot 0: no adapter) that is fed to the graph as inputs, and each row's slot
// is a [B] index input; a site applies each method's table in turn (RoAd: a per-row element-wise transform,
// LoRA: gathered batched matmuls). The same plan serves PeftModel.forward's one-off mixed batches and the
// generation engine, whose tables change only when adapters are loaded or unloaded.

import type { GraphBuilder } from '../graph/tracer.ts';
import { type LinearFn, type LinearSite, plainLinear } from '../models/linear.ts';
import type { HostTensor } from '../runtime/host-tensor.ts';
import type { AdapterEntry, MixedSite, PeftType } from './kind.ts';
import { type AdapterConfig, kindOf } from './kinds.ts';

/** Per method, the table of adapters: entry 0 is null (no adapter), then the adapters in slot order. */
export type SlotTables = ReadonlyMap<PeftType, readonly (AdapterEntry<AdapterConfig> | null)[]>;

/** The traced applications of every adapted site, per method. */
export interface MixedPlan {
  readonly sites: ReadonlyMap<string, readonly { readonly type: PeftType; readonly site: MixedSite }[]>;
  /** Graph identity: equal keys trace equal graphs (the slot counts are symbolic). */
  readonly key: string;
}

/** Graph input name of a site's table input. */
export function mixedInputName(path: string, type: PeftType, suffix: string): string {
  return `mixed:${path}:${type}.${suffix}`;
}

/** Graph input name of a method's per-row slot index [B]. */
export function mixedIndexName(type: PeftType): string {
  return `mixed:index:${type}`;
}

/** Symbolic dimension of a method's slot count. */
function slotDim(type: PeftType): string {
  return `slots_${type}`;
}

/** The plan of `tables` over the model's linear sites. */
export function mixedPlan(sites: Iterable<LinearSite>, tables: SlotTables): MixedPlan {
  const plan = new Map<string, { type: PeftType; site: MixedSite }[]>();
  const keys: string[] = [];
  const types = [...tables.keys()].sort();
  for (const site of sites) {
    const list: { type: PeftType; site: MixedSite }[] = [];
    for (const type of types) {
      const slots = tables.get(type)!;
      if (!slots.some((e) => e?.params.has(site.path))) continue;
      const first = slots.find((e) => e !== null)!;
      list.push({ type, site: kindOf(first.config).mixed(site, slots) });
    }
    if (list.length === 0) continue;
    plan.set(site.path, list);
    keys.push(`${site.path}=${list.map((m) => `${m.type}:${m.site.key}`).join('+')}`);
  }
  return { sites: plan, key: keys.join(';') };
}

/**
 * A linear function that applies each row's adapter at every site of `plan`. With `rows: 'gather'` (default) the
 * tables are inputs and each row gathers its entries by its slot (`[B]` index inputs); with `rows: 'fed'` each
 * row's entries are inputs of their own (`[B, ...]`, see RowInputs), for a batch whose rows change rarely.
 */
export function mixedLinear(b: GraphBuilder, plan: MixedPlan, options: { rows?: 'gather' | 'fed' } = {}): LinearFn {
  const indexes = new Map<PeftType, ReturnType<GraphBuilder['input']>>();
  const index = (type: PeftType) => {
    let t = indexes.get(type);
    if (!t) indexes.set(type, (t = b.input(mixedIndexName(type), 'int64', ['B'])));
    return t;
  };
  const fed = options.rows === 'fed';
  return (site, x, weight, bias) => {
    let y = plainLinear(site, x, weight, bias);
    for (const m of plan.sites.get(site.path) ?? []) {
      y = m.site.trace(x, y, (suffix, dtype, shape) =>
        fed
          ? b.input(mixedRowInputName(site.path, m.type, suffix), dtype, ['B', ...shape]) // [B, ...shape]
          : b.input(mixedInputName(site.path, m.type, suffix), dtype, [slotDim(m.type), ...shape]).gather(index(m.type), 0), // [B, ...shape]
      );
    }
    return y;
  };
}

/** Graph input name of a site's per-row input (`rows: 'fed'`). */
export function mixedRowInputName(path: string, type: PeftType, suffix: string): string {
  return `mixed-rows:${path}:${type}.${suffix}`;
}

/**
 * Per-row inputs of `mixedLinear(..., { rows: 'fed' })`, kept in host buffers of `maxRows` rows: a row's entries
 * are copied from the tables only when the row's adapter (method, slot) changes, so a decode step feeds views of
 * the first n rows and the graph gathers nothing.
 */
export class RowInputs {
  private readonly inputs: { name: string; type: PeftType; table: HostTensor; rowSize: number; buffer: Float32Array | Float64Array }[] = [];
  private readonly current: (string | undefined)[];

  constructor(plan: MixedPlan, dtype: 'float32' | 'float64', readonly maxRows: number) {
    for (const [path, list] of plan.sites) {
      for (const m of list) {
        for (const [suffix, table] of Object.entries(m.site.feeds(dtype))) {
          const rowSize = table.shape.slice(1).reduce((a, d) => a * d, 1);
          const buffer = dtype === 'float64' ? new Float64Array(maxRows * rowSize) : new Float32Array(maxRows * rowSize);
          this.inputs.push({ name: mixedRowInputName(path, m.type, suffix), type: m.type, table, rowSize, buffer });
        }
      }
    }
    this.current = new Array<string | undefined>(maxRows);
  }

  /** Makes row `row` hold the entries of `adapter` (null: none). */
  set(row: number, adapter: { readonly type: PeftType; readonly slot: number } | null): void {
    const key = adapter === null ? '' : `${adapter.type}:${adapter.slot}`;
    if (this.current[row] === key) return;
    for (const input of this.inputs) {
      const slot = adapter !== null && adapter.type === input.type ? adapter.slot : 0;
      const table = input.table.data as Float32Array | Float64Array;
      input.buffer.set(table.subarray(slot * input.rowSize, (slot + 1) * input.rowSize), row * input.rowSize);
    }
    this.current[row] = key;
  }

  /** Feeds of the first `n` rows (views, no copy). */
  feeds(n: number): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    for (const input of this.inputs) {
      feeds[input.name] = { dtype: input.table.dtype, shape: [n, ...input.table.shape.slice(1)], data: input.buffer.subarray(0, n * input.rowSize) };
    }
    return feeds;
  }
}

/** The tables' feeds (rebuild them only when the tables change). */
export function mixedTableFeeds(plan: MixedPlan, dtype: 'float32' | 'float64'): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const [path, list] of plan.sites) {
    for (const m of list) for (const [suffix, t] of Object.entries(m.site.feeds(dtype))) feeds[mixedInputName(path, m.type, suffix)] = t;
  }
  return feeds;
}

/** The per-row slot indexes of the methods in `plan`: `rows[b]` is row b's (method, slot), or null for none. */
export function mixedIndexFeeds(plan: MixedPlan, rows: readonly ({ readonly type: PeftType; readonly slot: number } | null)[]): Record<string, HostTensor> {
  const types = new Set<PeftType>();
  for (const list of plan.sites.values()) for (const m of list) types.add(m.type);
  const feeds: Record<string, HostTensor> = {};
  for (const type of types) {
    const data = new BigInt64Array(rows.length);
    rows.forEach((r, i) => (data[i] = BigInt(r && r.type === type ? r.slot : 0)));
    feeds[mixedIndexName(type)] = { dtype: 'int64', shape: [rows.length], data };
  }
  return feeds;
}

/** Slot tables of a one-off batch: each method's distinct adapters among `rows`, and each row's slot. */
export function batchTables(rows: readonly (AdapterEntry<AdapterConfig> | null)[]): {
  tables: SlotTables;
  slots: ({ type: PeftType; slot: number } | null)[];
} {
  const tables = new Map<PeftType, (AdapterEntry<AdapterConfig> | null)[]>();
  const slots = rows.map((e) => {
    if (!e) return null;
    const type = e.config.peftType;
    let table = tables.get(type);
    if (!table) tables.set(type, (table = [null]));
    let slot = table.indexOf(e);
    if (slot < 0) slot = table.push(e) - 1;
    return { type, slot };
  });
  return { tables, slots };
}
