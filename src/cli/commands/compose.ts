// `roadster compose --adapter A --adapter B [...] --out C`: reads the adapter folders (without a model, or checked
// against --model), composes them with composeAdapters and writes the result as a PEFT adapter folder with a
// report (compose-report.json). Refusals (methods mixed, other bases, crossing group sizes, overlapping pairs
// under --disjoint, a wrong number of weights) are errors that say what to fix.

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ComposeReport, composeAdapters, composedSites } from '../../adapters/compose.ts';
import type { LoraCombination } from '../../adapters/lora/combine.ts';
import { readAdapterFolder, readAdapterFolderUnchecked, writeAdapterFolder } from '../../adapters/peft-files.ts';
import type { RoadVariant } from '../../adapters/road/math.ts';
import { hubOptionsFromEnv } from '../../io/hub/index.ts';
import { AutoModelForCausalLM } from '../../models/auto.ts';
import { type CliIo, printJson, usageError } from '../io.ts';

export interface ComposeFlags {
  readonly adapter: readonly string[];
  readonly out: string;
  readonly weights?: readonly number[];
  readonly variant?: RoadVariant;
  readonly disjoint?: boolean;
  readonly combination?: LoraCombination;
  readonly model?: string;
  readonly offline?: boolean;
  readonly json?: boolean;
}

export const COMPOSE_REPORT_FILE = 'compose-report.json';

/** `roadster compose`. */
export async function compose(flags: ComposeFlags, io: CliIo): Promise<void> {
  const dirs = flags.adapter;
  if (flags.weights !== undefined && flags.weights.length !== dirs.length) {
    throw usageError(`--weights has ${flags.weights.length} value(s) but ${dirs.length} --adapter folder(s) were given; give one weight per adapter, in the same order.`);
  }
  if (existsSync(flags.out) && readdirSync(flags.out).length > 0) throw usageError(`--out ${flags.out} exists and is not empty; choose another folder or empty it.`);
  if (dirs.includes(flags.out)) throw usageError(`--out ${flags.out} is one of the --adapter folders; write the composition elsewhere.`);
  const hub = hubOptionsFromEnv(io.env);
  const model = flags.model ? await AutoModelForCausalLM.fromPretrained(flags.model, { ...hub, offline: flags.offline === true || hub.offline === true }) : undefined;
  const entries = dirs.map((dir, i) => {
    const { config, params } = model ? readAdapterFolder(dir, model.linearSites()) : readAdapterFolderUnchecked(dir);
    return { entry: { name: dirs.indexOf(dir) === i ? dir : `${dir}#${i}`, config, params }, weight: flags.weights?.[i] };
  });
  const composed = composeAdapters(entries, { variant: flags.variant, requireDisjoint: flags.disjoint === true, combination: flags.combination });
  const sites = model ? new Map(model.linearSites().map((s) => [s.path, s])) : composedSites(composed.config, composed.params);
  writeAdapterFolder(flags.out, composed.config, composed.params, (path) => sites.get(path)!);
  if (model) readAdapterFolder(flags.out, model.linearSites()); // the result fits the model
  const report: ComposeReport & { readonly out: string } = { ...composed.report, out: flags.out };
  writeFileSync(join(flags.out, COMPOSE_REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
  if (flags.json) return printJson(io, report);
  const what = report.method === 'road-product' ? `RoAd ${report.variant}, group size ${report.groupSize}` : `LoRA rank ${report.r}`;
  io.stdout.write(`${flags.out}: ${what}, ${report.method} of ${report.order.join(' then ')} (weights ${report.weights.join(', ')})\n${report.note}\n`);
}
