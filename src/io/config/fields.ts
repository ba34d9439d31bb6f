// Typed readers for the fields of a JSON config file (config.json, generation_config.json). Every failure is an
// E_CONFIG error that names the file and the field, says what was expected and what was found, so that a user
// can fix the file by hand. Follows the defaults-then-validate pattern of transformers' PretrainedConfig.

import { RoadsterError } from '../../errors.ts';

/** Short, printable description of a JSON value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  const text = JSON.stringify(value);
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return `${shown} (${Array.isArray(value) ? 'array' : typeof value})`;
}

/** Returns `value` as a plain JSON object, or throws E_CONFIG naming `what`. */
export function asObject(value: unknown, file: string, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RoadsterError(
      'E_CONFIG',
      `${file}: ${what} must be a JSON object, found ${describeValue(value)}.`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Reads fields of one JSON object. A field that is missing or `null` takes the given default (transformers
 * treats an explicit `null` like an absent key for these fields); a field without a default is required.
 */
export class FieldReader {
  readonly obj: Record<string, unknown>;
  readonly file: string;
  /** Prefix for field names in messages, e.g. `rope_scaling.` for nested objects. */
  readonly prefix: string;

  constructor(value: unknown, file: string, prefix = '') {
    this.obj = asObject(value, file, prefix === '' ? 'the file' : `field "${prefix.slice(0, -1)}"`);
    this.file = file;
    this.prefix = prefix;
  }

  /** True when the field is present and not null. */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  /** Throws the standard E_CONFIG error for `key`. */
  fail(key: string, expected: string, hint = ''): never {
    const found = describeValue(this.obj[key]);
    const fix = hint === '' ? '' : ` ${hint}`;
    throw new RoadsterError(
      'E_CONFIG',
      `${this.file}: field "${this.prefix}${key}" must be ${expected}, found ${found}.${fix}`,
    );
  }

  private pick<T>(key: string, fallback: T | undefined, expected: string): unknown {
    if (this.has(key)) return this.obj[key];
    if (fallback !== undefined) return fallback;
    return this.fail(key, expected, 'The field is required.');
  }

  /** An integer >= `min` (default 1). */
  int(key: string, fallback?: number, min = 1): number {
    const expected = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
    const v = this.pick(key, fallback, expected);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) return this.fail(key, expected);
    return v;
  }

  /** A finite number > 0. */
  positive(key: string, fallback?: number): number {
    const v = this.pick(key, fallback, 'a positive number');
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return this.fail(key, 'a positive number');
    return v;
  }

  /** A boolean. */
  bool(key: string, fallback?: boolean): boolean {
    const v = this.pick(key, fallback, 'true or false');
    if (typeof v !== 'boolean') return this.fail(key, 'true or false');
    return v;
  }

  /** A string. */
  string(key: string, fallback?: string): string {
    const v = this.pick(key, fallback, 'a string');
    if (typeof v !== 'string') return this.fail(key, 'a string');
    return v;
  }

  /** A non-negative integer, or null when missing or null. */
  tokenId(key: string): number | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return this.fail(key, 'a token id (integer >= 0)');
    return v;
  }

  /** A token id or a non-empty list of token ids (e.g. `eos_token_id`), or null when missing. */
  tokenIds(key: string): number | readonly number[] | null {
    if (!this.has(key)) return null;
    const v = this.obj[key];
    const isId = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
    if (isId(v)) return v;
    if (Array.isArray(v) && v.length > 0 && v.every(isId)) return Object.freeze([...v]);
    return this.fail(key, 'a token id or a non-empty list of token ids');
  }
}
