// The output folder of `roadster train`: checked before anything is written (a folder holding a run is never
// clobbered without --resume, and --resume needs a checkpoint; a folder in use by another run is refused), then
// created, probed for writing and locked (out-lock.ts); until the run starts, what was created can be rolled
// back, so a bad input leaves nothing behind. A run that stopped before its first checkpoint left only
// metrics.jsonl (and partial checkpoint folders): it is started again in place, with or without --resume.

import { existsSync, mkdirSync, readdirSync, rmSync, type Stats, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINTS_DIR } from '../../train/checkpoint.ts';
import { CURVE_FILE, METRICS_FILE, REPORT_FILE } from '../../train/trainer.ts';
import { usageError } from '../io.ts';
import { checkUnlocked, lockOutDir, type OutDirLock } from './out-lock.ts';

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

/** What a run does with its output folder: start, start again over a run stopped before its first checkpoint, or resume. */
export type OutDirPlan =
  | { readonly mode: 'start' }
  | { readonly mode: 'restart'; readonly note: string }
  | { readonly mode: 'resume' };

/**
 * Checks `out` without writing: it must be a folder or not exist, and not be locked by a live run; without
 * `resume` it must not hold a run that reached a checkpoint; with `resume` it must hold a checkpoint, or a run
 * that stopped before its first (which then starts again).
 * @throws RoadsterError E_USAGE naming the folder and the fix; E_LOCKED when another run uses it
 */
export function checkOutDir(out: string, resume: boolean): OutDirPlan {
  const isDir = isFolder(out);
  if (isDir) checkUnlocked(out);
  const checkpoints = isDir ? checkpointNames(out) : [];
  const found = isDir ? [...RUN_FILES.filter((f) => existsSync(join(out, f))), ...(checkpoints.length > 0 ? [CHECKPOINTS_DIR] : [])] : [];
  // only metrics: the run was stopped before its first checkpoint, so nothing of it can be continued
  const interrupted = found.length > 0 && found.every((f) => f === METRICS_FILE);
  if (resume) {
    if (checkpoints.length > 0) return { mode: 'resume' };
    if (interrupted) {
      return { mode: 'restart', note: `--resume: ${out} has no checkpoint yet (the run stopped before its first one); starting the run from step 0.` };
    }
    throw usageError(`--resume: ${out} has no checkpoint (${join(out, CHECKPOINTS_DIR, 'step-NNNNNNNN')}) to continue from; ` +
      'run without --resume to start, with --save-every N to checkpoint during the run.');
  }
  if (interrupted) return { mode: 'restart', note: `${out} holds a run that stopped before its first checkpoint (${METRICS_FILE} only); starting it again in place.` };
  if (found.length > 0) {
    throw usageError(`--out ${out} already holds a run (${found.join(', ')}); pass --resume to continue it, ` +
      'or choose another folder.');
  }
  return { mode: 'start' };
}

/** Removes what a run stopped before its first checkpoint left (metrics and partial checkpoint folders). */
export function clearInterruptedRun(out: string): void {
  rmSync(join(out, METRICS_FILE), { force: true });
  if (checkpointNames(out).length === 0) rmSync(join(out, CHECKPOINTS_DIR), { recursive: true, force: true });
}

/** The locked output folder: `rollback` undoes what `prepareOutDir` created while the run has not started. */
export interface OutDirGuard {
  readonly lock: OutDirLock;
  rollback(): void;
}

/**
 * Creates `out` (and missing parents), writes and deletes a probe file in it, and takes its lock.
 * @param note receives a line when a stale lock is taken over
 * @throws RoadsterError E_USAGE "cannot write to ..." when it cannot; E_LOCKED when another run holds the lock
 */
export function prepareOutDir(out: string, note: (line: string) => void): OutDirGuard {
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
  let lock: OutDirLock;
  try {
    lock = lockOutDir(out, note);
  } catch (error) {
    if (created !== undefined) rmSync(created, { recursive: true, force: true });
    throw error;
  }
  return {
    lock,
    rollback: () => {
      lock.release();
      if (created !== undefined) rmSync(created, { recursive: true, force: true });
      else if (!cacheExisted) rmSync(cache, { recursive: true, force: true });
    },
  };
}
