// Atomic file replacement: write to `<path>.tmp-<pid>-<random>` in the same folder, fsync, rename over the
// target, fsync the folder. Readers see either the old file or the complete new one, never a partial write;
// on any failure the temporary file is removed and the target is left untouched.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RoadsterError } from '../../errors.ts';

/** Largest single `fs.writeSync` call; very large buffers are written in pieces. */
const MAX_WRITE_CHUNK = 1 << 30;

function writeAll(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) {
    done += fs.writeSync(fd, chunk, done, Math.min(chunk.byteLength - done, MAX_WRITE_CHUNK));
  }
}

/** Make a completed rename durable. Windows cannot open a folder for fsync, so there it is skipped. */
function fsyncFolder(folder: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(folder, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Atomically replace `target` with the concatenation of `chunks`. The chunks are consumed lazily, so a
 * generator may throw part-way: the temporary file is then deleted and `target` keeps its old content.
 * Throws 'E_NOT_FOUND' when the target's folder does not exist.
 */
export function writeFileAtomically(target: string, chunks: Iterable<Uint8Array>): void {
  const temporary = `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number;
  try {
    fd = fs.openSync(temporary, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RoadsterError(
        'E_NOT_FOUND',
        `${target}: folder ${path.dirname(target)} does not exist; create it before writing.`,
        { cause: error },
      );
    }
    throw error;
  }
  try {
    try {
      for (const chunk of chunks) writeAll(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, target);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fsyncFolder(path.dirname(path.resolve(target)));
}
