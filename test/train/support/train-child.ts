// Child process for the kill-and-resume test: trains (or resumes) the toy task into argv[2] and prints one
// line per optimizer step.

import { roadConfig } from '../../../src/adapters/road/config.ts';
import { PeftModel } from '../../../src/adapters/peft-model.ts';
import { CausalLM } from '../../../src/models/causal-lm.ts';
import { Runtime } from '../../../src/runtime/runtime.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../../../src/train/trainer.ts';
import { TINY_LLAMA } from '../../support/fixtures.ts';
import { toyBatches } from './toy-task.ts';

const [outDir, mode] = process.argv.slice(2);
const runtime = new Runtime({ threads: 1 });
const base = await CausalLM.fromFolder(TINY_LLAMA);
const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_2', groupSize: 8, targetModules: 'all-linear' }));
const trainer = new Trainer(peft, 'default', toyBatches(3, 2, 12), null, {
  ...DEFAULT_TRAIN_CONFIG,
  lr: 5e-3,
  maxSteps: 12,
  saveEvery: 2,
  keepCheckpoints: 3,
  outDir,
}, { onStep: (r) => process.stdout.write(`step ${r.step} ${r.loss}\n`) });
if (mode === 'resume') trainer.resume();
await trainer.run();
await runtime.release();
