// Graph signatures for the session cache: a SHA-256 of the graph's structure (ops, params, names, dtypes,
// shapes, outputs) plus the identity of its weight arrays, so compiling the same graph again finds its session
// without hashing weight bytes. Identities come from a WeakMap owned by one Runtime, never a module global.

import type { Graph } from '../graph/ir.ts';
import { Op, type OpParams } from '../graph/ops.ts';
import type { Hasher } from './backend.ts';

/** Constants up to this many bytes are hashed by content (so re-traced graphs hit the cache); larger by identity. */
const CONSTANT_CONTENT_BYTES = 64 * 1024;

/** Numbers objects (weight arrays) by identity; the owner holds it, so ids live as long as the owner. */
export class ObjectIds {
  private readonly ids = new WeakMap<object, number>();
  private next = 1;

  id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.next++;
      this.ids.set(o, id);
    }
    return id;
  }
}

/** The cache key of a graph, hashed with `h` (SHA-256); `extra` adds compile options that change the session. */
export function graphSignature(graph: Graph, ids: ObjectIds, extra: string, h: Hasher): string {
  h.update(`${extra}\n`);
  for (const n of graph.nodes) {
    h.update(`${n.id}|${n.op}|${n.name}|${n.inputs.join(',')}|${n.outputs.join(',')}|`);
    if (n.op === Op.Initializer || n.op === Op.Constant) {
      const { data, ...rest } = n.params as OpParams[Op.Initializer] | OpParams[Op.Constant];
      h.update(JSON.stringify(rest));
      if (n.op === Op.Constant && data.byteLength <= CONSTANT_CONTENT_BYTES) {
        h.update('=');
        h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } else {
        h.update(`#${ids.id(data)}`);
      }
    } else {
      h.update(JSON.stringify(n.params));
    }
    h.update('\n');
  }
  for (const v of graph.values) h.update(`${v.dtype}[${v.shape.join(',')}]@${v.node}.${v.index};`);
  h.update('\n');
  for (const o of graph.outputs) h.update(`${o.name}=${o.value};`);
  return h.digest();
}
