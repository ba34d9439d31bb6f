// The pretraining run behind scripts/pretrain/pretrain.ts: corpus → tokenizer → token streams → randomly
// initialised Llama → full-parameter training with periodic validation → a Hugging Face model folder (BF16
// safetensors, config, generation config, tokenizer files, training log, report and model card), checked by
// loading it back. Everything random is seeded by `seed`.

import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CausalLM, Runtime, greedyGenerate, writeRandomModel } from '../../src/index.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { saveTokenizer } from '../../src/io/tokenizer/bpe-trainer.ts';
import { encodeFloat32, writeSafetensors } from '../../src/io/safetensors/index.ts';
import { causalLmTensors } from '../../src/models/heads/lm-head.ts';
import { type Corpus, loadEmailSample } from './corpus.ts';
import { END_OF_TEXT, charsPerToken, encodeDocuments, trainCorpusTokenizer } from './corpus-tokenizer.ts';
import { FullParameterTrainer } from './full-trainer.ts';
import { modelCard } from './model-card.ts';
import { type ModelSize, llamaConfigJson, parameterCount } from './model-config.ts';
import { WindowSampler, evalWindows } from './windows.ts';

export interface PretrainOptions {
  readonly out: string;
  readonly corpus: Corpus;
  readonly size: ModelSize;
  readonly vocabSize: number;
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  readonly lr: number;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  readonly seed: number;
  readonly logEvery: number;
  readonly evalEvery: number;
  /** Validation windows per evaluation (all of them when larger than the validation stream allows). */
  readonly evalWindows: number;
  readonly threads?: number;
  /** Measure characters per token on a SpamAssassin sample (when the package is installed). */
  readonly measureEmail: boolean;
  /** Prompts for greedy samples in the report. */
  readonly samplePrompts: readonly string[];
  /** The command line, for the model card. */
  readonly command: string;
  readonly log: (line: string) => void;
}

export interface EvalPoint {
  readonly step: number;
  readonly valLoss: number;
}

/** Everything the model card reports (also written as pretrain_report.json). */
export interface PretrainReport {
  readonly corpus: Corpus['sources'];
  readonly trainDocuments: number;
  readonly validationDocuments: number;
  readonly trainTokens: number;
  readonly validationTokens: number;
  readonly vocabSize: number;
  readonly charsPerToken: { readonly validation: number; readonly email: { readonly ratio: number; readonly emails: number; readonly version: string } | null };
  readonly config: Record<string, unknown>;
  readonly parameters: number;
  readonly hyper: Omit<PretrainOptions, 'out' | 'corpus' | 'log' | 'command' | 'samplePrompts' | 'measureEmail'>;
  readonly tokensSeen: number;
  readonly epochs: number;
  readonly seconds: { readonly total: number; readonly training: number; readonly run: number; readonly update: number; readonly compile: number };
  readonly tokensPerSecond: number;
  /** Slowest and fastest logging interval (tokens/s; the machine is shared, so this varies). */
  readonly tokensPerSecondRange?: readonly [number, number];
  readonly finalTrainLoss: number;
  /** Loss of the float32 weights on as many fixed training windows as validation uses. */
  readonly trainEvalLoss: number;
  readonly valLoss: number;
  /** Validation loss of the saved BF16 weights, loaded back from the folder. */
  readonly savedValLoss: number;
  readonly evals: readonly EvalPoint[];
  readonly samples: readonly { readonly prompt: string; readonly completion: string }[];
  readonly machine: string;
  readonly command: string;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Runs the whole pretraining and writes the model folder; returns the report. */
export async function runPretraining(o: PretrainOptions): Promise<PretrainReport> {
  const start = performance.now();
  const { corpus, log } = o;
  mkdirSync(o.out, { recursive: true });

  // tokenizer: trained on the training documents only
  let t0 = performance.now();
  const bpe = trainCorpusTokenizer(corpus.train, o.vocabSize, log);
  saveTokenizer(o.out, bpe, { roles: { bos: END_OF_TEXT, eos: END_OF_TEXT, pad: END_OF_TEXT }, modelMaxLength: o.size.maxPositions });
  const tokenizer = await Tokenizer.fromFolder(o.out);
  const eosId = tokenizer.tokenToId(END_OF_TEXT)!;
  const valChars = charsPerToken(tokenizer, corpus.validation.map((d) => d.text));
  const email = o.measureEmail ? loadEmailSample(10) : null;
  const emailChars = email ? { ...charsPerToken(tokenizer, email.texts), emails: email.texts.length, version: email.version } : null;
  const trainIds = encodeDocuments(tokenizer, corpus.train);
  const valIds = encodeDocuments(tokenizer, corpus.validation);
  log(`tokenizer: ${tokenizer.vocabSize} tokens, ${valChars.ratio.toFixed(2)} chars/token on validation` +
    (emailChars ? `, ${emailChars.ratio.toFixed(2)} on ${emailChars.emails} e-mails` : '') +
    `; ${trainIds.length} training and ${valIds.length} validation tokens (${seconds(t0).toFixed(1)} s)`);

  // model: transformers' Llama init, seeded, kept in float32 while training
  const configJson = llamaConfigJson(o.size, tokenizer.vocabSize, eosId);
  const initDir = mkdtempSync(join(tmpdir(), 'roadster-pretrain-'));
  let model: CausalLM;
  try {
    writeRandomModel(initDir, configJson, { seed: o.seed, dtype: 'F32' });
    model = await CausalLM.fromFolder(initDir);
  } finally {
    rmSync(initDir, { recursive: true, force: true });
  }
  const parameters = parameterCount(o.size, tokenizer.vocabSize);
  log(`model: ${parameters} parameters (${o.size.layers} layers, hidden ${o.size.hiddenSize}, vocab ${tokenizer.vocabSize})`);

  const runtime = new Runtime(o.threads ? { threads: o.threads } : {});
  const logPath = join(o.out, 'training_log.jsonl');
  writeFileSync(logPath, '');
  const record = (r: Record<string, unknown>) => appendFileSync(logPath, JSON.stringify(r) + '\n');
  try {
    t0 = performance.now();
    const trainer = await FullParameterTrainer.create(model, runtime, {
      lr: o.lr,
      warmupSteps: o.warmupSteps,
      totalSteps: o.steps,
      weightDecay: o.weightDecay,
      betas: [0.9, 0.95],
      maxGradNorm: o.maxGradNorm,
    });
    const compileSeconds = seconds(t0);
    const sampler = new WindowSampler(trainIds, o.seq, o.seed);
    const valBatches = evalWindows(valIds, o.seq, o.batch, o.evalWindows);
    const evals: EvalPoint[] = [];
    const evaluate = async (step: number) => {
      const valLoss = await trainer.evaluate(valBatches);
      evals.push({ step, valLoss });
      record({ type: 'eval', step, val_loss: valLoss, val_ppl: Math.exp(valLoss) });
      log(`eval step ${step}: val loss ${valLoss.toFixed(4)} ppl ${Math.exp(valLoss).toFixed(1)}`);
    };
    await evaluate(0);

    let runSeconds = 0;
    let updateSeconds = 0;
    let trainingSeconds = 0;
    const recent: number[] = [];
    let window = { loss: 0, n: 0, t: performance.now() };
    const rates: number[] = [];
    for (let step = 1; step <= o.steps; step++) {
      const t = performance.now();
      const r = await trainer.trainStep(sampler.batch(o.batch));
      trainingSeconds += seconds(t);
      runSeconds += r.runSeconds;
      updateSeconds += r.updateSeconds;
      recent.push(r.loss);
      if (recent.length > 50) recent.shift();
      window.loss += r.loss;
      window.n++;
      if (step % o.logEvery === 0 || step === o.steps) {
        const tps = (window.n * o.batch * o.seq) / seconds(window.t);
        if (step > o.logEvery) rates.push(tps); // the first interval includes ONNX Runtime's warm-up
        record({ type: 'train', step, loss: window.loss / window.n, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: tps, run_s: r.runSeconds, update_s: r.updateSeconds });
        log(`step ${step}/${o.steps}: loss ${(window.loss / window.n).toFixed(4)} lr ${r.lr.toExponential(2)} |g| ${r.gradNorm.toFixed(3)} ` +
          `${tps.toFixed(0)} tok/s (run ${r.runSeconds.toFixed(2)} s, update ${r.updateSeconds.toFixed(2)} s)`);
        window = { loss: 0, n: 0, t: performance.now() };
      }
      if (step % o.evalEvery === 0 && step !== o.steps) {
        await evaluate(step);
        window.t = performance.now(); // keep evaluation out of the training throughput
      }
    }
    await evaluate(o.steps);
    const trainEvalLoss = await trainer.evaluate(evalWindows(trainIds, o.seq, o.batch, valBatches.flat().length));
    await trainer.release();

    const configOut = { ...configJson, torch_dtype: 'bfloat16' };
    saveModel(o.out, model, configOut, eosId);
    const saved = await CausalLM.fromFolder(o.out);
    const savedValLoss = await meanLoss(saved, runtime, valBatches);
    const samples: { prompt: string; completion: string }[] = [];
    for (const prompt of o.samplePrompts) {
      const ids = [eosId, ...tokenizer.encode(prompt, { addSpecialTokens: false })];
      const [gen] = await greedyGenerate(saved, runtime, [ids], { maxNewTokens: 40, eosTokenIds: [eosId] });
      samples.push({ prompt, completion: tokenizer.decode(gen, { skipSpecialTokens: true }) });
    }
    const tokensSeen = o.steps * o.batch * o.seq;
    const report: PretrainReport = {
      corpus: corpus.sources,
      trainDocuments: corpus.train.length,
      validationDocuments: corpus.validation.length,
      trainTokens: trainIds.length,
      validationTokens: valIds.length,
      vocabSize: tokenizer.vocabSize,
      charsPerToken: { validation: valChars.ratio, email: emailChars && { ratio: emailChars.ratio, emails: emailChars.emails, version: emailChars.version } },
      config: configOut,
      parameters,
      hyper: {
        size: o.size, vocabSize: o.vocabSize, steps: o.steps, batch: o.batch, seq: o.seq, lr: o.lr, warmupSteps: o.warmupSteps,
        weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, seed: o.seed, logEvery: o.logEvery, evalEvery: o.evalEvery,
        evalWindows: o.evalWindows, threads: runtime.options.threads,
      },
      tokensSeen,
      epochs: tokensSeen / trainIds.length,
      seconds: { total: seconds(start), training: trainingSeconds, run: runSeconds, update: updateSeconds, compile: compileSeconds },
      tokensPerSecond: tokensSeen / trainingSeconds,
      tokensPerSecondRange: rates.length > 0 ? [Math.min(...rates), Math.max(...rates)] : undefined,
      finalTrainLoss: recent.reduce((a, b) => a + b, 0) / recent.length,
      trainEvalLoss,
      valLoss: evals[evals.length - 1].valLoss,
      savedValLoss,
      evals,
      samples,
      machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores`,
      command: o.command,
    };
    writeFileSync(join(o.out, 'pretrain_report.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(o.out, 'README.md'), modelCard(report));
    log(`done in ${report.seconds.total.toFixed(0)} s: val loss ${report.valLoss.toFixed(4)} (saved BF16: ${savedValLoss.toFixed(4)}), ` +
      `${report.tokensPerSecond.toFixed(0)} tok/s`);
    return report;
  } finally {
    await runtime.release();
  }
}

/** Mean loss of a loaded model over batches of windows. */
async function meanLoss(model: CausalLM, runtime: Runtime, batches: readonly (readonly Int32Array[])[]): Promise<number> {
  let sum = 0;
  let rows = 0;
  for (const batch of batches) {
    const inputIds = batch.map((r) => Array.from(r));
    const { loss } = await model.forward(runtime, { inputIds, labels: inputIds });
    sum += loss! * batch.length;
    rows += batch.length;
  }
  return sum / rows;
}

/** Writes model.safetensors (BF16), config.json and generation_config.json. */
function saveModel(folder: string, model: CausalLM, configJson: Record<string, unknown>, eosId: number): void {
  const tensors = causalLmTensors(model.config).map((spec) => ({
    name: spec.name,
    dtype: 'BF16' as const,
    shape: spec.shape,
    data: encodeFloat32(model.weights.get(spec.name)!.data, 'BF16'),
  }));
  writeSafetensors(join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileSync(join(folder, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
  const generation = { bos_token_id: eosId, eos_token_id: eosId, pad_token_id: eosId, transformers_version: configJson.transformers_version };
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify(generation, null, 2) + '\n');
  writeManifest(folder);
}

/** Files whose sha256 MANIFEST.json records (the demo checks the shipped copy against it). */
export const MANIFEST_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

/** Writes MANIFEST.json: `{"files": {name: sha256}}` of the model and tokenizer files. */
export function writeManifest(folder: string): void {
  const files = Object.fromEntries(MANIFEST_FILES.map((f) => [f, createHash('sha256').update(readFileSync(join(folder, f))).digest('hex')]));
  writeFileSync(join(folder, 'MANIFEST.json'), JSON.stringify({ files }, null, 2) + '\n');
}
