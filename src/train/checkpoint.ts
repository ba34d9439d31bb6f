// Training checkpoints, written so that a crash at any moment (kill -9 included) never leaves a checkpoint that
// looks valid but is not: files go into a hidden temporary folder, each fsync'd; MANIFEST.json (sha256 of every
// file) is written last; the folder is renamed to `step-NNNNNNNN` and the parent fsync'd. Loading takes the
// newest checkpoint whose manifest matches its files and reports the ones it had to pass over.

import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { RoadsterError } from '../errors.ts';
import { openSafetensors, writeFileAtomically, writeSafetensors } from '../io/safetensors/index.ts';

export const CHECKPOINTS_DIR = 'checkpoints';
const MANIFEST = 'MANIFEST.json';
const STEP_DIR = /^step-(\d{8})$/;

/** What a checkpoint holds besides the adapter folder (which the caller writes into `adapterDir`). */
export interface CheckpointPayload<S> {
  /** Trainer state (step, data position, RNG, counters...), JSON-serialisable. */
  readonly state: S;
  /** Optimizer tensors by name (e.g. "m.<param>", "v.<param>"), float64. */
  readonly tensors: ReadonlyMap<string, Float64Array>;
}

export interface LoadedCheckpoint<S> extends CheckpointPayload<S> {
  readonly dir: string;
  readonly step: number;
  /** The PEFT adapter folder inside the checkpoint. */
  readonly adapterDir: string;
  /** Newer checkpoints that were incomplete or corrupt, with the reason, newest first. */
  readonly skipped: readonly { dir: string; reason: string }[];
}

function fsyncPath(path: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function sha256File(path: string): string {
  return createHash('sha256').update(fs.readFileSync(path)).digest('hex');
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)],
  );
}

/**
 * Writes checkpoint `step` under `<outDir>/checkpoints/`. `writeAdapter(dir)` writes the adapter folder.
 * Returns the checkpoint's folder.
 */
export function saveCheckpoint<S>(outDir: string, step: number, payload: CheckpointPayload<S>, writeAdapter: (dir: string) => void): string {
  const root = join(outDir, CHECKPOINTS_DIR);
  fs.mkdirSync(root, { recursive: true });
  const name = `step-${String(step).padStart(8, '0')}`;
  const final = join(root, name);
  const tmp = join(root, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(tmp);
  try {
    writeAdapter(join(tmp, 'adapter'));
    writeSafetensors(join(tmp, 'optimizer.safetensors'), [...payload.tensors].map(([n, data]) => ({ name: n, dtype: 'F64' as const, shape: [data.length], data })));
    writeFileAtomically(join(tmp, 'trainer_state.json'), [new TextEncoder().encode(JSON.stringify(payload.state, null, 2))]);
    const files = listFiles(tmp).sort();
    const manifest = { step, files: Object.fromEntries(files.map((f) => [f, sha256File(join(tmp, f))])) };
    writeFileAtomically(join(tmp, MANIFEST), [new TextEncoder().encode(JSON.stringify(manifest, null, 2))]);
    fsyncPath(join(tmp, 'adapter'));
    fsyncPath(tmp);
    fs.rmSync(final, { recursive: true, force: true }); // a checkpoint of the same step from an abandoned run
    fs.renameSync(tmp, final);
    fsyncPath(root);
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  return final;
}

function verify(dir: string): { step: number } {
  const manifestPath = join(dir, MANIFEST);
  if (!fs.existsSync(manifestPath)) throw new Error('no MANIFEST.json (the save did not finish)');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { step: number; files: Record<string, string> };
  for (const [file, hash] of Object.entries(manifest.files)) {
    const path = join(dir, file);
    if (!fs.existsSync(path)) throw new Error(`${file} is missing`);
    if (sha256File(path) !== hash) throw new Error(`${file} does not match its sha256 in MANIFEST.json`);
  }
  return { step: manifest.step };
}

/** Removes temporary folders left by interrupted saves. */
export function cleanPartialCheckpoints(outDir: string): void {
  const root = join(outDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return;
  for (const e of fs.readdirSync(root)) if (e.startsWith('.tmp-')) fs.rmSync(join(root, e), { recursive: true, force: true });
}

/** The newest valid checkpoint under `outDir`, or null when there is none at all. */
export function loadLatestCheckpoint<S>(outDir: string): LoadedCheckpoint<S> | null {
  const root = join(outDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return null;
  const dirs = fs.readdirSync(root).filter((n) => STEP_DIR.test(n)).sort().reverse();
  const skipped: { dir: string; reason: string }[] = [];
  for (const name of dirs) {
    const dir = join(root, name);
    try {
      const { step } = verify(dir);
      const state = JSON.parse(fs.readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as S;
      const reader = openSafetensors(join(dir, 'optimizer.safetensors'));
      const tensors = new Map<string, Float64Array>();
      try {
        for (const n of reader.tensorNames()) tensors.set(n, reader.readFloat64(n));
      } finally {
        reader.close();
      }
      return { dir, step, state, tensors, adapterDir: join(dir, 'adapter'), skipped };
    } catch (error) {
      skipped.push({ dir, reason: (error as Error).message });
    }
  }
  if (skipped.length > 0) {
    throw new RoadsterError(
      'E_CHECKPOINT',
      `no valid checkpoint in ${root}: ${skipped.map((s) => `${s.dir}: ${s.reason}`).join('; ')}. Start a new run in another folder.`,
    );
  }
  return null;
}

/** Deletes all but the newest `keep` valid-looking checkpoints. */
export function pruneCheckpoints(outDir: string, keep: number): void {
  const root = join(outDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root) || keep <= 0) return;
  const dirs = fs.readdirSync(root).filter((n) => STEP_DIR.test(n)).sort().reverse();
  for (const name of dirs.slice(keep)) fs.rmSync(join(root, name), { recursive: true, force: true });
}
