// Symbolic dimensions. A dimension is a number or a polynomial with integer coefficients over named symbols
// (`B`, `T`, `B*T`, `T-1`), kept in one canonical string form so that equal sizes compare equal as strings.
// Symbols are bound at run time from the shapes of the graph inputs that introduce them.

import { RoadsterError } from '../errors.ts';

/** A dimension: a non-negative integer, or a canonical symbolic polynomial such as "B", "B*T" or "T-1". */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** monomial key ("" for the constant term, else sorted symbols joined by "*") → integer coefficient. */
type Poly = Map<string, number>;

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parse(dim: Dim): Poly {
  const poly: Poly = new Map();
  if (typeof dim === 'number') {
    if (!Number.isInteger(dim)) throw new RoadsterError('E_SHAPE', `dimension ${dim} is not an integer`);
    if (dim !== 0) poly.set('', dim);
    return poly;
  }
  const text = dim.replace(/\s+/g, '');
  if (text === '') throw new RoadsterError('E_SHAPE', 'empty symbolic dimension');
  // Split into signed terms: "2*B*T-T+3" → ["2*B*T", "-T", "+3"].
  const terms = text.match(/[+-]?[^+-]+/g);
  if (!terms || terms.join('') !== text) throw new RoadsterError('E_SHAPE', `cannot parse dimension "${dim}"`);
  for (const term of terms) {
    let sign = 1;
    let body = term;
    if (body.startsWith('+')) body = body.slice(1);
    else if (body.startsWith('-')) {
      sign = -1;
      body = body.slice(1);
    }
    let coeff = sign;
    const symbols: string[] = [];
    for (const factor of body.split('*')) {
      if (/^\d+$/.test(factor)) coeff *= Number(factor);
      else if (SYMBOL.test(factor)) symbols.push(factor);
      else throw new RoadsterError('E_SHAPE', `cannot parse dimension "${dim}": bad factor "${factor}"`);
    }
    addTerm(poly, symbols.sort().join('*'), coeff);
  }
  return poly;
}

function addTerm(poly: Poly, key: string, coeff: number): void {
  const next = (poly.get(key) ?? 0) + coeff;
  if (next === 0) poly.delete(key);
  else poly.set(key, next);
}

function degree(key: string): number {
  return key === '' ? 0 : key.split('*').length;
}

function format(poly: Poly): Dim {
  const keys = [...poly.keys()].sort((a, b) => degree(b) - degree(a) || (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return 0;
  if (keys.length === 1 && keys[0] === '') return poly.get('')!;
  let out = '';
  for (const key of keys) {
    const c = poly.get(key)!;
    const magnitude = Math.abs(c);
    const body = key === '' ? String(magnitude) : magnitude === 1 ? key : `${magnitude}*${key}`;
    out += c < 0 ? `-${body}` : out === '' ? body : `+${body}`;
  }
  return out;
}

/** Canonical form of a dimension written by a user ("T" stays "T", "1*T+0" becomes "T", "3" becomes 3). */
export function dim(d: Dim): Dim {
  return format(parse(d));
}

export function isStaticDim(d: Dim): d is number {
  return typeof d === 'number';
}

export function isStaticShape(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const p = parse(a);
  for (const [k, c] of parse(b)) addTerm(p, k, c);
  return format(p);
}

export function dimSub(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const p = parse(a);
  for (const [k, c] of parse(b)) addTerm(p, k, -c);
  return format(p);
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const out: Poly = new Map();
  for (const [ka, ca] of parse(a)) {
    for (const [kb, cb] of parse(b)) {
      const key = [...(ka ? ka.split('*') : []), ...(kb ? kb.split('*') : [])].sort().join('*');
      addTerm(out, key, ca * cb);
    }
  }
  return format(out);
}

/** Exact quotient a / b, or undefined when it is not a polynomial (or b is zero). */
export function dimDivExact(a: Dim, b: Dim): Dim | undefined {
  const pa = parse(a);
  const pb = parse(b);
  if (pb.size !== 1) return pa.size === 0 ? 0 : dimEqual(a, b) ? 1 : undefined;
  const [[kb, cb]] = [...pb];
  const divisor = kb ? kb.split('*') : [];
  const out: Poly = new Map();
  for (const [ka, ca] of pa) {
    if (ca % cb !== 0) return undefined;
    const rest = ka ? ka.split('*') : [];
    for (const s of divisor) {
      const i = rest.indexOf(s);
      if (i < 0) return undefined;
      rest.splice(i, 1);
    }
    addTerm(out, rest.join('*'), ca / cb);
  }
  return format(out);
}

export function dimEqual(a: Dim, b: Dim): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  return dim(a) === dim(b);
}

export function shapeEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEqual(d, b[i]));
}

/** Product of dimensions (1 for a scalar). */
export function dimProduct(shape: Shape): Dim {
  let acc: Dim = 1;
  for (const d of shape) acc = dimMul(acc, d);
  return acc;
}

/** Symbols a dimension mentions, sorted. */
export function dimSymbols(d: Dim): string[] {
  const out = new Set<string>();
  for (const key of parse(d).keys()) for (const s of key ? key.split('*') : []) out.add(s);
  return [...out].sort();
}

/** Monomials of a dimension, for lowering: [coefficient, symbols] pairs (symbols empty for the constant). */
export function dimTerms(d: Dim): [number, string[]][] {
  return [...parse(d)].map(([k, c]) => [c, k ? k.split('*') : []]);
}

/** Value of a dimension under a binding of its symbols. */
export function evalDim(d: Dim, env: ReadonlyMap<string, number>): number {
  if (typeof d === 'number') return d;
  let total = 0;
  for (const [c, symbols] of dimTerms(d)) {
    let term = c;
    for (const s of symbols) {
      const v = env.get(s);
      if (v === undefined) throw new RoadsterError('E_SHAPE', `symbolic dimension "${s}" in "${d}" is not bound`);
      term *= v;
    }
    total += term;
  }
  return total;
}

export function evalShape(shape: Shape, env: ReadonlyMap<string, number>): number[] {
  return shape.map((d) => evalDim(d, env));
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
