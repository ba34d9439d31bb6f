// `roadster demo`: README's main command. Offline, on the shipped base model: spam-vs-ham e-mail classification
// with RoAd, compared with the base model and with LoRA, then save, merge and classify a few held-out e-mails.
// Progress bars on a terminal (plain lines otherwise); --json prints the report.

import { availableParallelism } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { DEFAULT_DEMO_OPTIONS, type DemoReport, runDemo } from '../../demo/run-demo.ts';
import { SHIPPED_MODEL_DIR } from '../../demo/shipped-model.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { type CliIo, printJson, showsProgressBars } from '../io.ts';
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

function printReport(io: CliIo, r: DemoReport): void {
  const out = (s: string) => io.stdout.write(`${s}\n`);
  out('');
  out(`${r.task}: ${r.trainExamples} training e-mails, ${r.testExamples} test e-mails${r.road.train.quantize === 'none' ? '' : `; frozen weights ${r.road.train.quantize}`}`);
  out(`  base model, no adaptation   accuracy ${pct(r.base.accuracy)}`);
  out(`  RoAd (${r.road.train.trainableParameters.toLocaleString('en-US')} params, ${r.road.train.trainablePercent.toFixed(3)}%)   accuracy ${pct(r.road.accuracy)}   ${r.road.train.steps} steps, ${r.road.train.timeSeconds.toFixed(0)} s`);
  if (r.lora) out(`  LoRA (${r.lora.train.trainableParameters.toLocaleString('en-US')} params, ${r.lora.train.trainablePercent.toFixed(3)}%)   accuracy ${pct(r.lora.accuracy)}   ${r.lora.train.steps} steps, ${r.lora.train.timeSeconds.toFixed(0)} s`);
  out(`  RoAd merged into the weights  accuracy ${pct(r.merged.accuracy)}; predictions ${r.merged.agreesWithUnmerged ? 'identical to' : `differ in ${r.merged.disagreements} case(s) from`} the unmerged adapter`);
  out('');
  out('held-out e-mails:');
  for (const s of r.samples) out(`  [${s.predicted === s.actual ? 'ok' : 'MISS'}] predicted ${s.predicted.padEnd(4)} (actually ${s.actual.padEnd(4)})  ${s.subject.slice(0, 70)}`);
  out('');
  out(`adapter: ${r.outDir}/road (PEFT format); merged model: ${r.merged.dir}; report: ${r.outDir}/demo-report.json; ${r.timeSeconds.toFixed(0)} s in all`);
}

/** `roadster demo`. */
export async function demo(flags: DemoFlags, io: CliIo): Promise<void> {
  const runtime = new Runtime({ threads: flags.threads ?? availableParallelism(), quantizeWeights: flags.quantize });
  const progress = trainProgress(io, { logEvery: 10 });
  try {
    const report = await runDemo(
      runtime,
      { ...DEFAULT_DEMO_OPTIONS, modelDir: SHIPPED_MODEL_DIR, outDir: flags.out, steps: flags.steps, trainPerClass: flags.trainPerClass, testPerClass: flags.testPerClass, skipLora: flags.skipLora === true },
      {
        log: (line) => progress.log(line),
        train: (phase) => {
          progress.log(`training ${phase === 'road' ? 'RoAd' : 'LoRA'} ...`);
          return progress.hooks;
        },
        classifying: (what, total) => {
          if (!showsProgressBars(io)) {
            io.stderr.write(`classifying ${total} test e-mails with the ${what} ...\n`);
            return () => {};
          }
          const bar = new SingleBar({ stream: io.stderr, format: `classifying (${what}) [{bar}] {value}/{total}`, hideCursor: true, barsize: 30 }, Presets.shades_classic);
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
