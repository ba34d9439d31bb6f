// `roadster demo compose`: issue 15's experiment (src/demo/compose-demo.ts) on the shipped base model; a table
// of accuracies per task (single, composed, controls) and the IIA, or the JSON report with --json.

import { availableParallelism } from 'node:os';
import { parseComplementNoise } from '../../adapters/subspace.ts';
import { type ComposeDemoReport, DEFAULT_COMPOSE_DEMO_OPTIONS, type TaskReport, runComposeDemo } from '../../demo/compose-demo.ts';
import { SHIPPED_MODEL_DIR } from '../../demo/shipped-model.ts';
import { Runtime } from '../../runtime/index.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';
import { trainProgress } from '../train/progress.ts';

export interface ComposeDemoFlags {
  readonly out: string;
  readonly steps: number;
  readonly seeds: number;
  /** As written: "0.2", "0.2,0.1" or "0". */
  readonly complementNoise: string;
  readonly threads?: number;
  readonly json?: boolean;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function printReport(io: CliIo, r: ComposeDemoReport): void {
  const row = (name: string, t: TaskReport) => [
    name,
    pct(t.base),
    pct(t.single),
    `${pct(t.composed.accuracy)} (${pct(t.composed.retention)})`,
    `${pct(t.controls.allPairs.single)} -> ${pct(t.controls.allPairs.composed.accuracy)} (${pct(t.controls.allPairs.composed.retention)})`,
    `${pct(t.controls.lora.single)} -> ${pct(t.controls.lora.cat.accuracy)} (${pct(t.controls.lora.cat.retention)})`,
    `${pct(t.controls.lora.linear.accuracy)} (${pct(t.controls.lora.linear.retention)})`,
  ];
  io.stdout.write('\n');
  const noise = r.settings.complementNoise;
  io.stdout.write(`A and B trained ${noise === null ? 'without complement noise' : `under complement noise θ ${noise.theta}, α ${noise.alpha}`}\n`);
  if (r.seeds.length > 1) io.stdout.write(`the mean of ${r.seeds.length} seeds (${r.seeds.join(', ')}); kept = mean accuracy / mean single accuracy\n`);
  io.stdout.write(formatTable(['task', 'base', 'single', 'A·B composed (kept)', 'all-pairs -> product', 'LoRA -> cat', 'LoRA linear'], [row('spam', r.tasks.spam), row('era', r.tasks.era)]));
  const auc = (t: TaskReport) =>
    `base ${t.auc.base.toFixed(3)}, single ${t.auc.single.toFixed(3)}, A·B ${t.composed.auc.toFixed(3)}; all-pairs ${t.auc.allPairs.toFixed(3)} -> ${t.controls.allPairs.composed.auc.toFixed(3)}; ` +
    `LoRA ${t.auc.lora.toFixed(3)} -> cat ${t.controls.lora.cat.auc.toFixed(3)}, linear ${t.controls.lora.linear.auc.toFixed(3)}`;
  io.stdout.write(`\nROC AUC of the label margin: spam ${auc(r.tasks.spam)}\n                            era  ${auc(r.tasks.era)}\n`);
  if (r.seeds.length > 1) {
    const kept = (t: TaskReport) => `${pct(t.single)} -> ${pct(t.composed.accuracy)} (${pct(t.composed.retention)})`;
    io.stdout.write(`\nA·B per seed:${r.perSeed.map((s) => `\n  seed ${s.seed}: spam ${kept(s.tasks.spam)}, era ${kept(s.tasks.era)}`).join('')}\n`);
  }
  io.stdout.write(`\n${r.composition.note}\n`);
  const rate = (x: number | null) => (x === null ? 'n/a' : pct(x));
  io.stdout.write(`IIA (${r.iia.model}; ${r.iia.examples} ham bases, spam sources, last token): A's pairs ${rate(r.iia.flipRate)}, random pairs of the same size ${rate(r.iia.random.mean)}, B's pairs ${rate(r.iia.complement)}\n`);
  if (r.iia.layers.length > 0) {
    const layers = r.iia.layers.map((l) => `${l.layer}: ${rate(l.flipRate)} / ${rate(l.random.mean)} / ${rate(l.complement)}`);
    io.stdout.write(`IIA in one layer at a time (A's / random / B's pairs): ${layers.join('; ')}\n`);
  }
  io.stdout.write(`report: ${r.outDir}/compose-report.json; ${r.timeSeconds.toFixed(0)} s in all\n`);
}

/** `roadster demo compose`. */
export async function demoCompose(flags: ComposeDemoFlags, io: CliIo): Promise<void> {
  const noise = parseComplementNoise(flags.complementNoise);
  const runtime = new Runtime({ threads: flags.threads ?? availableParallelism() });
  const progress = trainProgress(io, { logEvery: 25 });
  try {
    const report = await runComposeDemo(
      runtime,
      { ...DEFAULT_COMPOSE_DEMO_OPTIONS, modelDir: SHIPPED_MODEL_DIR, outDir: flags.out, steps: flags.steps, seeds: flags.seeds, complementNoise: noise.theta === 0 && noise.alpha === 0 ? null : noise },
      {
        log: (line) => progress.log(line),
        train: (phase) => {
          progress.log(`training ${phase} ...`);
          return progress.hooks;
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
