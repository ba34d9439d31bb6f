// The adapters resident in a generation engine: loaded from PEFT folders (RoAd or LoRA) or given as entries,
// each in a fixed slot of its method's table, at most `maxLoaded` at a time. Loading past the bound evicts the
// least recently used adapter that no request is using. The tables keep their slot count (maxLoaded + 1) so that
// loading and unloading change the graph only when a new group size, rank or target module appears; free slots
// are the identity. A name "a+b" (request-time composition) is composed on the host from the resident a and b
// (composeAdapters: RoAd's exact per-pair product, LoRA's cat) and kept as a transient resident adapter, so a
// composed RoAd row costs what any RoAd row costs: its own c and s, no extra element-wise product per token.

import { RoadsterError } from '../errors.ts';
import type { AdapterEntry, PeftType } from '../adapters/kind.ts';
import type { AdapterConfig } from '../adapters/kinds.ts';
import { composeAdapters } from '../adapters/compose.ts';
import { type MixedPlan, type SlotTables, mixedPlan } from '../adapters/mixed-batch.ts';
import { readAdapterFolder } from '../adapters/peft-files.ts';
import type { LinearSite } from '../models/linear.ts';

/** A resident adapter's place in the tables. */
export interface AdapterSlot {
  readonly type: PeftType;
  readonly slot: number;
}

interface Resident {
  readonly entry: AdapterEntry<AdapterConfig>;
  readonly slot: AdapterSlot;
  readonly source: string | null;
  /** A request-time composition ("a+b"): the entries it was composed from, to notice when one changes. */
  readonly composedFrom?: readonly AdapterEntry<AdapterConfig>[];
  lastUsed: number;
}

/** The separator of request-time compositions: "a+b" applies a, then b. */
export const COMPOSE_SEPARATOR = '+';

/** What `AdapterStore.load` did. */
export interface LoadResult {
  readonly name: string;
  readonly type: PeftType;
  /** Adapters evicted to make room (least recently used first). */
  readonly evicted: readonly string[];
}

export class AdapterStore {
  private readonly resident = new Map<string, Resident>();
  private clock = 0;
  private version = 0;
  private cachedPlan: { version: number; plan: MixedPlan } | null = null;

  constructor(
    private readonly sites: readonly LinearSite[],
    /** Largest number of resident adapters. */
    readonly maxLoaded: number,
    /** Whether an adapter is in use by a running or waiting request (in-use adapters are never evicted). */
    private readonly inUse: (name: string) => boolean = () => false,
  ) {
    if (!Number.isInteger(maxLoaded) || maxLoaded < 1) throw new RoadsterError('E_USAGE', `maxLoadedAdapters must be a positive integer, got ${maxLoaded}`);
  }

  /** Names of the resident adapters, in load order. */
  get names(): string[] {
    return [...this.resident.keys()];
  }

  has(name: string): boolean {
    return this.resident.has(name);
  }

  /** The adapter's config (throws E_USAGE for an unknown name). */
  config(name: string): AdapterConfig {
    return this.get(name).entry.config;
  }

  /** Where the adapter lives in the folder it was loaded from, or null. */
  source(name: string): string | null {
    return this.get(name).source;
  }

  /**
   * The slot of a resident adapter, marking it used now. A name "a+b" that is not resident is composed from the
   * resident a and b first (and recomposed when one of them was reloaded since).
   */
  use(name: string): AdapterSlot {
    if (name.includes(COMPOSE_SEPARATOR) && !this.resident.has(name)) this.compose(name);
    const stale = this.resident.get(name)?.composedFrom?.some((e, i) => this.resident.get(name.split(COMPOSE_SEPARATOR)[i])?.entry !== e);
    if (stale) {
      if (this.inUse(name)) throw new RoadsterError('E_USAGE', `an adapter of "${name}" was reloaded while requests still use the old composition; retry when they finish`);
      this.resident.delete(name);
      this.version++;
      this.compose(name);
    }
    const r = this.get(name);
    r.lastUsed = ++this.clock;
    return r.slot;
  }

  private get(name: string): Resident {
    const r = this.resident.get(name);
    if (!r) {
      const loaded = this.names;
      throw new RoadsterError('E_USAGE', `no adapter named "${name}" is loaded; loaded: ${loaded.length > 0 ? loaded.map((n) => `"${n}"`).join(', ') : 'none'}`);
    }
    return r;
  }

  /**
   * Loads a PEFT adapter folder as `name`. The folder is read and checked against the model completely before
   * anything changes: a corrupt file or an adapter made for another model is an error that leaves the store as
   * it was.
   */
  loadFolder(name: string, dir: string): LoadResult {
    const { config, params, modules } = readAdapterFolder(dir, this.sites, null);
    if (modules.size > 0) throw new RoadsterError('E_ADAPTER', `${dir}: adapters with modules_to_save (a classification head) do not generate text`);
    return this.add({ name, config, params }, dir);
  }

  /** Adds an adapter entry (parameters by module path) as resident. */
  add(entry: AdapterEntry<AdapterConfig>, source: string | null = null, keep: ReadonlySet<string> = new Set()): LoadResult {
    const { name } = entry;
    if (name.length === 0 || name === '__base__') throw new RoadsterError('E_USAGE', `"${name}" cannot name an adapter; "__base__" (or none) means the base model`);
    if (this.resident.has(name)) throw new RoadsterError('E_USAGE', `an adapter named "${name}" is already loaded; unload it first or pick another name`);
    const type = entry.config.peftType;
    const evicted: string[] = [];
    while (this.resident.size >= this.maxLoaded) {
      const victim = [...this.resident.entries()].filter(([n]) => !this.inUse(n) && !keep.has(n)).sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
      if (!victim) {
        throw new RoadsterError(
          'E_USAGE',
          `cannot load adapter "${name}": all ${this.maxLoaded} adapter slots hold adapters that running requests use; wait for them or raise maxLoadedAdapters`,
        );
      }
      this.resident.delete(victim[0]);
      evicted.push(victim[0]);
    }
    const taken = new Set([...this.resident.values()].filter((r) => r.slot.type === type).map((r) => r.slot.slot));
    let slot = 1;
    while (taken.has(slot)) slot++;
    this.resident.set(name, { entry, slot: { type, slot }, source, lastUsed: ++this.clock });
    this.version++;
    return { name, type, evicted };
  }

  /**
   * Composes "a+b+…" from resident adapters (composeAdapters: RoAd's exact product in this order, LoRA's cat, the
   * sum of the updates that applying them in turn gives) and adds it as a transient resident adapter, evicted like
   * any other. Compositions that are not exact (RoAd with LoRA, crossing group sizes, ...) are refused with the reason.
   */
  private compose(name: string): void {
    const parts = name.split(COMPOSE_SEPARATOR);
    if (parts.some((p) => p === '')) throw new RoadsterError('E_USAGE', `adapter "${name}": a composition names resident adapters joined by "+", such as "a+b"`);
    const entries = parts.map((p) => this.get(p).entry);
    let composed;
    try {
      composed = composeAdapters(entries.map((entry) => ({ entry })), { combination: 'cat' });
    } catch (error) {
      if (error instanceof RoadsterError) throw new RoadsterError('E_USAGE', `adapter "${name}" cannot be composed: ${error.message}`, { cause: error });
      throw error;
    }
    this.add({ name, config: composed.config, params: composed.params }, null, new Set(parts)); // its parts stay resident
    const r = this.resident.get(name)!;
    this.resident.set(name, { ...r, composedFrom: entries });
  }

  /** Unloads an adapter (E_USAGE when unknown or in use). */
  unload(name: string): void {
    this.get(name);
    if (this.inUse(name)) throw new RoadsterError('E_USAGE', `adapter "${name}" is in use by a running or waiting request; unload it when they finish`);
    this.resident.delete(name);
    this.version++;
  }

  /** Per method, the table of slots (index 0 and free slots null). */
  tables(): SlotTables {
    const tables = new Map<PeftType, (AdapterEntry<AdapterConfig> | null)[]>();
    for (const r of this.resident.values()) {
      let t = tables.get(r.slot.type);
      if (!t) tables.set(r.slot.type, (t = new Array<AdapterEntry<AdapterConfig> | null>(this.maxLoaded + 1).fill(null)));
      t[r.slot.slot] = r.entry;
    }
    return tables;
  }

  /** The mixed-batch plan of the current tables (rebuilt only after a load or unload). */
  plan(): { plan: MixedPlan; version: number } {
    if (this.cachedPlan?.version !== this.version) this.cachedPlan = { version: this.version, plan: mixedPlan(this.sites, this.tables()) };
    return this.cachedPlan;
  }
}
