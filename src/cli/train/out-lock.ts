// The lock of a `roadster train` output folder, so that two runs never write into one folder: LOCK_FILE holds
// the owner's pid, host and start time and is created with O_EXCL ('wx'), so only one run can create it. A lock
// whose process no longer runs (same host, pid gone: a run killed with -9) is stale and taken over with a
// note; a live one refuses the run with E_LOCKED. The owner removes it when the run ends, fails or is stopped
// by a signal.

import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { writeError } from '../fs-errors.ts';

export const LOCK_FILE = '.roadster-lock';

/** What the lock file says about its owner. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

/** A held lock. `release` is idempotent and removes the file only while it is still this run's. */
export interface OutDirLock {
  release(): void;
}

function readOwner(file: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? { pid: owner.pid, host: owner.host, startedAt: String(owner.startedAt) } : null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** A half-written lock (its owner died between creating and filling it) is stale after this long. */
const UNREADABLE_GRACE_MS = 5000;

/** Whether the lock in `file` belongs to a run that may still be going: 'live', 'stale' or 'absent'. */
function lockState(file: string): { state: 'live' | 'stale' | 'absent'; owner: LockOwner | null } {
  let mtime: number;
  try {
    mtime = statSync(file).mtimeMs;
  } catch {
    return { state: 'absent', owner: null };
  }
  const owner = readOwner(file);
  if (owner === null) return { state: Date.now() - mtime > UNREADABLE_GRACE_MS ? 'stale' : 'live', owner };
  if (owner.host !== hostname()) return { state: 'live', owner }; // another machine's process cannot be checked
  return { state: isRunning(owner.pid) ? 'live' : 'stale', owner };
}

function describe(owner: LockOwner | null): string {
  return owner === null ? 'an unreadable lock' : `pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}`;
}

function lockedError(out: string, file: string, owner: LockOwner | null): RoadsterError {
  return new RoadsterError('E_LOCKED', `${out} is locked: it is in use by roadster train (${describe(owner)}). Wait for that run to ` +
    `finish or stop it, or choose another --out. If no such run is going on, delete ${file}.`);
}

/**
 * Refuses `out` up front when a live run holds its lock; writes nothing.
 * @throws RoadsterError E_LOCKED naming the folder and the owner's pid
 */
export function checkUnlocked(out: string): void {
  const file = join(out, LOCK_FILE);
  const { state, owner } = lockState(file);
  if (state === 'live') throw lockedError(out, file, owner);
}

/** Moves a stale lock aside; puts it back when it turned out to be another run's fresh lock. */
function removeStale(file: string, stale: LockOwner | null): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // gone already: another run took it over
  }
  const moved = readOwner(aside);
  if (stale !== null && (moved === null || moved.pid !== stale.pid || moved.startedAt !== stale.startedAt)) {
    try {
      linkSync(aside, file); // a run took the lock between our look and the rename: give it back
    } catch {
      // that run has made another
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Takes the lock of `out` (a folder that exists). `note` receives a line when a stale lock is taken over.
 * @throws RoadsterError E_LOCKED when a live run holds it; E_USAGE when the folder cannot be written
 */
export function lockOutDir(out: string, note: (line: string) => void): OutDirLock {
  const file = join(out, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError(error, out, '--out');
      const { state, owner } = lockState(file);
      if (state === 'live') throw lockedError(out, file, owner);
      if (state === 'stale') {
        note(`${out} has a stale lock (${describe(owner)}), whose process no longer runs; taking it over.`);
        removeStale(file, owner);
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify({ ...me, command: 'roadster train' })}\n`);
    } finally {
      closeSync(fd);
    }
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const owner = readOwner(file);
        if (owner !== null && owner.pid === me.pid && owner.startedAt === me.startedAt) rmSync(file, { force: true });
      },
    };
  }
  throw lockedError(out, file, readOwner(file));
}

/**
 * Releases `lock` when the process exits or is stopped by SIGINT, SIGTERM or SIGHUP (then re-raises the
 * signal). Returns the function that removes these handlers.
 */
export function releaseOnExit(lock: OutDirLock): () => void {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onExit = () => lock.release();
  const onSignal = (signal: NodeJS.Signals) => {
    lock.release();
    remove();
    process.kill(process.pid, signal);
  };
  const remove = () => {
    process.removeListener('exit', onExit);
    for (const s of signals) process.removeListener(s, onSignal);
  };
  process.on('exit', onExit);
  for (const s of signals) process.on(s, onSignal);
  return remove;
}
