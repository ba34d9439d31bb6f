// The last checkpoint of the studio's run in the browser's IndexedDB: written after every step the page
// chooses to keep (and on Stop), read back after a reload or a closed tab. One record; structured clone keeps
// the typed arrays as they are.

import { RoadsterError } from '../errors.ts';
import type { StudioCheckpoint } from './train-session.ts';

const DB = 'roadster-studio';
const STORE = 'checkpoints';
const KEY = 'last';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new RoadsterError('E_IO', `IndexedDB "${DB}" cannot be opened: ${req.error?.message ?? 'unknown error'}`));
  });
}

async function transact<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(new RoadsterError('E_IO', `IndexedDB: ${tx.error?.message ?? 'the transaction failed'}`));
      tx.onabort = () => reject(new RoadsterError('E_IO', `IndexedDB: ${tx.error?.message ?? 'the transaction was aborted'} (is the browser's storage full?)`));
    });
  } finally {
    db.close();
  }
}

/** A stored run: its checkpoint and what resuming needs besides the model (the data, which model it was). */
export interface StoredRun {
  readonly checkpoint: StudioCheckpoint;
  /** "shipped", or the name of the local folder (which must be picked again). */
  readonly model: string;
  readonly dataName: string;
  readonly dataText: string;
  readonly skipBadLines: boolean;
}

/** Stores `run` as the last run (resolves once it is committed). */
export function saveCheckpoint(run: StoredRun): Promise<void> {
  return transact<void>('readwrite', (s) => s.put(run, KEY));
}

/** The last stored run, or null. */
export async function loadCheckpoint(): Promise<StoredRun | null> {
  return (await transact<StoredRun | undefined>('readonly', (s) => s.get(KEY))) ?? null;
}

/** Forgets the stored checkpoint. */
export function clearCheckpoint(): Promise<void> {
  return transact<void>('readwrite', (s) => s.delete(KEY));
}
