// The sweep behind `roadster demo compose`'s defaults: adapter B (era, pairs 1/2) and adapter A (spam, pairs 0/2)
// trained as the demo trains them, each alone on its own task's training sample, then A alone, B alone and their
// product scored on validation examples drawn from each task's training pool outside the training sample. The
// test splits are never read. Besides accuracy it prints, on each task, the AUC of the margin
// log p(second label) - log p(first label) and its mean per class, so a product that only shifts the margin
// (calibration) is told apart from one that scrambles the ranking, and the accuracy after contextual calibration
// (the margin minus the model's mean margin on content-free prompts, Zhao et al. 2021), which needs no data.
//
//   npx tsx scripts/compose-sweep.ts [--steps 150] [--spam-lr 2e-2,5e-2] [--era-lr 5e-2] [--val-per-class 100]
//     [--max-chars 300] [--max-length 96] [--spam-sep '\nSpam:'] [--spam-words no,yes] [--all-pairs] [--lora-lr 3e-3]
//     [--spam-steps N] [--era-steps N] [--b-on-spam] [--noise SIGMA_THETA,SIGMA_ALPHA] [--distill K] [--refit-threshold]
//     [--objective label-words|lm] [--seed N] [--targets all-linear|q_proj,v_proj,...] [--model DIR]
//     [--train-per-class N] [--pairs-a 0/2] [--pairs-b 1/2] [--b-parts]
//
// --objective: label-words (the demo's; the loss over the task's two label tokens at the cue's last token, and the
//   margin of those two tokens' log-probabilities) or lm (the causal-LM loss on the label words and EOS, and the
//   margin of the words' and EOS's log-likelihoods). --seed changes the training and validation draws and the init.
//
// Two composition-aware trainings, neither of which uses the other task's data:
// --noise: complement noise (restrictRoadPairs; what `roadster train --complement-noise` and the demo use): at
//   every micro-batch the pairs outside the adapter's subspace (frozen by its mask) take random values,
//   θ ~ N(0, σθ²) and α ~ 1 + N(0, σα²), and return to the identity after it, so that the adapter learns its task
//   under whatever another adapter might do there (the trained adapters' rms |θ| and |α − 1| are printed);
// --distill K: K random prompt positions of every training example carry the base model's arg-max next token as
//   their label (hard self-distillation on the adapter's own texts): the adapter learns its task while keeping
//   the base model's predictions elsewhere.
// --b-parts locates where B disturbs A: A·B' on spam, with B' = B kept in one decoder layer only (the identity
//   elsewhere), then in one module type only (q_proj, ..., down_proj), each printed with its margins.
// --refit-threshold also scores each task with its decision threshold on the margin re-fitted on the task's own
//   training examples (for the single adapter and for A·B): no parameter is trained, but the training data is read.
//
// Prints one JSON line per result.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { composeAdapters } from '../src/adapters/compose.ts';
import type { AdapterEntry } from '../src/adapters/kind.ts';
import type { AdapterConfig } from '../src/adapters/kinds.ts';
import { loraConfig } from '../src/adapters/lora/config.ts';
import { PeftModel } from '../src/adapters/peft-model.ts';
import { roadConfig } from '../src/adapters/road/config.ts';
import { parsePairSelection } from '../src/adapters/road/pairs.ts';
import { parseComplementNoise, restrictRoadPairs } from '../src/adapters/subspace.ts';
import { DEFAULT_COMPOSE_DEMO_OPTIONS } from '../src/demo/compose-demo.ts';
import { SHIPPED_MODEL_DIR } from '../src/demo/shipped-model.ts';
import { balancedPassages, isTestPassage, loadSotuPassages } from '../src/demo/sotu-data.ts';
import { balancedSample, emailText, isTestEmail, loadSpamAssassin } from '../src/demo/spam-data.ts';
import { Tokenizer } from '../src/io/tokenizer/index.ts';
import { CausalLM } from '../src/models/causal-lm.ts';
import { withLabelWords } from '../src/models/label-words.ts';
import { Runtime } from '../src/runtime/index.ts';
import { seededNormals } from '../src/seeded-random.ts';
import { promptOf } from '../src/train/classify.ts';
import { TokenizedDataset, type TokenizedExample, defaultPadId, labelWordIds, loadDataset } from '../src/train/data/index.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../src/train/trainer.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    'spam-lr': { type: 'string', default: '2e-2,5e-2' },
    'era-lr': { type: 'string', default: '5e-2' },
    'val-per-class': { type: 'string', default: '100' },
    'max-chars': { type: 'string' },
    'max-length': { type: 'string' },
    'spam-sep': { type: 'string', default: '\nSpam:' },
    'spam-words': { type: 'string', default: 'no,yes' },
    'all-pairs': { type: 'boolean', default: false },
    'b-on-spam': { type: 'boolean', default: false },
    'b-parts': { type: 'boolean', default: false },
    'spam-steps': { type: 'string' },
    'era-steps': { type: 'string' },
    'lora-lr': { type: 'string', default: '' },
    noise: { type: 'string' },
    distill: { type: 'string' },
    'refit-threshold': { type: 'boolean', default: false },
    objective: { type: 'string', default: 'label-words' },
    seed: { type: 'string' },
    targets: { type: 'string', default: 'all-linear' },
    model: { type: 'string', default: SHIPPED_MODEL_DIR },
    'train-per-class': { type: 'string' },
    'pairs-a': { type: 'string', default: '0/2' },
    'pairs-b': { type: 'string', default: '1/2' },
  },
});
const o = {
  ...DEFAULT_COMPOSE_DEMO_OPTIONS,
  ...(values.steps ? { steps: Number(values.steps) } : {}),
  ...(values['max-chars'] ? { maxChars: Number(values['max-chars']) } : {}),
  ...(values['max-length'] ? { maxLength: Number(values['max-length']) } : {}),
  ...(values.seed ? { seed: Number(values.seed) } : {}),
  ...(values['train-per-class'] ? { trainPerClass: Number(values['train-per-class']) } : {}),
};
if (values.objective !== 'label-words' && values.objective !== 'lm') throw new Error(`--objective is label-words or lm, not ${values.objective}`);
const labelWords = values.objective === 'label-words';
const list = (s: string | undefined) => (s ? s.split(',').filter((x) => x !== '').map(Number) : []);
const valPerClass = Number(values['val-per-class']);
const out = (record: object) => console.log(JSON.stringify(record));

const scratch = mkdtempSync(join(tmpdir(), 'roadster-compose-sweep-'));
const runtime = new Runtime({ threads: availableParallelism() });
try {
  const modelDir = values.model!;
  const base = await CausalLM.fromFolder(modelDir);
  const tokenizer = await Tokenizer.fromFolder(modelDir);
  const padId = defaultPadId(tokenizer);
  const { seed, maxChars, trainPerClass: n } = o;
  const emailPool = loadSpamAssassin().filter((e) => !isTestEmail(e));
  const spamTrain = balancedSample(emailPool, n, seed + 11); // the demo's own draw
  const usedEmails = new Set(spamTrain.map((e) => e.id));
  const spamVal = balancedSample(emailPool.filter((e) => !usedEmails.has(e.id)), valPerClass, seed + 29);
  const sotuPool = loadSotuPassages(maxChars).filter((p) => !isTestPassage(p));
  const eraTrain = balancedPassages(sotuPool, n, seed + 31);
  const usedPassages = new Set(eraTrain);
  const eraVal = balancedPassages(sotuPool.filter((p) => !usedPassages.has(p)), valPerClass, seed + 41);
  const load = async (name: string, records: { text: string; label: string }[], labelNames: string[], promptSeparator: string, classify = false) => {
    const file = join(scratch, `${name}.jsonl`);
    writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const mode = classify ? { labelMode: 'classify' as const, classifySuffix: promptSeparator } : { promptSeparator };
    return (await loadDataset(file, { tokenizer, maxLength: o.maxLength, labelNames, ...mode })).dataset;
  };
  const spamSep = values['spam-sep']!;
  const spamWords = values['spam-words']!.split(',');
  const spamRecords = (emails: typeof spamTrain) => emails.map((e) => ({ text: emailText(e, maxChars), label: spamWords[e.label === 'ham' ? 0 : 1] }));
  const eraRecords = (ps: typeof eraTrain) => ps.map((p) => ({ text: p.text.slice(0, maxChars), label: p.label }));
  const sets = {
    spamTrain: await load('spam-train', spamRecords(spamTrain), spamWords, spamSep),
    spamVal: await load('spam-val', spamRecords(spamVal), spamWords, spamSep),
    eraTrain: await load('era-train', eraRecords(eraTrain), ['early', 'modern'], '\nEra:'),
    eraVal: await load('era-val', eraRecords(eraVal), ['early', 'modern'], '\nEra:'),
  };
  // --objective label-words (the demo's): each adapter trains on its task's label-words model (the loss over the
  // two label tokens at the cue's last token, models/label-words.ts) on classify-mode records with the cue as
  // suffix; --objective lm trains the causal-LM loss on the label words and EOS
  const classifySets = labelWords
    ? {
        spam: await load('spam-train-cls', spamRecords(spamTrain), spamWords, spamSep, true),
        era: await load('era-train-cls', eraRecords(eraTrain), ['early', 'modern'], '\nEra:', true),
      }
    : null;
  const labelWordsModel = (set: TokenizedDataset, cue: string) =>
    withLabelWords(base, { id2label: set.info.classNames!, tokenIds: labelWordIds(tokenizer, set.info.classNames!, cue) });
  out({ settings: { steps: o.steps, maxChars, maxLength: o.maxLength, spamSep, spamWords, train: n, val: valPerClass } });
  // --distill K: K prompt positions per training example also carry the base model's own arg-max next token as
  // their label (hard self-distillation), so the adapter learns its task while keeping the base model's
  // predictions on its own texts (a locality regulariser that needs no data of the other task).
  if (values.distill) {
    if (labelWords) throw new Error('--distill labels prompt positions for the causal-LM loss: give --objective lm');
    const k = Number(values.distill);
    const normal = seededNormals(seed + 7);
    const distill = async (set: TokenizedDataset): Promise<TokenizedDataset> => {
      const examples: TokenizedExample[] = [];
      for (let start = 0; start < set.examples.length; start += 8) {
        const chunk = set.examples.slice(start, start + 8);
        const t = Math.max(...chunk.map((e) => e.inputIds.length));
        const batch = { inputIds: chunk.map((e) => [...e.inputIds, ...new Array<number>(t - e.inputIds.length).fill(padId)]), attentionMask: chunk.map((e) => [...e.inputIds.map(() => 1), ...new Array<number>(t - e.inputIds.length).fill(0)]) };
        const logits = (await base.forward(runtime, batch)).logits;
        const v = logits.shape[2];
        const data = logits.data as Float32Array;
        chunk.forEach((e, i) => {
          const first = e.labels.findIndex((l) => l !== -100);
          const labels = [...e.labels];
          const positions = Array.from({ length: first - 1 }, (_, j) => j + 1); // targets 1..first-1
          for (let j = positions.length - 1; j > 0; j--) {
            const r = Math.floor((0.5 + 0.5 * Math.tanh(normal())) * (j + 1)) % (j + 1);
            [positions[j], positions[r]] = [positions[r], positions[j]];
          }
          for (const target of positions.slice(0, k)) {
            const off = (i * t + target - 1) * v;
            let best = 0;
            for (let c = 1; c < v; c++) if (data[off + c] > data[off + best]) best = c;
            labels[target] = best;
          }
          examples.push({ ...e, labels });
        });
      }
      return new TokenizedDataset(examples, set.info);
    };
    sets.spamTrain = await distill(sets.spamTrain);
    sets.eraTrain = await distill(sets.eraTrain);
  }

  const modelType = base.config.modelType;
  const targetModules = values.targets === 'all-linear' ? 'all-linear' : values.targets!.split(',');
  const road = () => roadConfig({ variant: o.variant, groupSize: o.groupSize, targetModules, baseModelNameOrPath: modelDir }, modelType);
  const lora = () => loraConfig({ r: o.loraRank, loraAlpha: 2 * o.loraRank, targetModules: 'all-linear', baseModelNameOrPath: modelDir }, modelType);
  const train = async (name: string, config: AdapterConfig, given: TokenizedDataset, pairs: string | null, lr: number, steps = o.steps) => {
    const t0 = performance.now();
    let set = given;
    let model = base;
    if (classifySets !== null) {
      const spam = given === sets.spamTrain;
      model = labelWordsModel(given, spam ? spamSep : '\nEra:');
      set = spam ? classifySets.spam : classifySets.era;
    }
    const peft = PeftModel.getPeftModel(model, runtime, config, name, seed);
    // --noise: the library's complement noise (restrictRoadPairs, adapters/frozen-noise.ts)
    if (pairs !== null) restrictRoadPairs(peft, name, parsePairSelection(pairs), values.noise ? parseComplementNoise(values.noise, '--noise') : null);
    const source = set.batchSource({ batchSize: o.batchSize, seed, mode: 'length', padId });
    const cfg = { ...DEFAULT_TRAIN_CONFIG, lr, maxSteps: steps, warmupSteps: Math.round(steps / 10), schedule: 'cosine' as const, seed, outDir: join(scratch, name) };
    const report = await new Trainer(peft, name, source, null, cfg).run();
    const spread = (key: string) => {
      const xs: number[] = [];
      for (const [pname, arr] of peft.namedParameters(name)) if (pname.includes(key)) for (const x of arr) if (key === 'road_theta' ? x !== 0 : x !== 1) xs.push(key === 'road_theta' ? x : x - 1);
      return +Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / Math.max(1, xs.length)).toFixed(4);
    };
    out({ trained: name, lr, steps, loss: report.finalTrainLoss, seconds: Math.round((performance.now() - t0) / 1000), rmsTheta: spread('road_theta'), rmsLogAlpha: spread('road_alpha') });
    return peft.adapter(name);
  };

  const evaluator = new PeftModel(base, runtime);
  let added = 0;
  // Per prompt: log p(class 1 words) - log p(class 0 words) after it, the score classifyByLikelihood compares.
  const promptMargins = async (entry: AdapterEntry<AdapterConfig> | null, prompts: number[][], completions: readonly (readonly number[])[]): Promise<number[]> => {
    if (entry !== null) {
      const name = `e${added++}`;
      evaluator.addAdapterFromParams(name, entry.config, entry.params);
      evaluator.setAdapter(name);
    }
    const result: number[] = [];
    for (let start = 0; start < prompts.length; start += 8) {
      const rows = prompts.slice(start, start + 8).flatMap((prompt) => completions.map((c) => ({ prompt, c })));
      const seqs = rows.map((r) => [...r.prompt, ...r.c]);
      const t = Math.max(...seqs.map((s) => s.length));
      const batch = { inputIds: seqs.map((s) => [...s, ...new Array<number>(t - s.length).fill(padId)]), attentionMask: seqs.map((s) => [...s.map(() => 1), ...new Array<number>(t - s.length).fill(0)]) };
      const logits = entry === null ? (await base.forward(runtime, batch)).logits : (await evaluator.forward(batch)).logits;
      const v = logits.shape[2];
      const data = logits.data as Float32Array;
      const score = rows.map((r, i) =>
        r.c.reduce((acc, token, j) => {
          const off = (i * t + r.prompt.length - 1 + j) * v;
          let max = -Infinity;
          for (let k = 0; k < v; k++) max = Math.max(max, data[off + k]);
          let sum = 0;
          for (let k = 0; k < v; k++) sum += Math.exp(data[off + k] - max);
          return acc + data[off + token] - max - Math.log(sum);
        }, 0),
      );
      for (let i = 0; i < rows.length; i += completions.length) result.push(score[i + 1] - score[i]);
    }
    return result;
  };
  // label words score the label token alone (what their loss trains); the lm objective the label's words and EOS
  const completionsOf = (set: TokenizedDataset) => set.info.classCompletions!.map((c) => (labelWords ? c.slice(0, 1) : c));
  // Content-free inputs (Zhao et al. 2021, "Calibrate before use"): the margin the model gives with no content.
  const contentFree = (set: TokenizedDataset, sep: string, texts: string[]) =>
    texts.map((text) => [...tokenizer.encode(text), ...tokenizer.encode(sep, { addSpecialTokens: false })]);
  const cf = {
    spam: contentFree(sets.spamVal, spamSep, ['Subject: \n', 'Subject: N/A\nN/A', '']),
    era: contentFree(sets.eraVal, '\nEra:', ['', 'N/A', '[MASK]']),
  };
  const margins = async (entry: AdapterEntry<AdapterConfig> | null, set: TokenizedDataset): Promise<number[] & { cf?: number }> => {
    const m: number[] & { cf?: number } = await promptMargins(entry, set.examples.map(promptOf), completionsOf(set));
    const free = await promptMargins(entry, set === sets.spamVal ? cf.spam : cf.era, completionsOf(set));
    m.cf = free.reduce((a, b) => a + b, 0) / free.length;
    return m;
  };
  const stats = (label: string, m: number[] & { cf?: number }, set: TokenizedDataset) => {
    const y = set.examples.map((e) => e.classLabel!);
    const acc = m.filter((x, i) => (x > 0 ? 1 : 0) === y[i]).length / m.length;
    const pos = m.filter((_, i) => y[i] === 1);
    const neg = m.filter((_, i) => y[i] === 0);
    let wins = 0;
    for (const p of pos) for (const q of neg) wins += p > q ? 1 : p === q ? 0.5 : 0;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const cfm = m.cf ?? 0;
    const calibrated = m.filter((x, i) => (x - cfm > 0 ? 1 : 0) === y[i]).length / m.length;
    out({ eval: label, acc, calibrated, cf: +cfm.toFixed(3), auc: wins / (pos.length * neg.length), meanMargin1: +mean(pos).toFixed(3), meanMargin0: +mean(neg).toFixed(3) });
  };
  const evalAll = async (tag: string, a: AdapterEntry<AdapterConfig>, b: AdapterEntry<AdapterConfig>, combination?: 'cat' | 'linear') => {
    const ab = composeAdapters([{ entry: a }, { entry: b }], { combination });
    const abEntry = { name: 'ab', config: ab.config, params: ab.params } as AdapterEntry<AdapterConfig>;
    stats(`${tag} A on spam`, await margins(a, sets.spamVal), sets.spamVal);
    stats(`${tag} A·B on spam`, await margins(abEntry, sets.spamVal), sets.spamVal);
    if (values['b-on-spam']) stats(`${tag} B on spam`, await margins(b, sets.spamVal), sets.spamVal);
    if (values['b-parts'] && combination === undefined) {
      // B kept where `keep(module path)` holds, the identity (θ 0, α 1) elsewhere
      const part = (keep: (key: string) => boolean): AdapterEntry<AdapterConfig> => {
        const params = new Map([...b.params].map(([key, record]) => [key, keep(key) ? record : Object.fromEntries(Object.entries(record).map(([n, arr]) => [n, arr.map(() => (n === 'road_theta' ? 0 : 1))]))]));
        return { ...b, params } as AdapterEntry<AdapterConfig>;
      };
      const keys = [...b.params.keys()];
      const layers = [...new Set(keys.map((k) => /layers\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined))];
      const modules = [...new Set(keys.map((k) => /(\w+_proj)$/.exec(k)?.[1]).filter((x) => x !== undefined))];
      const withPart = async (label: string, keep: (key: string) => boolean) => {
        const c = composeAdapters([{ entry: a }, { entry: part(keep) }]);
        stats(`${tag} A·B[${label}] on spam`, await margins({ name: 'abp', config: c.config, params: c.params } as AdapterEntry<AdapterConfig>, sets.spamVal), sets.spamVal);
      };
      for (const l of layers) await withPart(`layer ${l}`, (k) => k.includes(`layers.${l}.`));
      for (const m of modules) await withPart(m!, (k) => k.endsWith(`.${m}`));
    }
    stats(`${tag} B on era`, await margins(b, sets.eraVal), sets.eraVal);
    stats(`${tag} A·B on era`, await margins(abEntry, sets.eraVal), sets.eraVal);
    if (values['refit-threshold']) {
      // each task's decision threshold on the margin re-fitted on that task's own training examples, then applied to
      // its validation examples: nothing is trained, but the composed model is scored with its training data
      for (const [task, train, val] of [['spam', sets.spamTrain, sets.spamVal], ['era', sets.eraTrain, sets.eraVal]] as const) {
        for (const [who, entry] of [[task === 'spam' ? 'A' : 'B', task === 'spam' ? a : b], ['A·B', abEntry]] as const) {
          const fit = await promptMargins(entry, train.examples.map(promptOf), completionsOf(train));
          const y = train.examples.map((e) => e.classLabel!);
          const candidates = [...fit].sort((p, q) => p - q);
          let best = { t: 0, acc: -1 };
          for (let i = 0; i <= candidates.length; i++) {
            const t = i === 0 ? candidates[0] - 1 : i === candidates.length ? candidates[i - 1] + 1 : (candidates[i - 1] + candidates[i]) / 2;
            const acc = fit.filter((x, k) => (x > t ? 1 : 0) === y[k]).length / fit.length;
            if (acc > best.acc) best = { t, acc };
          }
          const m = await promptMargins(entry, val.examples.map(promptOf), completionsOf(val));
          const yv = val.examples.map((e) => e.classLabel!);
          out({ eval: `${tag} ${who} on ${task}, threshold re-fitted on its training examples`, threshold: +best.t.toFixed(3), trainAcc: best.acc, acc: m.filter((x, k) => (x > best.t ? 1 : 0) === yv[k]).length / m.length });
        }
      }
    }
  };

  stats('base on spam', await margins(null, sets.spamVal), sets.spamVal);
  for (const eraLr of list(values['era-lr'])) {
    const b = await train(`B_${eraLr}`, road(), sets.eraTrain, values['all-pairs'] ? null : values['pairs-b']!, eraLr, Number(values['era-steps'] ?? o.steps));
    for (const spamLr of list(values['spam-lr'])) {
      const a = await train(`A_${spamLr}`, road(), sets.spamTrain, values['all-pairs'] ? null : values['pairs-a']!, spamLr, Number(values['spam-steps'] ?? o.steps));
      await evalAll(`${values['all-pairs'] ? 'all-pairs ' : ''}A@${spamLr} B@${eraLr}`, a, b);
    }
  }
  for (const lr of list(values['lora-lr'])) {
    const a = await train(`A_lora_${lr}`, lora(), sets.spamTrain, null, lr);
    const b = await train(`B_lora_${lr}`, lora(), sets.eraTrain, null, lr);
    await evalAll(`LoRA cat @${lr}`, a, b, 'cat');
    await evalAll(`LoRA linear @${lr}`, a, b, 'linear');
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
  await runtime.release();
}
