// The base model that ships with roadster (models/roadster-base, pretrained by scripts/pretrain): where it is,
// and a check of its files against MANIFEST.json (sha256 of each file), so that a corrupted or partial copy
// is reported instead of silently giving a broken model.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../errors.ts';

/** The shipped model's folder inside the package. */
export const SHIPPED_MODEL_DIR = fileURLToPath(new URL('../../models/roadster-base', import.meta.url));
export const MANIFEST_FILE = 'MANIFEST.json';

/** How to get the folder back: it ships in the npm package and in the repository. */
const RESTORE = 'reinstall roadster, or in a git checkout run git checkout -- models/roadster-base';

/** Throws E_WEIGHTS naming the file when the folder does not match its manifest. */
export function verifyShippedModel(dir: string): void {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new RoadsterError('E_NOT_FOUND', `${manifestPath} is missing: the shipped model folder is incomplete; ${RESTORE}`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, string> };
  for (const [file, sha256] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new RoadsterError('E_NOT_FOUND', `${path} is missing; ${RESTORE}`);
    const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (actual !== sha256) {
      throw new RoadsterError('E_WEIGHTS', `${path} is corrupted (sha256 ${actual}, expected ${sha256}); ${RESTORE}`);
    }
  }
}
