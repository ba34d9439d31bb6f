// The learning-rate sweep behind `roadster demo`'s defaults: each trained row of the demo (head only, RoAd + head,
// LoRA + head) at several learning rates, trained as the demo trains it, scored on validation e-mails drawn from
// the training pool but outside the training sample. The test split is never read.
//
//   npx tsx scripts/demo-sweep.ts [--steps 200] [--train-per-class 300] [--val-per-class 100]
//     [--road 1e-3,3e-3,1e-2,2e-2] [--lora 3e-4,1e-3,3e-3] [--head 1e-3,3e-3,1e-2,3e-2,1e-1]
//     [--max-chars N] [--max-length N] [--hold-out-first] [--model DIR (default: the demo's, models/roadster-base-email)] [--suffix TEXT]
//
// --hold-out-first draws the validation e-mails before the training sample, so that runs with different
// training sizes are scored on the same e-mails. It is the honest choice on models/roadster-base-email: that
// model's continued pretraining read the text (not the labels) of every training-pool e-mail outside this fold.
//
// Prints one JSON line per run (method, lr, validation accuracy and loss, final training loss, seconds).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loraConfig } from '../src/adapters/lora/config.ts';
import { SEQ_CLS } from '../src/adapters/modules-to-save.ts';
import { PeftModel } from '../src/adapters/peft-model.ts';
import { roadConfig } from '../src/adapters/road/config.ts';
import { scorePredictions } from '../src/demo/classify-set.ts';
import { pooledFeatures, probePredictions, trainProbe } from '../src/demo/linear-probe.ts';
import { DEFAULT_DEMO_OPTIONS } from '../src/demo/options.ts';
import { EMAIL_MODEL_DIR } from '../src/demo/shipped-model.ts';
import { balancedSample, emailText, isTestEmail, loadSpamAssassin } from '../src/demo/spam-data.ts';
import { Tokenizer } from '../src/io/tokenizer/index.ts';
import { CausalLM } from '../src/models/causal-lm.ts';
import { withClassificationHead } from '../src/models/sequence-classification.ts';
import { Runtime } from '../src/runtime/index.ts';
import { defaultPadId, loadDataset } from '../src/train/data/index.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../src/train/trainer.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '200' },
    'train-per-class': { type: 'string', default: '300' },
    'val-per-class': { type: 'string', default: '100' },
    road: { type: 'string', default: '1e-3,3e-3,1e-2,2e-2' },
    lora: { type: 'string', default: '3e-4,1e-3,3e-3' },
    head: { type: 'string', default: '1e-3,3e-3,1e-2,3e-2,1e-1' },
    'max-chars': { type: 'string' },
    'max-length': { type: 'string' },
    'hold-out-first': { type: 'boolean', default: false },
    model: { type: 'string' },
    suffix: { type: 'string' },
  },
});
const o = {
  ...DEFAULT_DEMO_OPTIONS,
  steps: Number(values.steps),
  trainPerClass: Number(values['train-per-class']),
  ...(values['max-chars'] ? { maxChars: Number(values['max-chars']) } : {}),
  ...(values['max-length'] ? { maxLength: Number(values['max-length']) } : {}),
  ...(values.suffix !== undefined ? { classifySuffix: values.suffix } : {}),
};
const list = (s: string | undefined) => (s ? s.split(',').filter((x) => x !== '').map(Number) : []);

const scratch = mkdtempSync(join(tmpdir(), 'roadster-demo-sweep-'));
const runtime = new Runtime({ threads: availableParallelism(), quantizeWeights: 'none' });
try {
  const base = await CausalLM.fromFolder(values.model ?? EMAIL_MODEL_DIR);
  const tokenizer = await Tokenizer.fromFolder(values.model ?? EMAIL_MODEL_DIR);
  const pool = loadSpamAssassin().filter((e) => !isTestEmail(e));
  const valPerClass = Number(values['val-per-class']);
  let train: ReturnType<typeof balancedSample>;
  let val: ReturnType<typeof balancedSample>;
  if (values['hold-out-first']) {
    // a fixed validation fold first, so that runs with different training sizes are scored on the same e-mails
    val = balancedSample(pool, valPerClass, o.seed + 29);
    const held = new Set(val.map((e) => e.id));
    train = balancedSample(pool.filter((e) => !held.has(e.id)), o.trainPerClass, o.seed + 11);
  } else {
    train = balancedSample(pool, o.trainPerClass, o.seed + 11); // the demo's own draw
    const used = new Set(train.map((e) => e.id));
    val = balancedSample(pool.filter((e) => !used.has(e.id)), valPerClass, o.seed + 29);
  }
  const load = async (name: string, emails: typeof train) => {
    const file = join(scratch, `${name}.jsonl`);
    writeFileSync(file, emails.map((e) => JSON.stringify({ text: emailText(e, o.maxChars), label: e.label })).join('\n') + '\n');
    return (await loadDataset(file, { tokenizer, maxLength: o.maxLength, labelMode: 'classify', classifySuffix: o.classifySuffix, labelNames: ['ham', 'spam'] })).dataset;
  };
  const trainSet = await load('train', train);
  const valSet = await load('val', val);
  const padId = defaultPadId(tokenizer);
  const batches = () => trainSet.batchSource({ batchSize: o.batchSize, seed: o.seed, mode: 'length', padId });
  const schedule = { ...DEFAULT_TRAIN_CONFIG, maxSteps: o.steps, warmupSteps: Math.round(o.steps / 10), schedule: 'cosine' as const, seed: o.seed };
  const print = (row: Record<string, unknown>) => console.log(JSON.stringify({ steps: o.steps, maxChars: o.maxChars, maxLength: o.maxLength, suffix: o.classifySuffix, trainExamples: trainSet.size, valExamples: valSet.size, ...row }));

  const features = await pooledFeatures(base, runtime, [...trainSet.examples, ...valSet.examples], { padId });
  for (const lr of list(values.head)) {
    const probe = trainProbe(features, batches(), 2, { ...schedule, lr }, { seed: o.seed });
    const { accuracy } = scorePredictions(probePredictions(features, probe.weight, 2, valSet.examples), valSet.examples, 2);
    print({ method: 'head', lr, valAccuracy: accuracy, finalTrainLoss: probe.losses.at(-1), seconds: probe.timeSeconds });
  }

  const classifier = withClassificationHead(base, { id2label: ['ham', 'spam'], seed: o.seed, padTokenId: padId });
  const runs = [...list(values.road).map((lr) => ['road', lr] as const), ...list(values.lora).map((lr) => ['lora', lr] as const)];
  for (const [method, lr] of runs) {
    const config =
      method === 'road'
        ? roadConfig({ variant: o.variant, groupSize: o.groupSize, targetModules: 'all-linear', taskType: SEQ_CLS }, base.config.modelType)
        : loraConfig({ r: o.loraRank, loraAlpha: 2 * o.loraRank, targetModules: 'all-linear', taskType: SEQ_CLS }, base.config.modelType);
    const peft = PeftModel.getPeftModel(classifier, runtime, config, 'default', o.seed);
    const evalSet = valSet.batchSource({ batchSize: 16, seed: o.seed, mode: 'length', padId });
    const report = await new Trainer(peft, 'default', batches(), evalSet, { ...schedule, lr, outDir: join(scratch, `${method}-${lr}`) }).run();
    print({ method, lr, valAccuracy: report.evalAccuracy, valLoss: report.finalEvalLoss, finalTrainLoss: report.finalTrainLoss, seconds: report.timeSeconds });
  }
} finally {
  await runtime.release();
  rmSync(scratch, { recursive: true, force: true });
}
