// Text form of a graph for debugging and snapshot tests: one line per node,
//   %7: float32[B, T, 64] = MatMul(%3, %5) {transA: false, transB: true}  # layers.0/q_proj
// Leaf data is summarised, never printed in full.

import { formatShape } from './dim.ts';
import type { Graph, Node } from './ir.ts';
import { Op } from './ops.ts';

function formatParams(node: Node): string {
  const entries = Object.entries(node.params as Record<string, unknown>).filter(([k]) => k !== 'data');
  if (node.op === Op.Input || node.op === Op.Initializer) return `"${(node.params as { name: string }).name}"`;
  if (entries.length === 0) return '';
  const body = entries
    .filter(([k]) => !(node.op === Op.Constant && (k === 'dtype' || k === 'shape')))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? formatShape(v) : String(v)}`)
    .join(', ');
  return body ? `{${body}}` : '';
}

function formatConstant(node: Node<Op.Constant>): string {
  const { data } = node.params;
  const head = Array.from(data.slice(0, 4) as ArrayLike<number | bigint>, String).join(', ');
  return data.length <= 4 ? `[${head}]` : `[${head}, ... (${data.length})]`;
}

/** Prints a graph as text. */
export function printGraph(graph: Graph): string {
  const lines: string[] = [];
  for (const node of graph.nodes) {
    const outs = node.outputs
      .map((v) => `%${v}: ${graph.values[v].dtype}${formatShape(graph.values[v].shape)}`)
      .join(', ');
    const args = node.inputs.map((v) => `%${v}`).join(', ');
    const extra = node.op === Op.Constant ? formatConstant(node as Node<Op.Constant>) : formatParams(node);
    lines.push(`${outs} = ${node.op}(${args})${extra ? ' ' + extra : ''}  # ${node.name}`);
  }
  for (const o of graph.outputs) lines.push(`output ${o.name} = %${o.value}`);
  return lines.join('\n');
}
