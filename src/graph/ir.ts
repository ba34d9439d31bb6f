// The graph value: an immutable list of nodes in topological order, the values they produce and the named
// outputs. Builders (the tracer, autodiff) create graphs; lowering and the runtime only read them.

import type { DType } from './dtype.ts';
import type { Shape } from './dim.ts';
import { Op, type OpParams } from './ops.ts';

/** A node: one op applied to input values, producing output values. */
export interface Node<O extends Op = Op> {
  readonly id: number;
  readonly op: O;
  readonly params: OpParams[O];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Unique, readable name (e.g. "model.layers.0.self_attn.q_proj/MatMul"). */
  readonly name: string;
  /**
   * Backward stage (e.g. one decoder layer): autodiff finishes the parameter gradients of one stage before the
   * backward pass enters the next, so ONNX Runtime does not keep a stage's tensors alive for late reductions.
   */
  readonly region?: number;
  /** The stage is also a recomputation region (activation checkpointing): its nodes are recomputed in backward. */
  readonly recompute?: boolean;
  /** Created by a VJP rule: the node computes cotangents (the backward pass proper, not recomputed forward). */
  readonly cotangent?: boolean;
}

/** A value: one output of one node, with its inferred dtype and (possibly symbolic) shape. */
export interface ValueInfo {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  /** The producing node and which of its outputs this is. */
  readonly node: number;
  readonly index: number;
}

export interface GraphOutput {
  readonly name: string;
  readonly value: number;
}

/** An immutable traced graph. */
export interface Graph {
  readonly nodes: readonly Node[];
  readonly values: readonly ValueInfo[];
  readonly outputs: readonly GraphOutput[];
}

/** Narrows a node to a specific op. */
export function isOp<O extends Op>(node: Node, op: O): node is Node<O> {
  return node.op === op;
}

/** The Input nodes of a graph, in trace order. */
export function graphInputs(graph: Graph): Node<Op.Input>[] {
  return graph.nodes.filter((n): n is Node<Op.Input> => isOp(n, Op.Input));
}

/** The Initializer nodes of a graph, in trace order. */
/** Ids of the nodes that the outputs depend on (dead-code elimination), in topological order. */
export function liveNodes(graph: Graph, outputs: readonly number[] = graph.outputs.map((o) => o.value)): Node[] {
  const live = new Set<number>();
  const stack = outputs.map((v) => graph.values[v].node);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    for (const v of graph.nodes[id].inputs) stack.push(graph.values[v].node);
  }
  return graph.nodes.filter((n) => live.has(n.id));
}
