// Lowers a roadster graph to an ONNX ModelProto (opset 17, IR version 8): graph inputs keep their names and
// symbolic dims (dim_param), frozen weights and literals become initializers that view the host arrays, and
// each live IR node goes through its rule in LOWER_RULES.

import { RoadsterError } from '../../errors.ts';
import type { DType } from '../dtype.ts';
import type { Shape } from '../dim.ts';
import { type Graph, graphInputs, liveNodes } from '../ir.ts';
import { isLeafOp } from '../ops.ts';
import { LowerContext, type LowerOptions } from './context.ts';
import { outputAlias } from './lower-compound.ts';
import { LOWER_RULES, type LowerRule } from './lower-rules.ts';
import { DOMAIN_VERSIONS, IR_VERSION, type ModelProto, OPSET_VERSION, valueInfo } from './proto.ts';

/** Name, dtype and (possibly symbolic) shape of a graph input or output. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A lowered graph: the ModelProto (initializers view the graph's host arrays) and its interface. */
export interface LoweredModel {
  readonly model: ModelProto;
  /** Every Input node of the graph, in trace order, whether live or not. */
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Whether any lowered value is float64 (ORT must then run at optimization level "basic"). */
  readonly hasFloat64: boolean;
}

function domainVersion(domain: string): number {
  const version = DOMAIN_VERSIONS[domain];
  if (version === undefined) throw new RoadsterError('E_ONNX', `no opset version is known for operator domain "${domain}"`);
  return version;
}

/**
 * Lowers the live part of `graph` to ONNX; `options.contribOps: false` keeps to standard ONNX operators. Throws
 * E_ONNX when a symbolic dim has no graph input to bind it.
 */
export function lowerToOnnx(graph: Graph, options: LowerOptions = {}): LoweredModel {
  if (graph.outputs.length === 0) throw new RoadsterError('E_ONNX', 'graph has no outputs; build it with at least one');
  const ctx = new LowerContext(graph, { contribOps: options.contribOps ?? true });
  const inputs: TensorSpec[] = graphInputs(graph).map((n) => ({ name: n.params.name, dtype: n.params.dtype, shape: n.params.shape }));

  // Outputs name their values directly, except leaves and values shared by two outputs (Identity aliases).
  const aliases: [number, string][] = [];
  const claimed = new Set<number>();
  for (const o of graph.outputs) {
    const producer = graph.nodes[graph.values[o.value].node];
    if (isLeafOp(producer.op) || claimed.has(o.value)) {
      ctx.reserve(o.name);
      aliases.push([o.value, o.name]);
    } else {
      ctx.claimValue(o.value, o.name);
      claimed.add(o.value);
    }
  }

  const live = liveNodes(graph);
  for (const node of live) {
    ctx.enter(node);
    (LOWER_RULES[node.op] as LowerRule<typeof node.op>)(ctx, node.params);
  }
  for (const [value, name] of aliases) outputAlias(ctx, ctx.valueName(value), name);
  // weights whose every use was replaced (e.g. by a quantized copy) are left out
  const used = new Set(ctx.nodes.flatMap((n) => n.input ?? []));
  const initializers = ctx.initializers.filter((t) => used.has(t.name!));

  // Every computed value's shape, symbolic dims by name: ONNX Runtime's shape inference cannot name the dims of
  // a Reshape or Expand whose shape operand is computed, and its allocation planner neither reuses an unnamed
  // buffer nor finds one without scanning its whole free list (session creation grew with the square of the
  // node count; BENCHMARKS.md, session creation). Declared shapes fill the names in.
  const outputNames = new Set(graph.outputs.map((o) => o.name));
  const emitted = new Set(ctx.nodes.flatMap((n) => n.output ?? []));
  const valueInfos = live.flatMap((n) =>
    isLeafOp(n.op)
      ? []
      : n.outputs.flatMap((v) => {
          const name = ctx.valueName(v);
          const { dtype, shape } = graph.values[v];
          return emitted.has(name) && !outputNames.has(name) ? [valueInfo(name, dtype, shape)] : [];
        }),
  );

  const outputs: TensorSpec[] = graph.outputs.map((o) => {
    const { dtype, shape } = graph.values[o.value];
    return { name: o.name, dtype, shape };
  });
  const hasFloat64 =
    inputs.some((i) => i.dtype === 'float64') || live.some((n) => n.outputs.some((v) => graph.values[v].dtype === 'float64'));
  const model: ModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }, ...[...ctx.domains].map((domain) => ({ domain, version: domainVersion(domain) }))],
    producerName: 'roadster',
    graph: {
      name: 'roadster',
      node: ctx.nodes,
      initializer: initializers,
      input: inputs.map((i) => valueInfo(i.name, i.dtype, i.shape)),
      output: outputs.map((o) => valueInfo(o.name, o.dtype, o.shape)),
      valueInfo: [...valueInfos, ...ctx.declared],
    },
  };
  return { model, inputs, outputs, hasFloat64 };
}
