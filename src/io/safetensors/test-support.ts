// Test-only helpers shared by the safetensors tests: fixture paths, temporary folders, error assertions.
// Not exported from index.ts.

import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RoadsterError, type ErrorCode } from '../../errors.ts';

/** Absolute path of `test/fixtures/peft/<parts>`. */
export function peftFixture(...parts: string[]): string {
  return path.join(fileURLToPath(new URL('../../../test/fixtures/peft/', import.meta.url)), ...parts);
}

/** Run `body` with a fresh folder under os.tmpdir(), removed afterwards whatever happens. */
export async function withTempDir<T>(body: (folder: string) => T | Promise<T>): Promise<T> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'roadster-safetensors-'));
  try {
    return await body(folder);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

/** Assert that `fn` throws a RoadsterError with `code` whose message contains every fragment. */
export function assertRoadsterError(fn: () => unknown, code: ErrorCode, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected a RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    return true;
  });
}

/** Hex sha256 of bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
