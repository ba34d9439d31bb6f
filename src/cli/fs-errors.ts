// Filesystem errors of CLI commands as typed errors: a path the user chose that cannot be used (a file where a
// folder is needed, no permission, a symbolic link loop) is a usage error that says to choose another path;
// anything else the disk does (full, I/O error) is E_IO. Neither prints a stack.

import { RoadsterError } from '../errors.ts';

/** Codes that mean "this path cannot be used": the fix is another path, or its permissions. */
const PATH_CODES: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder where a file was expected',
  EEXIST: 'something is already there',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the filesystem is read-only',
  ELOOP: 'the path is a symbolic link loop',
  ENAMETOOLONG: 'the name is too long',
};

/** The errno code of a Node.js filesystem error, if it is one. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/**
 * A filesystem error met while writing `path` (chosen with `flag`), as a RoadsterError; RoadsterErrors and
 * non-filesystem errors are returned unchanged.
 */
export function writeError(error: unknown, path: string, flag: string): unknown {
  if (error instanceof RoadsterError) return error;
  const code = errnoCode(error);
  if (code === undefined) return error;
  const why = PATH_CODES[code];
  if (why !== undefined) {
    return new RoadsterError('E_USAGE', `cannot write to ${path}: ${why} (${code}); choose a writable ${flag}.`, { cause: error });
  }
  return new RoadsterError('E_IO', `writing ${path} failed: ${(error as Error).message}. Free disk space or check the disk, then run again.`, { cause: error });
}
