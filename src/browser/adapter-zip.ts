// The adapter as a download: the PEFT folder's files in a zip (fflate), inside a folder named after the run,
// so that unzipping gives a folder `PeftModel.fromPretrained` (Node) and PEFT (Python) load as they are.

import { zipSync } from 'fflate';

/** A zip of `files` under `folder/` (stored, not deflated: safetensors of float32 barely compress). */
export function zipAdapterFolder(folder: string, files: Readonly<Record<string, Uint8Array>>): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, bytes] of Object.entries(files)) entries[`${folder}/${name}`] = bytes;
  return zipSync(entries, { level: 0, mtime: new Date('2020-01-01T00:00:00Z') });
}
