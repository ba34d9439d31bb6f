// `roadster interpret`: one interchange intervention (or ablation) at the last token of the base input. Prints
// the next-token predictions of the base run, of the source run and of the intervened base run (probabilities
// of the top tokens), so a user sees whether the chosen subspace carries what the source would predict.

import { availableParallelism } from 'node:os';
import { PeftModel } from '../../adapters/peft-model.ts';
import { parsePairSelection, selectedPairs } from '../../adapters/road/pairs.ts';
import { hubOptionsFromEnv } from '../../io/hub/index.ts';
import { type Ablation, type InterventionSite, ablate, captureOutputs, interchange, meanOutputs, pairCoordinates, padRows } from '../../interpret/index.ts';
import { AutoModelForCausalLM, AutoTokenizer } from '../../models/auto.ts';
import type { HostTensor } from '../../runtime/host-tensor.ts';
import { Runtime } from '../../runtime/index.ts';
import { type CliIo, printJson, usageError } from '../io.ts';

export interface InterpretFlags {
  readonly model: string;
  readonly adapter?: string;
  readonly site: readonly string[];
  readonly pairs?: string;
  readonly groupSize?: number;
  readonly base?: string;
  readonly source?: string;
  readonly baseIds?: number[];
  readonly sourceIds?: number[];
  readonly ablate?: string;
  readonly top: number;
  readonly offline?: boolean;
  readonly json?: boolean;
}

interface Prediction {
  readonly token: number;
  readonly text: string | null;
  readonly probability: number;
}

/** The top-n next tokens at the last position of row 0. */
function top(logits: HostTensor, length: number, n: number, decode: ((id: number) => string) | null): Prediction[] {
  const v = logits.shape[2] as number;
  const row = Array.from(logits.data.subarray((length - 1) * v, length * v) as Float32Array);
  const max = Math.max(...row);
  const exp = row.map((x) => Math.exp(x - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, token) => ({ token, probability: e / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, n)
    .map((p) => ({ ...p, text: decode ? decode(p.token) : null }));
}

/** `roadster interpret`. */
export async function interpret(flags: InterpretFlags, io: CliIo): Promise<void> {
  const ablation = flags.ablate;
  if (ablation !== undefined && ablation !== 'zero' && ablation !== 'mean') throw usageError(`--ablate takes zero or mean, got "${ablation}".`);
  if ((flags.base === undefined) === (flags.baseIds === undefined)) throw usageError('give exactly one of --base TEXT and --base-ids 1,2,3.');
  const hasSource = flags.source !== undefined || flags.sourceIds !== undefined;
  if (flags.source !== undefined && flags.sourceIds !== undefined) throw usageError('give one of --source and --source-ids.');
  if (ablation !== 'zero' && !hasSource) throw usageError('an interchange (or --ablate mean) needs a source input: --source TEXT or --source-ids.');
  const hub = hubOptionsFromEnv(io.env);
  const options = { ...hub, offline: flags.offline === true || hub.offline === true };
  const model = await AutoModelForCausalLM.fromPretrained(flags.model, options);
  const needsText = flags.base !== undefined || flags.source !== undefined;
  const tokenizer = needsText ? await AutoTokenizer.fromPretrained(flags.model, options) : null;
  const encode = (text: string) => tokenizer!.encode(text);
  const baseRow = flags.baseIds ?? encode(flags.base!);
  const sourceRow = flags.sourceIds ?? (flags.source !== undefined ? encode(flags.source) : null);
  const runtime = new Runtime({ threads: availableParallelism() });
  try {
    const peft = flags.adapter ? PeftModel.fromPretrained(model, runtime, flags.adapter) : new PeftModel(model, runtime);
    const config = flags.adapter ? peft.adapter('default').config : null;
    const groupSize = flags.groupSize ?? (config?.peftType === 'ROAD' ? config.groupSize : undefined);
    const widths = new Map(model.linearSites().map((s) => [s.path, s.outFeatures]));
    const sites: InterventionSite[] = flags.site.map((path) => {
      if (flags.pairs === undefined) return { path };
      if (groupSize === undefined) throw usageError('--pairs needs a group size: --group-size N, or a RoAd --adapter.');
      const d = widths.get(path);
      if (d === undefined) return { path }; // the intervention names the unknown module
      if (d % groupSize !== 0) throw usageError(`--group-size ${groupSize} does not divide the ${d} outputs of ${path}.`);
      return { path, coordinates: pairCoordinates(d, groupSize, selectedPairs(parsePairSelection(flags.pairs, '--pairs'), groupSize)) };
    });
    const clean = await captureOutputs(peft, [baseRow], []);
    const source = sourceRow ? await captureOutputs(peft, [sourceRow], []) : null;
    let after: HostTensor;
    if (ablation === undefined) {
      after = (await interchange(peft, { base: [baseRow], source: [sourceRow!], sites, positions: { kind: 'last' } })).logits;
    } else {
      const kind: Ablation = ablation === 'zero' ? { kind: 'zero' } : { kind: 'mean', means: await meanOutputs(peft, [sourceRow!], sites.map((s) => s.path), 'all') };
      after = (await ablate(peft, [baseRow], sites, kind, 'last')).logits;
    }
    const decode = tokenizer ? (id: number) => tokenizer.decode([id]) : null;
    const report = {
      intervention: ablation === undefined ? 'interchange' : `${ablation}-ablation`,
      sites,
      positions: 'last token',
      base: top(clean.logits, padRows([baseRow]).lengths[0], flags.top, decode),
      source: source ? top(source.logits, sourceRow!.length, flags.top, decode) : null,
      intervened: top(after, baseRow.length, flags.top, decode),
    };
    if (flags.json) return printJson(io, report);
    const line = (p: Prediction) => `${(100 * p.probability).toFixed(1).padStart(5)}%  ${p.text === null ? p.token : JSON.stringify(p.text)}`;
    for (const [name, preds] of [['base', report.base], ['source', report.source], ['intervened base', report.intervened]] as const) {
      if (preds === null) continue;
      io.stdout.write(`${name}:\n${preds.map((p) => `  ${line(p)}\n`).join('')}`);
    }
  } finally {
    await runtime.release();
  }
}
