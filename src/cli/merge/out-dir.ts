// The output folder of `roadster merge`. The merged model is written into a hidden sibling folder and swapped in
// by renames, so `--out` holds either what it held before or the complete new model. `--force` replaces only a
// folder that an earlier merge wrote (it holds MERGE_MARKER) and never the base model or the adapter folder;
// a user's folder is refused. Temporary folders are removed on failure.

import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, type Stats, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { usageError } from '../io.ts';
import { writeError } from '../fs-errors.ts';

/** The file every merged-model folder holds: what was merged, so --force can recognise the folder. */
export const MERGE_MARKER = 'roadster-merge.json';

/** What MERGE_MARKER holds. */
export interface MergeMarker {
  readonly tool: 'roadster merge';
  readonly model: string;
  readonly adapter: string;
}

function statOrNull(path: string, flag: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw writeError(error, path, flag);
  }
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** True when `inner` is `outer` or inside it. */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function isMergedFolder(out: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(join(out, MERGE_MARKER), 'utf8')) as Partial<MergeMarker>;
    return marker.tool === 'roadster merge';
  } catch {
    return false;
  }
}

/**
 * Checks `out` before anything is loaded or written: it must not be (or contain, or lie inside) the base model
 * folder or the adapter folder; a file is refused; a non-empty folder needs `force` and must be a merged model.
 * @throws RoadsterError E_USAGE naming the folder and the fix
 */
export function checkMergeOut(out: string, model: string, adapter: string, force: boolean): void {
  const target = realOrResolved(out);
  for (const [flag, path] of [['--model', model], ['--adapter', adapter]] as const) {
    if (!existsSync(path)) continue; // a Hub id
    const other = realOrResolved(path);
    if (within(target, other) || within(other, target)) {
      const what = flag === '--model' ? 'the base model folder' : 'the adapter folder';
      throw usageError(`--out ${out} is ${what} (${flag} ${path}) or shares files with it; roadster never writes there. Choose another --out.`);
    }
  }
  const stats = statOrNull(out, '--out');
  if (stats === null) return;
  if (!stats.isDirectory()) throw usageError(`--out ${out} is a file, not a folder; choose another --out (merge writes a model folder).`);
  if (readdirSync(out).length === 0) return;
  if (!force) throw usageError(`--out ${out} exists and is not empty; choose another folder or pass --force to replace it.`);
  if (!isMergedFolder(out)) {
    throw usageError(`--force: ${out} is not a model folder that roadster merge wrote (it has no ${MERGE_MARKER}), so it is left as it is; ` +
      'choose another --out, or empty or remove that folder yourself.');
  }
}

/** A folder being written next to `out`, swapped in by `commit` or removed by `discard`. */
export interface StagedDir {
  readonly path: string;
  commit(): void;
  discard(): void;
}

/**
 * Creates a hidden sibling of `out` to write into (and the parent folders of `out`).
 * @throws RoadsterError E_USAGE when the parent cannot be written
 */
export function stageMergeOut(out: string): StagedDir {
  const parent = dirname(resolve(out));
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const path = join(parent, `.${basename(out)}.roadster-tmp-${tag}`);
  let createdParent: string | undefined;
  try {
    createdParent = mkdirSync(parent, { recursive: true });
    mkdirSync(path);
  } catch (error) {
    if (createdParent !== undefined) rmSync(createdParent, { recursive: true, force: true });
    throw writeError(error, out, '--out');
  }
  const discard = () => {
    rmSync(path, { recursive: true, force: true });
    if (createdParent !== undefined) rmSync(createdParent, { recursive: true, force: true });
  };
  return {
    path,
    discard,
    commit: () => {
      const old = join(parent, `.${basename(out)}.roadster-old-${tag}`);
      const replacing = lstatSync(out, { throwIfNoEntry: false }) !== undefined;
      try {
        if (replacing) renameSync(out, old);
        try {
          renameSync(path, out);
        } catch (error) {
          if (replacing) renameSync(old, out);
          throw error;
        }
      } catch (error) {
        discard();
        throw writeError(error, out, '--out');
      }
      createdParent = undefined;
      if (replacing) rmSync(old, { recursive: true, force: true });
    },
  };
}
