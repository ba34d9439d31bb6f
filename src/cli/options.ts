// Parsers for CLI flag values, used as commander's argument parsers: a bad value is a usage error that names
// the flag, what it expected and what it got.

import { InvalidArgumentError, Option } from 'commander';
import type { FloatDtype } from '../io/safetensors/index.ts';
import { QUANTIZE_WEIGHTS } from '../runtime/quantize-weights.ts';

/** `--flag N` with N an integer >= `min`. */
export function intAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}".`);
    }
    return n;
  };
}

/** `--flag X` with X a finite number (ranges are checked where the value is used, with the flag's name). */
export function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}".`);
  return n;
}

/** A repeatable flag: each occurrence appends to the list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--ids 1,2,3`: a comma-separated list of non-negative token ids. */
export function tokenIdList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || !Number.isSafeInteger(Number(p)))) {
    throw new InvalidArgumentError(`expected comma-separated token ids such as "1,5,9", got "${value}".`);
  }
  return parts.map(Number);
}

/** `--quantize none|int8|int8-all`: how the frozen weights of matmuls run (RuntimeOptions.quantizeWeights). */
export function quantizeOption(): Option {
  return new Option('--quantize <q>', 'frozen matmul weights: none (float32), int8 (int8 forward products), int8-all (backward too, but the head gradient; fastest, validate the fit)')
    .choices(QUANTIZE_WEIGHTS)
    .default('none');
}

/** Storage dtypes a preset folder may use (`--dtype` of `preset write` and `bench forward`). */
export const PRESET_DTYPES = ['BF16', 'F16', 'F32'] as const satisfies readonly FloatDtype[];
export type PresetDtype = (typeof PRESET_DTYPES)[number];
