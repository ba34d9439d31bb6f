// `roadster inspect ADAPTER_DIR`: an adapter's config, trainable parameter count (and share of the base model
// with --model), and per-module statistics of its parameters (RoAd: angles θ and scales α).

import { inspectAdapter } from '../../adapters/inspect.ts';
import { savedHeadLabels } from '../../adapters/peft-files.ts';
import { hubOptionsFromEnv } from '../../io/hub/index.ts';
import { AutoModelForCausalLM } from '../../models/auto.ts';
import { withClassificationHead } from '../../models/sequence-classification.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';

export interface InspectOptions {
  readonly model?: string;
  readonly offline?: boolean;
  readonly json?: boolean;
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4));

/** `roadster inspect ADAPTER_DIR`. */
export async function inspect(dir: string, opts: InspectOptions, io: CliIo): Promise<void> {
  const hub = hubOptionsFromEnv(io.env);
  const model = opts.model ? await AutoModelForCausalLM.fromPretrained(opts.model, { ...hub, offline: opts.offline === true || hub.offline === true }) : undefined;
  // an adapter with a classification head fits the model as a classifier with that many labels
  const labels = model ? savedHeadLabels(dir) : null;
  const base = model && labels !== null && !model.classification
    ? withClassificationHead(model, { id2label: Array.from({ length: labels }, (_, i) => `LABEL_${i}`) })
    : model;
  const report = inspectAdapter(dir, base);
  if (opts.json) return printJson(io, report);
  io.stdout.write(`${dir}: ${report.peftType} adapter\n`);
  for (const [k, v] of Object.entries(report.config)) io.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
  const share = report.trainablePercent === undefined ? '' : ` (${report.trainablePercent.toFixed(4)}% of ${report.baseParameters!.toLocaleString('en-US')} + adapter)`;
  io.stdout.write(`trainable parameters: ${report.trainableParameters.toLocaleString('en-US')}${share}\n`);
  const pairs = report.roadPairs;
  if (pairs) {
    const share = pairs.share === null ? '' : ` (share ${pairs.share})`;
    io.stdout.write(`RoAd pairs used: ${pairs.used} of 0-${pairs.pairsPerGroup - 1} in each group of ${pairs.groupSize}${share}\n`);
  }
  io.stdout.write('\n');
  const rows = report.modules.flatMap((m) => Object.entries(m.params).map(([p, s]) => [m.module, p, s.count, fmt(s.mean), fmt(s.std), fmt(s.min), fmt(s.max)]));
  io.stdout.write(formatTable(['module', 'param', 'count', 'mean', 'std', 'min', 'max'], rows));
}
