// The emitter context that lowering rules write ONNX nodes through. It owns naming (ONNX names derive from the
// unique IR node names so dumps line up with the IR), constant and runtime-dimension caches, the initializer
// list and the symbol bindings (which graph input axis carries each symbolic dimension). It emits whatever op
// types rules ask for and names none itself: ONNX op-type strings live in the lowering rule files only.

import { RoadsterError } from '../../errors.ts';
import type { DType, HostArray } from '../dtype.ts';
import { allocHostArray } from '../dtype.ts';
import { type Shape, formatShape } from '../dim.ts';
import type { Graph, Node, ValueInfo } from '../ir.ts';
import { Op, type OpParams } from '../ops.ts';
import { type Attrs, type NodeProto, type TensorProto, type ValueInfoProto, encodeAttrs, tensorProto, valueInfo } from './proto.ts';

/** Where a symbolic dimension is read from at run time: an axis of a graph input. */
export interface SymbolSource {
  readonly input: string;
  readonly axis: number;
}

/** What a lowering may emit, by the runtime that will run the model. */
export interface LowerOptions {
  /**
   * Use ONNX Runtime's contrib operators (com.microsoft: FusedMatMul, MatMulIntegerToFloat,
   * DynamicQuantizeMatMul) where they are faster (default true). false lowers to standard ONNX operators only
   * (Transpose + MatMul, MatMulInteger + Cast + Mul, DynamicQuantizeLinear), for runtimes without them.
   */
  readonly contribOps?: boolean;
}

/** Emitter state for lowering one graph; rules see it positioned on the IR node being lowered. */
export class LowerContext {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Shapes of temporaries that multi-node lowerings declare (the IR values' shapes are declared by lowerToOnnx). */
  readonly declared: ValueInfoProto[] = [];
  private readonly valueNames = new Map<number, string>();
  private readonly usedValueNames = new Set<string>();
  private readonly usedNodeNames = new Set<string>();
  private readonly cache = new Map<string, string>();
  private readonly symbols = new Map<string, SymbolSource>();
  private current: Node | undefined;
  /** Operator domains other than the default one that emitted nodes use (e.g. "com.microsoft"). */
  readonly domains = new Set<string>();
  private readonly memos = new Map<string, unknown>();
  private prefix: string | undefined;

  constructor(
    readonly graph: Graph,
    /** What the lowering may emit (see `LowerOptions`). */
    readonly options: Required<LowerOptions> = { contribOps: true },
  ) {
    for (const n of graph.nodes) {
      if (n.op !== Op.Input) continue;
      const p = n.params as OpParams[Op.Input];
      this.claimValue(n.outputs[0], p.name);
      p.shape.forEach((d, axis) => {
        if (typeof d === 'string' && !this.symbols.has(d)) this.symbols.set(d, { input: p.name, axis });
      });
    }
  }

  /** Gives an IR value a fixed ONNX name (graph inputs and outputs); throws if the name is taken. */
  claimValue(value: number, name: string): void {
    if (this.usedValueNames.has(name)) throw new RoadsterError('E_ONNX', `ONNX value name "${name}" is used twice`);
    this.usedValueNames.add(name);
    this.valueNames.set(value, name);
  }

  /** Reserves a name so that no generated value takes it. */
  reserve(name: string): void {
    this.usedValueNames.add(name);
  }

  /** The ONNX name of an IR value; named after its node (`node` or `node:i`) on first use. */
  valueName(value: number): string {
    let name = this.valueNames.get(value);
    if (name === undefined) {
      const info = this.graph.values[value];
      const node = this.graph.nodes[info.node];
      name = this.unique(node.outputs.length === 1 ? node.name : `${node.name}:${info.index}`);
      this.valueNames.set(value, name);
    }
    return name;
  }

  /** Positions the context on an IR node; rules then read its inputs and outputs. */
  enter(node: Node): void {
    this.current = node;
  }

  get node(): Node {
    if (!this.current) throw new Error('roadster internal error: lowering context is not on a node');
    return this.current;
  }

  /** ONNX names of the current node's inputs / outputs. */
  get inputs(): string[] {
    return this.node.inputs.map((v) => this.valueName(v));
  }
  get outputs(): string[] {
    return this.node.outputs.map((v) => this.valueName(v));
  }
  inType(i: number): ValueInfo {
    return this.graph.values[this.node.inputs[i]];
  }
  outType(i = 0): ValueInfo {
    return this.graph.values[this.node.outputs[i]];
  }

  /** A fresh value name derived from the current node (or cache entry) name. */
  temp(hint: string): string {
    return this.unique(`${this.base()}/${hint}`);
  }

  /**
   * Appends one ONNX node. `outputs` gives the output names, or how many fresh temporaries to create (default
   * one); returns the output names. The node is named after the IR node when it writes one of its outputs.
   */
  emit(opType: string, inputs: readonly string[], attrs: Attrs = {}, outputs: readonly string[] | number = 1, domain = ''): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.temp(opType)) : [...outputs];
    const irOutputs = this.current && !this.prefix ? new Set(this.outputs) : new Set<string>();
    const base = outs.some((o) => irOutputs.has(o)) ? this.base() : `${this.base()}/${opType}`;
    let name = base;
    for (let i = 1; this.usedNodeNames.has(name); i++) name = `${base}_${i}`;
    this.usedNodeNames.add(name);
    const node: NodeProto = { name, opType, input: [...inputs], output: outs };
    if (domain !== '') {
      node.domain = domain;
      this.domains.add(domain);
    }
    if (Object.keys(attrs).length > 0) node.attribute = encodeAttrs(attrs);
    this.nodes.push(node);
    return outs;
  }

  /** The data of input `i` when a weight or literal produces it, else undefined. */
  leafInput(i: number): { readonly name: string; readonly shape: readonly number[]; readonly data: HostArray } | undefined {
    const producer = this.graph.nodes[this.inType(i).node];
    if (producer.op === Op.Initializer) return producer.params as OpParams[Op.Initializer];
    if (producer.op === Op.Constant) {
      const p = producer.params as OpParams[Op.Constant];
      return { name: producer.name, shape: p.shape, data: p.data };
    }
    return undefined;
  }

  /**
   * Declares the shape of temporary `name` (symbolic dims by name) so that ONNX Runtime's shape inference need
   * not work it out (see lowerToOnnx); returns `name`.
   */
  declare(name: string, dtype: DType | 'uint8', shape: Shape): string {
    this.declared.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** A value computed once per lowering under `key` (e.g. a quantized weight shared by two matmuls). */
  memo<T>(key: string, build: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, build());
    return this.memos.get(key) as T;
  }

  /** Adds an initializer from a prepared TensorProto (element types beyond the graph dtypes, e.g. int8). */
  tensorInitializer(proto: TensorProto): string {
    this.initializers.push(proto);
    return proto.name!;
  }

  /** A fresh, unique value name for an initializer built from `hint`. */
  initializerName(hint: string): string {
    return this.unique(hint);
  }

  /** Adds an initializer (no copy of `data`); returns its name. */
  initializer(name: string, dtype: DType, shape: readonly number[], data: HostArray): string {
    this.initializers.push(tensorProto(name, dtype, shape, data));
    return name;
  }

  /** A cached int64 constant (1-D of `values` unless `shape` says otherwise). */
  constInt64(values: readonly number[], shape: readonly number[] = [values.length]): string {
    const key = `const/int64${formatShape(shape)}[${values.join(',')}]`;
    return this.cached(key, () => {
      const data = allocHostArray('int64', values.length);
      values.forEach((v, i) => (data[i] = BigInt(v)));
      return this.initializer(this.unique(values.length <= 8 ? key : `const/int64${formatShape(shape)}`), 'int64', shape, data);
    });
  }

  /** A cached rank-0 constant of `dtype`. */
  constScalar(dtype: DType, value: number): string {
    const text = Object.is(value, -0) ? '-0' : String(value);
    return this.cached(`const/${dtype}(${text})`, () => {
      const data = allocHostArray(dtype, 1);
      if (data instanceof BigInt64Array) data[0] = BigInt(value);
      else data[0] = value;
      return this.initializer(this.unique(`const/${dtype}(${text})`), dtype, [], data);
    });
  }

  /** A TensorProto of one element (ConstantOfShape's `value`). */
  scalarTensor(dtype: DType, value: number): TensorProto {
    const data = allocHostArray(dtype, 1);
    if (data instanceof BigInt64Array) data[0] = BigInt(value);
    else data[0] = value;
    return tensorProto('value', dtype, [1], data);
  }

  /**
   * The value `build` computes, emitted once per graph under `key` (a canonical string such as "dim(B*T)");
   * nodes and temporaries created inside are named after the key.
   */
  cached(key: string, build: () => string): string {
    let name = this.cache.get(key);
    if (name === undefined) {
      name = this.named(key, build);
      this.cache.set(key, name);
    }
    return name;
  }

  /** Runs `fn` with nodes and temporaries named after `prefix` instead of the current IR node. */
  named<T>(prefix: string, fn: () => T): T {
    const saved = this.prefix;
    this.prefix = prefix;
    try {
      return fn();
    } finally {
      this.prefix = saved;
    }
  }

  /** Which graph input axis binds a symbol; lowering fails if no input introduces it. */
  symbol(name: string): SymbolSource {
    const source = this.symbols.get(name);
    if (!source) {
      throw new RoadsterError(
        'E_ONNX',
        `${this.current?.name ?? 'graph'}: symbolic dimension "${name}" is not the plain dimension of any graph input; ` +
          `declare an input with "${name}" in its shape`,
      );
    }
    return source;
  }

  private base(): string {
    return this.prefix ?? this.node.name;
  }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.usedValueNames.has(name); i++) name = `${base}_${i}`;
    this.usedValueNames.add(name);
    return name;
  }
}
