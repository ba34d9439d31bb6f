// Continued pretraining of the shipped base model on e-mail text (domain-adaptive pretraining): next-token
// training of every weight on the Subject + body of the SpamAssassin e-mails of the demo's training pool (the
// fixed test split is never read, and labels are not used), so that the base model has seen e-mail before RoAd
// adapts it. Optionally holds out the validation fold that `scripts/demo-sweep.ts --hold-out-first` scores, so
// that the sweep stays honest. Writes a model folder (BF16, the base model's tokenizer, MANIFEST.json).
//
//   npx tsx scripts/pretrain/adapt-email.ts --out DIR [--steps 300] [--batch 8] [--seq 256] [--lr 1e-3]
//     [--max-chars 2000] [--hold-out-val 150] [--threads N] [--from DIR]
//
// --from continues from another model folder of the same tokenizer (default: the shipped model).

import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_OPTIONS } from '../../src/demo/options.ts';
import { SHIPPED_MODEL_DIR } from '../../src/demo/shipped-model.ts';
import { balancedSample, emailText, isTestEmail, loadSpamAssassin } from '../../src/demo/spam-data.ts';
import { CausalLM, Runtime } from '../../src/index.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import { encodeFloat32, writeSafetensors } from '../../src/io/safetensors/index.ts';
import { causalLmTensors } from '../../src/models/heads/lm-head.ts';
import { encodeDocuments } from './corpus-tokenizer.ts';
import { FullParameterTrainer } from './full-trainer.ts';
import { writeManifest } from './run.ts';
import { WindowSampler, evalWindows } from './windows.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    steps: { type: 'string', default: '300' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '256' },
    lr: { type: 'string', default: '1e-3' },
    'max-chars': { type: 'string', default: '2000' },
    'hold-out-val': { type: 'string', default: '0' },
    threads: { type: 'string' },
    from: { type: 'string' },
  },
});
if (!values.out) throw new Error('--out DIR is required');
const steps = Number(values.steps);
const batch = Number(values.batch);
const seq = Number(values.seq);
const heldPerClass = Number(values['hold-out-val']);
const log = (line: string) => process.stderr.write(`${line}\n`);

const pool = loadSpamAssassin().filter((e) => !isTestEmail(e));
const held = new Set(heldPerClass > 0 ? balancedSample(pool, heldPerClass, DEFAULT_DEMO_OPTIONS.seed + 29).map((e) => e.id) : []);
const docs = pool.filter((e) => !held.has(e.id)).map((e) => ({ id: e.id, source: 'spam-assassin', text: emailText(e, Number(values['max-chars'])) }));
const evalDocs = docs.filter((_, i) => i % 20 === 0); // a fixed 5 % of the documents, to watch the loss (also trained on)

const model = await CausalLM.fromFolder(values.from ?? SHIPPED_MODEL_DIR);
const tokenizer = await Tokenizer.fromFolder(SHIPPED_MODEL_DIR);
const ids = encodeDocuments(tokenizer, docs);
const evalIds = encodeDocuments(tokenizer, evalDocs);
log(`${docs.length} e-mails (${held.size} held out), ${ids.length} tokens; ${steps} steps × ${batch} × ${seq} = ${((steps * batch * seq) / ids.length).toFixed(2)} passes`);

const runtime = new Runtime(values.threads ? { threads: Number(values.threads) } : {});
const trainer = await FullParameterTrainer.create(model, runtime, { lr: Number(values.lr), warmupSteps: Math.round(steps / 10), totalSteps: steps, weightDecay: 0.1, betas: [0.9, 0.95], maxGradNorm: 1 });
const sampler = new WindowSampler(ids, seq, 0);
const evalBatches = evalWindows(evalIds, seq, batch, 32);
const t0 = performance.now();
log(`step 0: e-mail loss ${(await trainer.evaluate(evalBatches)).toFixed(4)}`);
let sum = 0;
for (let step = 1; step <= steps; step++) {
  const r = await trainer.trainStep(sampler.batch(batch));
  sum += r.loss;
  if (step % 25 === 0) {
    log(`step ${step}: loss ${(sum / 25).toFixed(4)} lr ${r.lr.toExponential(2)} ${((step * batch * seq) / ((performance.now() - t0) / 1000)).toFixed(0)} tok/s`);
    sum = 0;
  }
}
log(`step ${steps}: e-mail loss ${(await trainer.evaluate(evalBatches)).toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
await trainer.release();
await runtime.release();

mkdirSync(values.out, { recursive: true });
const tensors = causalLmTensors(model.config).map((spec) => ({ name: spec.name, dtype: 'BF16' as const, shape: spec.shape, data: encodeFloat32(model.weights.get(spec.name)!.data, 'BF16') }));
writeSafetensors(join(values.out, 'model.safetensors'), tensors, { format: 'pt' });
for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(SHIPPED_MODEL_DIR, f), join(values.out, f));
writeManifest(values.out);
log(`wrote ${values.out}`);
