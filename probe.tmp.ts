import { CausalLM } from './src/models/causal-lm.ts';
import { PeftModel } from './src/adapters/peft-model.ts';
import { roadConfig } from './src/adapters/road/config.ts';
import { Runtime } from './src/runtime/runtime.ts';
import { WebRuntime } from './src/runtime/web-runtime.ts';
const base = await CausalLM.fromFolder('models/roadster-base');
const T = 64, B = 4;
const ids = Array.from({ length: B }, (_, r) => Array.from({ length: T }, (_, t) => (r * 131 + t * 17) % 8000 + 1));
const batch = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)), labels: ids };
for (const [name, rt] of [['node', new Runtime({ threads: 2 })], ['web-std', new WebRuntime({ threads: 2 })], ['web-contrib', new WebRuntime({ threads: 2, contribOps: true })], ['node-int8', new Runtime({ threads: 2, quantizeWeights: 'int8-all' })], ['web-int8', new WebRuntime({ threads: 2, quantizeWeights: 'int8-all' })]] as const) {
  try {
    const peft = PeftModel.getPeftModel(base, rt as Runtime, roadConfig({ variant: 'road_1', groupSize: 16, targetModules: 'all-linear' }));
    let t0 = performance.now();
    let out = await peft.lossAndGrads(batch);
    const first = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < 3; i++) out = await peft.lossAndGrads(batch);
    const per = (performance.now() - t0) / 3;
    const g = [...out.grads.values()][0];
    console.log(name, out.loss, g[0], g[1], `first ${first.toFixed(0)}ms step ${per.toFixed(0)}ms ${(B * T / per * 1000).toFixed(0)} tok/s`);
  } catch (e) { console.log(name, 'FAIL', (e as Error).message.slice(0, 400)); }
  await rt.release();
}
