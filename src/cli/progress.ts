// Download progress for CLI commands: one cli-progress bar per file on a terminal, one line per file
// otherwise (logs, pipes). The library reports bytes through `onProgress`; drawing is the CLI's job.

import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { DownloadProgress } from '../io/hub/index.ts';
import { type CliIo, showsProgressBars } from './io.ts';

/** An `onProgress` callback for `fromPretrained`, and `stop()` to call when loading is over. */
export interface DownloadReporter {
  readonly onProgress: (progress: DownloadProgress) => void;
  stop(): void;
}

const MB = 1024 * 1024;

export function downloadReporter(io: CliIo): DownloadReporter {
  const seen = new Set<string>();
  if (!showsProgressBars(io)) {
    return {
      onProgress: (p) => {
        if (seen.has(p.file)) return;
        seen.add(p.file);
        const size = p.bytesTotal === null ? 'size unknown' : `${(p.bytesTotal / MB).toFixed(1)} MB`;
        io.stderr.write(`downloading ${p.file} (${size})\n`);
      },
      stop: () => {},
    };
  }
  let multi: MultiBar | null = null;
  const bars = new Map<string, SingleBar>();
  return {
    onProgress: (p) => {
      multi ??= new MultiBar(
        { stream: io.stderr, format: '{file} [{bar}] {percentage}% {done}/{total} MB', hideCursor: true, clearOnComplete: false },
        Presets.shades_classic,
      );
      const total = Math.max(p.bytesTotal ?? p.bytesDone, 1);
      const payload = { file: p.file, done: (p.bytesDone / MB).toFixed(1), total: p.bytesTotal === null ? '?' : (p.bytesTotal / MB).toFixed(1) };
      const bar = bars.get(p.file);
      if (bar === undefined) bars.set(p.file, multi.create(total, p.bytesDone, payload));
      else {
        bar.setTotal(total);
        bar.update(p.bytesDone, payload);
      }
    },
    stop: () => multi?.stop(),
  };
}
