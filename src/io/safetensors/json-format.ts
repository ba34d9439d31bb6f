// Byte-exact JSON text as the Python side writes it: string ordering as Rust and Python compare strings (by
// code point, i.e. UTF-8 byte order, not JS's UTF-16 order) and `json.dumps(obj, indent=2, sort_keys=True)`
// with its default `ensure_ascii=True`, which transformers uses for `model.safetensors.index.json`.

/** Compare two strings by Unicode code point, as Rust's `str::cmp` and Python's `str` comparison do. */
export function compareCodePoints(a: string, b: string): number {
  // code point by code point (no Buffer: a browser tab has none); UTF-8 byte order is code point order
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return i < a.length ? 1 : j < b.length ? -1 : 0;
}

/** True when `text` has no unpaired UTF-16 surrogate, so that it has an exact UTF-8 encoding. */
export function isWellFormedUnicode(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

const PYTHON_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** A string literal as Python's `json.dumps` writes it with `ensure_ascii=True`. */
function pythonJsonString(text: string): string {
  // Every code unit outside printable ASCII (space to '~') is escaped; astral characters become surrogate pairs.
  const escape = (c: string): string => PYTHON_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  const body = text.replace(/[^ -~]|["\\]/g, escape);
  return `"${body}"`;
}

/** JSON values `pythonJsonDumps` can write. Numbers must be safe integers (Python would write floats with repr). */
export type PythonJson =
  | string
  | number
  | boolean
  | null
  | readonly PythonJson[]
  | { readonly [key: string]: PythonJson };

/**
 * The text of Python's `json.dumps(value, indent=indent, sort_keys=True)`: items separated by ",", keys by ": ",
 * one item per line, empty containers as `{}` / `[]`, non-ASCII escaped.
 */
export function pythonJsonDumps(value: PythonJson, indent = 2, depth = 0): string {
  const pad = (level: number): string => `\n${' '.repeat(indent * level)}`;
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return pythonJsonString(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`roadster internal error: cannot write ${value} as Python would`);
    return String(value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((item: PythonJson) => pad(depth + 1) + pythonJsonDumps(item, indent, depth + 1));
    return `[${items.join(',')}${pad(depth)}]`;
  }
  const keys = Object.keys(value).sort(compareCodePoints);
  if (keys.length === 0) return '{}';
  const object = value as { readonly [key: string]: PythonJson };
  const items = keys.map(
    (key) => `${pad(depth + 1)}${pythonJsonString(key)}: ${pythonJsonDumps(object[key], indent, depth + 1)}`,
  );
  return `{${items.join(',')}${pad(depth)}}`;
}
