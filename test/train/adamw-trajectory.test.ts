// The fixture's 10 full-batch AdamW steps of RoAd road_1 (group 8, all-linear) on tiny-llama, from PEFT's
// identity init: losses and gradient norms at every step, with and without clipping, in float32 and float64.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { roadConfig } from '../../src/adapters/road/config.ts';
import { PeftModel, peftParameterName } from '../../src/adapters/peft-model.ts';
import { CausalLM } from '../../src/models/causal-lm.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { AdamW, clipCoefficient, globalNorm } from '../../src/train/optimizer.ts';
import { relativeError } from '../support/all-close.ts';
import { TINY_LLAMA, fixture } from '../support/fixtures.ts';

const runtime = new Runtime({ threads: 1 });
after(() => runtime.release());
const fx = fixture('train_llama_road1_g8_all.json');

for (const [name, traj] of Object.entries(fx.trajectories as Record<string, any>)) {
  describe(`AdamW trajectory ${name}`, () => {
    for (const dtype of ['float32', 'float64'] as const) {
      test(`${dtype}: losses and gradient norms of 10 steps`, async () => {
        const base = await CausalLM.fromFolder(TINY_LLAMA);
        const peft = PeftModel.getPeftModel(base, runtime, roadConfig({ variant: 'road_1', groupSize: 8, targetModules: 'all-linear' }));
        const o = traj.optimizer;
        const opt = new AdamW({ lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay });
        if (dtype === 'float64') peft.castParameters('default', 'float64');
        const params = new Map<string, Float32Array | Float64Array>();
        for (const [path, site] of peft.parameters('default')) {
          for (const [p, data] of Object.entries(site)) params.set(peftParameterName(path, p, 'default'), data);
        }
        assert.deepEqual([...params.keys()].sort(), [...traj.float32.param_names].sort());
        const ref = traj[dtype].steps;
        for (let step = 0; step < traj.steps_count; step++) {
          const { loss, grads } = await peft.lossAndGrads({ inputIds: fx.inputs.input_ids, labels: fx.inputs.labels }, { dtype });
          const norm = globalNorm(grads.values());
          const tol = dtype === 'float64' ? 1e-9 : 1e-5;
          assert.ok(Math.abs(loss - ref[step].loss) / ref[step].loss <= tol, `step ${step + 1} loss ${loss} vs ${ref[step].loss}`);
          assert.ok(Math.abs(norm - ref[step].grad_norm) / ref[step].grad_norm <= (dtype === 'float64' ? 1e-7 : 1e-4), `step ${step + 1} norm ${norm} vs ${ref[step].grad_norm}`);
          const scale = traj.clip_grad_norm_max_norm === null ? 1 : clipCoefficient(norm, traj.clip_grad_norm_max_norm);
          opt.step(params, grads, o.lr, scale);
        }
        if (dtype === 'float64') {
          const finals = traj.float64.final_params as Record<string, number[]>;
          for (const [k, v] of Object.entries(finals)) assert.ok(relativeError(params.get(k)!, v) <= 1e-7, k);
        }
      });
    }
  });
}
