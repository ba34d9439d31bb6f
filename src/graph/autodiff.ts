// Reverse-mode autodiff: `grad(graph, loss, wrt)` appends the backward pass to a copy of the graph and returns
// a graph whose outputs are the original ones plus `grad.<name>` for each requested input. Cotangents flow
// through VJP_RULES in reverse topological order; fan-out accumulates by addition; only nodes between the
// requested inputs and the loss are differentiated.

import { RoadsterError } from '../errors.ts';
import { type DType, isFloat } from './dtype.ts';
import { formatShape } from './dim.ts';
import type { Graph, Node } from './ir.ts';
import { Op, type OpParams, isLeafOp } from './ops.ts';
import { GraphBuilder, type Tensor, concat } from './tracer.ts';
import { VJP_RULES, type VjpRule, zerosLike } from './vjp-rules.ts';

/** Output name under which `grad` returns the gradient of an input or initializer. */
export function gradName(name: string): string {
  return `grad.${name}`;
}

function leafName(graph: Graph, nodeId: number): string | undefined {
  const n = graph.nodes[nodeId];
  if (n.op === Op.Input || n.op === Op.Initializer) return (n.params as OpParams[Op.Input]).name;
  return undefined;
}

/**
 * Returns a graph computing everything `graph` computes plus d`loss`/d`x` for every name in `wrt` (graph
 * inputs or initializers), as outputs `grad.<name>`. `loss` must name a scalar float output.
 */
export function grad(graph: Graph, loss: string, wrt: readonly string[]): Graph {
  const out = graph.outputs.find((o) => o.name === loss);
  if (!out) {
    throw new RoadsterError('E_AUTODIFF', `no output named "${loss}"; outputs are ${graph.outputs.map((o) => o.name).join(', ')}`);
  }
  const lossInfo = graph.values[out.value];
  if (!isFloat(lossInfo.dtype) || lossInfo.shape.length !== 0) {
    throw new RoadsterError('E_AUTODIFF', `loss "${loss}" must be a float scalar, got ${lossInfo.dtype}${formatShape(lossInfo.shape)}`);
  }

  // Leaves we differentiate with respect to.
  const leaves = new Map<string, number>(); // name → value id
  for (const n of graph.nodes) {
    const name = leafName(graph, n.id);
    if (name !== undefined) leaves.set(name, n.outputs[0]);
  }
  const targets = wrt.map((name) => {
    const v = leaves.get(name);
    if (v === undefined) {
      throw new RoadsterError('E_AUTODIFF', `"${name}" is not an input or initializer of the graph; known: ${[...leaves.keys()].join(', ')}`);
    }
    if (!isFloat(graph.values[v].dtype)) {
      throw new RoadsterError('E_AUTODIFF', `"${name}" is ${graph.values[v].dtype}; integer and bool inputs are not differentiable`);
    }
    return v;
  });

  // Values that depend on a target (forward sweep) ...
  const dependsOnTarget = new Set<number>(targets);
  for (const n of graph.nodes) {
    if (n.inputs.some((v) => dependsOnTarget.has(v))) for (const v of n.outputs) if (isFloat(graph.values[v].dtype)) dependsOnTarget.add(v);
  }
  // ... and that the loss depends on (backward sweep): only these carry cotangents.
  const active = new Set<number>();
  if (dependsOnTarget.has(out.value)) active.add(out.value);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.outputs.some((v) => active.has(v))) continue;
    for (const v of n.inputs) if (dependsOnTarget.has(v)) active.add(v);
  }

  const b = GraphBuilder.from(graph);
  const cotangent = new Map<number, Tensor>();
  const accumulate = (v: number, g: Tensor) => {
    const prev = cotangent.get(v);
    cotangent.set(v, prev ? prev.add(g) : g);
  };
  accumulate(out.value, b.scalar(1, lossInfo.dtype));

  // Stages and recomputation regions (docs/autodiff.md#recomputation): original value id → recomputed twin.
  const regions = new Map<number, Node[]>();
  for (const n of graph.nodes) if (n.region !== undefined) regions.set(n.region, [...(regions.get(n.region) ?? []), n]);
  const twin = new Map<number, Tensor>();
  const entered = new Set<number>();
  const view = (v: number) => twin.get(v) ?? b.tensor(v);
  // Gradients of targets whose last consumer has been differentiated, not yet tied into the sweep.
  const lastInSweep = new Map<number, number>(); // target value → the first node consuming it (last in the sweep)
  for (const n of graph.nodes) for (const v of n.inputs) if (targets.includes(v) && !lastInSweep.has(v)) lastInSweep.set(v, n.id);
  const finished: Tensor[] = [];

  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.inputs.length === 0 || !n.outputs.some((v) => cotangent.has(v))) continue;
    if (n.region !== undefined && !entered.has(n.region)) {
      entered.add(n.region);
      enterRegion(b, graph, regions.get(n.region)!, cotangent, twin, finished.splice(0));
    }
    const rule = VJP_RULES[n.op] as VjpRule<Op>;
    const grads = b.scope(`grad.${n.name}`, () =>
      b.cotangents(() =>
        rule({
          b,
          params: n.params,
          inputs: n.inputs.map(view),
          outputs: n.outputs.map(view),
          grads: n.outputs.map((v) => cotangent.get(v) ?? null),
          needs: (k) => active.has(n.inputs[k]),
        }),
      ),
    );
    n.inputs.forEach((v, k) => {
      const g = grads[k];
      if (g && active.has(v)) accumulate(v, g);
    });
    for (const [v, first] of lastInSweep) if (first === n.id && cotangent.has(v)) finished.push(cotangent.get(v)!);
  }

  const outputs: [string, Tensor][] = graph.outputs.map((o) => [o.name, b.tensor(o.value)]);
  wrt.forEach((name, k) => {
    const v = targets[k];
    outputs.push([gradName(name), cotangent.get(v) ?? zerosLike(b.tensor(v))]);
  });
  return b.build(outputs);
}

/**
 * A zero of `dtype` that exists only once every tensor of `ts` does: the first element of each (none of an
 * empty one), summed, times zero. One Slice per tensor (and a Reshape unless it is a vector), then one Concat,
 * one ReduceSum and one Mul: a barrier costs few nodes however many gradients it waits for.
 */
function zeroAfterAll(ts: readonly Tensor[], dtype: DType): Tensor {
  const firsts = ts.map((t) => {
    const first = (t.shape.length === 1 ? t : t.reshape([-1])).slice(0, 0, 1); // [1], or [0] when t is empty
    return first.dtype === dtype ? first : first.cast(dtype);
  });
  return (firsts.length === 1 ? firsts[0] : concat(firsts, 0)).sum().mul(0); // []
}

/**
 * Entering a stage in the backward sweep (docs/autodiff.md#recomputation). `dep`, a zero computed from one
 * element of a cotangent flowing out of the stage and of every parameter gradient finished since the previous
 * stage, makes the stage's backward pass wait for those gradients, so ONNX Runtime (which orders nodes by a
 * depth-first search from the outputs) cannot postpone them and keep their inputs alive. A plain stage adds
 * `dep` to the cotangents flowing out of it; a recomputation region re-emits its nodes ("twins") with `dep`
 * added to their computed float and integer inputs, so the twins run only in the backward pass and ONNX Runtime's
 * common-subexpression elimination cannot merge them with the originals.
 */
function enterRegion(
  b: GraphBuilder,
  graph: Graph,
  nodes: readonly Node[],
  cotangent: Map<number, Tensor>,
  twin: Map<number, Tensor>,
  finished: readonly Tensor[],
): void {
  const inside = new Set(nodes.flatMap((n) => n.outputs));
  const outflow = [...inside].filter((v) => cotangent.has(v));
  if (outflow.length === 0) return;
  b.scope('stage', () => {
    const first = cotangent.get(outflow[0])!;
    const dep = zeroAfterAll([first, ...finished], first.dtype);
    const lift = (t: Tensor) => t.add(t.dtype === dep.dtype ? dep : dep.cast(t.dtype)); // float or int64
    if (!nodes[0].recompute) {
      if (finished.length > 0) for (const v of outflow) cotangent.set(v, lift(cotangent.get(v)!));
      return;
    }
    const delayed = new Map<number, Tensor>();
    const source = (v: number): Tensor => {
      if (inside.has(v)) return twin.get(v)!;
      const info = graph.values[v];
      if (info.dtype === 'bool' || isLeafOp(graph.nodes[info.node].op)) return b.tensor(v);
      let t = delayed.get(v);
      if (!t) delayed.set(v, (t = lift(b.tensor(v))));
      return t;
    };
    for (const n of nodes) {
      const outs = b.apply(n.op, n.params, n.inputs.map(source), `recompute.${n.name.replace(/\//g, '.')}`);
      n.outputs.forEach((v, k) => twin.set(v, outs[k]));
    }
  });
}
