// The output folder of `roadster train`: checked before anything is written (a folder holding a run is never
// clobbered without --resume, and --resume needs a checkpoint), then created and probed for writing; until the
// run starts, what was created can be rolled back, so a bad input leaves nothing behind.

import { existsSync, mkdirSync, readdirSync, rmSync, type Stats, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINTS_DIR } from '../../train/checkpoint.ts';
import { CURVE_FILE, METRICS_FILE, REPORT_FILE } from '../../train/trainer.ts';
import { usageError } from '../io.ts';

/** The token cache's folder inside the output folder. */
export const CACHE_DIR = '.cache';

/** Files whose presence means the folder holds a run (a finished one, or one that wrote metrics). */
const RUN_FILES = ['adapter_config.json', 'adapter_model.safetensors', METRICS_FILE, REPORT_FILE, CURVE_FILE];
const STEP_DIR = /^step-\d{8}$/;

function checkpointNames(out: string): string[] {
  const root = join(out, CHECKPOINTS_DIR);
  if (!existsSync(root)) return [];
  try {
    return readdirSync(root).filter((n) => STEP_DIR.test(n));
  } catch {
    return [];
  }
}

/** True for a folder, false when nothing is there; a usage error for a file or a path through one. */
function isFolder(out: string): boolean {
  let stats: Stats;
  try {
    stats = statSync(out);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    const why = code === 'ENOTDIR' ? 'a part of the path is a file, not a folder' : (error as Error).message;
    throw usageError(`cannot write to ${out}: ${why}; choose another --out.`);
  }
  if (!stats.isDirectory()) throw usageError(`cannot write to ${out}: it is a file, not a folder; choose another --out.`);
  return true;
}

/**
 * Checks `out` without writing: it must be a folder or not exist; without `resume` it must not hold a run;
 * with `resume` it must hold a checkpoint.
 * @throws RoadsterError E_USAGE naming the folder and the fix
 */
export function checkOutDir(out: string, resume: boolean): void {
  const isDir = isFolder(out);
  const checkpoints = isDir ? checkpointNames(out) : [];
  if (resume) {
    if (checkpoints.length === 0) {
      throw usageError(`--resume: ${out} has no checkpoint (${join(out, CHECKPOINTS_DIR, 'step-NNNNNNNN')}) to continue from; ` +
        'run without --resume to start, with --save-every N to checkpoint during the run.');
    }
    return;
  }
  const found = isDir ? [...RUN_FILES.filter((f) => existsSync(join(out, f))), ...(checkpoints.length > 0 ? [CHECKPOINTS_DIR] : [])] : [];
  if (found.length > 0) {
    throw usageError(`--out ${out} already holds a run (${found.join(', ')}); pass --resume to continue it, ` +
      'or choose another folder.');
  }
}

/** Undoes what `prepareOutDir` created, while the run has not started. */
export interface OutDirGuard {
  rollback(): void;
}

/**
 * Creates `out` (and missing parents) and writes and deletes a probe file in it.
 * @throws RoadsterError E_USAGE "cannot write to ..." when it cannot
 */
export function prepareOutDir(out: string): OutDirGuard {
  const cache = join(out, CACHE_DIR);
  const cacheExisted = existsSync(cache);
  let created: string | undefined;
  try {
    created = mkdirSync(out, { recursive: true });
    const probe = join(out, `.roadster-probe-${process.pid}`);
    writeFileSync(probe, 'probe');
    unlinkSync(probe);
  } catch (error) {
    if (created !== undefined) rmSync(created, { recursive: true, force: true });
    throw usageError(`cannot write to ${out}: ${(error as Error).message}. Choose a writable --out.`);
  }
  return {
    rollback: () => {
      if (created !== undefined) rmSync(created, { recursive: true, force: true });
      else if (!cacheExisted) rmSync(cache, { recursive: true, force: true });
    },
  };
}
