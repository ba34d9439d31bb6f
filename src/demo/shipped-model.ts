// The base models that ship with roadster: models/roadster-base (pretrained by scripts/pretrain) and
// models/roadster-base-email (the same model after continued pretraining on the demo's training e-mails,
// scripts/pretrain/adapt-email.ts; `roadster demo` fine-tunes it): where they are, and a check of a folder's
// files against its MANIFEST.json (sha256 of each file), so that a corrupted or partial copy is reported
// instead of silently giving a broken model.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../errors.ts';

/** The shipped model's folder inside the package. */
export const SHIPPED_MODEL_DIR = fileURLToPath(new URL('../../models/roadster-base', import.meta.url));
/** The base model of `roadster demo`: the shipped model after continued pretraining on e-mail text. */
export const EMAIL_MODEL_DIR = fileURLToPath(new URL('../../models/roadster-base-email', import.meta.url));
export const MANIFEST_FILE = 'MANIFEST.json';

/** How to get a folder back: it ships in the npm package and in the repository. */
const restore = (dir: string): string => `reinstall roadster, or in a git checkout run git checkout -- models/${basename(dir)}`;

/** Throws E_WEIGHTS naming the file when the folder does not match its manifest. */
export function verifyShippedModel(dir: string): void {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    throw new RoadsterError('E_NOT_FOUND', `${manifestPath} is missing: the shipped model folder is incomplete; ${restore(dir)}`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, string> };
  for (const [file, sha256] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new RoadsterError('E_NOT_FOUND', `${path} is missing; ${restore(dir)}`);
    const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (actual !== sha256) {
      throw new RoadsterError('E_WEIGHTS', `${path} is corrupted (sha256 ${actual}, expected ${sha256}); ${restore(dir)}`);
    }
  }
}
