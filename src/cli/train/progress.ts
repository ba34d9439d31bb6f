// Training progress for `roadster train`: on a terminal, one cli-progress bar on stderr (step/total, loss,
// tokens/s, ETA) with eval results and checkpoints logged above it; otherwise (logs, pipes) one plain line
// every N steps with the same fields, and one line per eval. The trainer reports through its hooks; drawing
// is the CLI's job.

import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { EvalRecord, StepRecord, TrainHooks } from '../../train/trainer.ts';
import { type CliIo, showsProgressBars } from '../io.ts';

export interface TrainProgress {
  readonly hooks: TrainHooks;
  /** A line of text above the bar (or on its own line without a terminal). */
  log(line: string): void;
  stop(): void;
}

/** `1h02m`, `3m05s`, `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

const fmtLoss = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** One eval result as a line. */
export function evalLine(r: EvalRecord): string {
  const accuracy = r.accuracy === null ? '' : `, accuracy ${(100 * r.accuracy).toFixed(1)}%`;
  return `eval step ${r.step}: loss ${fmtLoss(r.loss)}${accuracy} (${r.examples} examples, ${r.tokens} tokens)`;
}

/** Seconds left, from the pace of the steps this process ran. */
class Eta {
  private first: { step: number; at: number } | null = null;
  seconds(step: number, total: number): number {
    const now = performance.now();
    if (this.first === null) {
      // the first step of a process includes compiling the graph: measure from its end
      this.first = { step, at: now };
      return NaN;
    }
    const done = step - this.first.step;
    return done <= 0 ? NaN : ((now - this.first.at) / 1000 / done) * (total - step);
  }
}

/** `bars: false` writes plain lines even on a terminal (e.g. when stdout carries --json). */
export function trainProgress(io: CliIo, options: { readonly logEvery: number; readonly bars?: boolean }): TrainProgress {
  const eta = new Eta();
  if (!showsProgressBars(io) || options.bars === false) {
    const write = (line: string) => io.stderr.write(`${line}\n`);
    return {
      hooks: {
        onStep: (r: StepRecord, total: number) => {
          const left = eta.seconds(r.step, total);
          if (r.step % options.logEvery !== 0 && r.step !== total && r.step !== 1) return;
          write(`step ${r.step}/${total} epoch ${r.epoch} loss ${fmtLoss(r.loss)}${r.skipped ? ' (non-finite: skipped)' : ''} ` +
            `lr ${r.lr.toExponential(2)} grad-norm ${r.gradNorm.toPrecision(3)} ${Math.round(r.tokensPerSecond)} tokens/s eta ${formatDuration(left)}`);
        },
        onEval: (r) => write(evalLine(r)),
        onCheckpoint: (dir, step) => write(`checkpoint step ${step}: ${dir}`),
        onWarning: (message) => write(`warning: ${message}`),
      },
      log: write,
      stop: () => {},
    };
  }
  // the bar lives from the first step to the last; lines before or after it are written plainly
  let multi: MultiBar | null = null;
  let bar: SingleBar | null = null;
  const line = (text: string): void => {
    if (multi === null) {
      io.stderr.write(`${text}\n`);
      return;
    }
    multi.log(`${text}\n`);
    multi.update(); // draw it now, not at the next timer tick
  };
  const stop = (): void => {
    multi?.stop();
    multi = null;
  };
  return {
    hooks: {
      onStep: (r, total) => {
        const payload = { loss: fmtLoss(r.loss), tps: Math.round(r.tokensPerSecond), left: formatDuration(eta.seconds(r.step, total)) };
        if (bar === null) {
          multi = new MultiBar(
            { stream: io.stderr, format: 'step {value}/{total} [{bar}] loss {loss} | {tps} tokens/s | ETA {left}', hideCursor: true, clearOnComplete: false, barsize: 30 },
            Presets.shades_classic,
          );
          bar = multi.create(total, r.step, payload);
        } else bar.update(r.step, payload);
        if (r.step >= total) stop();
      },
      onEval: (r) => line(evalLine(r)),
      onCheckpoint: (dir, step) => line(`checkpoint step ${step}: ${dir}`),
      onWarning: (message) => line(`warning: ${message}`),
    },
    log: line,
    stop,
  };
}
