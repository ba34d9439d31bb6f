// `roadster demo`: README's main command. Offline, on the shipped base model: spam-vs-ham e-mail classification
// with RoAd and a classification head, compared with the base model, the head alone and LoRA, then save, merge
// and classify a few held-out e-mails. A progress bar on a terminal (plain lines otherwise, and with --json,
// which prints the report); the loss-curve file's path at the end.

import { availableParallelism } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { DEFAULT_DEMO_OPTIONS, type DemoReport, type MethodResult, runDemo } from '../../demo/run-demo.ts';
import { EMAIL_MODEL_DIR } from '../../demo/shipped-model.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { type CliIo, formatTable, printJson, showsProgressBars } from '../io.ts';
import { trainProgress } from '../train/progress.ts';

export interface DemoFlags {
  readonly out: string;
  readonly steps: number;
  readonly trainPerClass: number;
  readonly testPerClass: number;
  readonly skipLora?: boolean;
  readonly threads?: number;
  readonly quantize: QuantizeWeights;
  readonly json?: boolean;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const n = (x: number) => x.toLocaleString('en-US');
const lr = (x: number) => x.toExponential(0);

function printReport(io: CliIo, r: DemoReport): void {
  const out = (s: string) => io.stdout.write(`${s}\n`);
  const steps = r.road.train.steps;
  const trained = (name: string, m: MethodResult): (string | number)[] => [name, n(m.train.trainableParameters), lr(m.lr), pct(m.accuracy)];
  const rows: (string | number)[][] = [
    ['base model, zero-shot (label likelihood)', '0', '-', pct(r.base.accuracy)],
    ['head only (frozen base model)', n(r.headOnly.trainableParameters), lr(r.headOnly.lr), pct(r.headOnly.accuracy)],
    trained('RoAd + head', r.road),
    ...(r.lora ? [trained('LoRA + head', r.lora)] : []),
    ['RoAd + head merged into the weights', '0', '-', pct(r.merged.accuracy)],
  ];
  out('');
  out(`${r.task}: ${r.trainExamples} training e-mails, ${r.testExamples} test e-mails; ${steps} steps of ${r.settings.batchSize} e-mails per trained row` +
    `${r.road.train.quantize === 'none' ? '' : `; frozen weights ${r.road.train.quantize}`}`);
  io.stdout.write(formatTable(['model', 'trainable parameters', 'learning rate', 'test accuracy'], rows).replace(/^(?=.)/gm, '  '));
  out(`  merged predictions ${r.merged.agreesWithUnmerged ? 'identical to' : `differ in ${r.merged.disagreements} case(s) from`} the unmerged adapter's`);
  out('');
  out('held-out e-mails (RoAd + head):');
  for (const s of r.samples) out(`  [${s.predicted === s.actual ? 'ok' : 'MISS'}] predicted ${s.predicted.padEnd(4)} (actually ${s.actual.padEnd(4)})  ${s.subject.slice(0, 70)}`);
  out('');
  out(`adapter with its head: ${r.outDir}/road (PEFT format); merged classifier: ${r.merged.dir}; report: ${r.outDir}/demo-report.json`);
  out(`loss curves: ${r.lossCurve}; ${r.timeSeconds.toFixed(0)} s in all`);
}

/** `roadster demo`. */
export async function demo(flags: DemoFlags, io: CliIo): Promise<void> {
  const runtime = new Runtime({ threads: flags.threads ?? availableParallelism(), quantizeWeights: flags.quantize });
  const bars = showsProgressBars(io) && flags.json !== true;
  // one progress per training phase: its bar and ETA start with that phase's first step
  let progress = trainProgress(io, { logEvery: 50, bars });
  try {
    const report = await runDemo(
      runtime,
      { ...DEFAULT_DEMO_OPTIONS, modelDir: EMAIL_MODEL_DIR, outDir: flags.out, steps: flags.steps, trainPerClass: flags.trainPerClass, testPerClass: flags.testPerClass, skipLora: flags.skipLora === true },
      {
        log: (line) => progress.log(line),
        train: (phase) => {
          progress.stop();
          progress = trainProgress(io, { logEvery: 50, bars });
          progress.log(`training ${phase === 'road' ? 'RoAd' : 'LoRA'} + head ...`);
          return progress.hooks;
        },
        classifying: (what, total) => {
          if (!bars) {
            io.stderr.write(`${what}: ${total} e-mails ...\n`);
            return () => {};
          }
          const bar = new SingleBar({ stream: io.stderr, format: `${what} [{bar}] {value}/{total}`, hideCursor: true, barsize: 30 }, Presets.shades_classic);
          bar.start(total, 0);
          return (done) => (done >= total ? (bar.update(done), bar.stop()) : bar.update(done));
        },
      },
    );
    if (flags.json) printJson(io, report);
    else printReport(io, report);
  } finally {
    progress.stop();
    await runtime.release();
  }
}
