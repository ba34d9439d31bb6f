import { CausalLM } from './src/models/causal-lm.ts';
import { Tokenizer } from './src/io/tokenizer/tokenizer.ts';
import { Runtime } from './src/runtime/runtime.ts';
import { WebRuntime } from './src/runtime/web-runtime.ts';
import { Chat } from './src/browser/chat.ts';
const base = await CausalLM.fromFolder('models/roadster-base');
const tok = await Tokenizer.fromFolder('models/roadster-base');
for (const [name, rt] of [['node', new Runtime({ threads: 2 })], ['web', new WebRuntime({ threads: 2, contribOps: true })]] as const) {
  const chat = new Chat(base, rt, tok);
  await chat.reply('Once upon a time', { maxTokens: 8 });
  const t0 = performance.now();
  const r = await chat.reply('Once upon a time', { maxTokens: 48 });
  console.log(name, r.decodeTokensPerSecond.toFixed(1), 'decode tok/s', ((performance.now() - t0) / 48).toFixed(1), 'ms/token');
  await chat.close(); await rt.release();
}
