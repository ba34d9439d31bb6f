// `roadster generate`: greedy decoding (no KV cache yet) from a local model folder or a Hub id. With --prompt,
// the text is encoded with the model's tokenizer (special tokens added, as transformers does by default) and the
// generated text is streamed to stdout as it grows; with --ids (for folders without a tokenizer) the new token
// ids are printed, comma-separated. Only the new tokens are printed, not the prompt.

import { availableParallelism } from 'node:os';
import { greedyGenerate } from '../../generate/greedy.ts';
import { hubOptionsFromEnv } from '../../io/hub/index.ts';
import type { Tokenizer } from '../../io/tokenizer/index.ts';
import { AutoModelForCausalLM, AutoTokenizer, type FromPretrainedOptions } from '../../models/auto.ts';
import type { CausalLM } from '../../models/causal-lm.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { type CliIo, usageError } from '../io.ts';
import { downloadReporter } from '../progress.ts';

export interface GenerateOptions {
  readonly model: string;
  readonly prompt?: string;
  readonly ids?: number[];
  readonly maxNewTokens: number;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly threads?: number;
  readonly quantize: QuantizeWeights;
}

/** End-of-sequence ids: generation_config.json's, else config.json's (transformers' order). */
function eosIds(model: CausalLM): number[] {
  if (model.generationConfig && model.generationConfig.eosTokenIds.length > 0) return [...model.generationConfig.eosTokenIds];
  const eos = model.config.eosTokenId;
  return eos === null ? [] : typeof eos === 'number' ? [eos] : [...eos];
}

/** Writes the decoded text as it grows; holds back text that ends inside an incomplete UTF-8 sequence. */
class TextStream {
  private readonly ids: number[] = [];
  private printed = '';
  constructor(private readonly tokenizer: Tokenizer, private readonly io: CliIo) {}

  push(id: number): void {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids, { skipSpecialTokens: true });
    if (text.endsWith('\uFFFD') || !text.startsWith(this.printed)) return;
    this.io.stdout.write(text.slice(this.printed.length));
    this.printed = text;
  }

  end(): void {
    const text = this.tokenizer.decode(this.ids, { skipSpecialTokens: true });
    this.io.stdout.write(`${text.startsWith(this.printed) ? text.slice(this.printed.length) : `\n${text}`}\n`);
  }
}

/** `roadster generate`. */
export async function generate(opts: GenerateOptions, io: CliIo): Promise<void> {
  if ((opts.prompt === undefined) === (opts.ids === undefined)) throw usageError('give exactly one of --prompt TEXT and --ids 1,2,3.');
  const hub = hubOptionsFromEnv(io.env);
  const progress = downloadReporter(io);
  const loadOptions: FromPretrainedOptions = {
    ...hub,
    offline: opts.offline === true || hub.offline === true,
    ...(opts.revision === undefined ? {} : { revision: opts.revision }),
    onProgress: progress.onProgress,
  };
  let model: CausalLM;
  let tokenizer: Tokenizer | null = null;
  try {
    model = await AutoModelForCausalLM.fromPretrained(opts.model, loadOptions);
    if (opts.prompt !== undefined) tokenizer = await AutoTokenizer.fromPretrained(opts.model, loadOptions);
  } finally {
    progress.stop();
  }
  const prompt = tokenizer === null ? opts.ids! : tokenizer.encode(opts.prompt!);
  if (prompt.length === 0) throw usageError('the prompt encodes to no tokens; give a longer prompt.');
  const vocab = model.config.vocabSize;
  const bad = prompt.find((id) => id >= vocab);
  if (bad !== undefined) throw usageError(`token id ${bad} is outside the model's vocabulary [0, ${vocab}).`);

  const eos = eosIds(model);
  const pad = model.generationConfig?.padTokenId ?? model.config.padTokenId ?? eos[0] ?? 0;
  const text = tokenizer === null ? null : new TextStream(tokenizer, io);
  let count = 0;
  const runtime = new Runtime({ threads: opts.threads ?? availableParallelism(), quantizeWeights: opts.quantize });
  try {
    await greedyGenerate(model, runtime, [prompt], {
      maxNewTokens: opts.maxNewTokens,
      eosTokenIds: eos,
      padTokenId: pad,
      onStep: ([id]) => {
        if (id === null) return;
        if (text) text.push(id);
        else io.stdout.write(`${count === 0 ? '' : ','}${id}`);
        count++;
      },
    });
  } finally {
    await runtime.release();
  }
  if (text) text.end();
  else io.stdout.write('\n');
}
