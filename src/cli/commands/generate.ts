// `roadster generate`: generation on the engine (KV cache, continuous batching, per-row adapters, sampling).
// One prompt (--prompt, --ids, or --chat for the chat template) streams its text to stdout (ids, comma-separated,
// for folders without a tokenizer); --requests FILE.jsonl runs a batch of requests, each with its own adapter and
// sampling settings, and prints one JSON line per request in input order. Adapters are PEFT folders (RoAd or
// LoRA), `--adapter NAME=DIR`. Every request is checked (prompt, context, sampling values, adapter names) before
// anything is generated.

import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { RoadsterError } from '../../errors.ts';
import { GenerationEngine } from '../../generate/engine.ts';
import type { GenerationRequest, GenerationResult } from '../../generate/request.ts';
import type { SamplingParams } from '../../generate/sampling/params.ts';
import type { Tokenizer } from '../../io/tokenizer/index.ts';
import { AutoModelForCausalLM, AutoTokenizer } from '../../models/auto.ts';
import type { CausalLM } from '../../models/causal-lm.ts';
import { type QuantizeWeights, Runtime } from '../../runtime/index.ts';
import { type RequestLine, readRequestsFile } from '../generate/requests-file.ts';
import { type CliIo, printJson, usageError } from '../io.ts';
import { modelLoadOptions } from '../load-options.ts';

export interface GenerateOptions {
  readonly model: string;
  readonly prompt?: string;
  readonly ids?: number[];
  readonly chat?: boolean;
  readonly system?: string;
  readonly requests?: string;
  readonly adapter?: string[];
  readonly useAdapter?: string;
  readonly json?: boolean;
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly minP?: number;
  readonly repetitionPenalty?: number;
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  readonly seed?: number;
  readonly logprobs?: number;
  readonly stop?: string[];
  readonly ignoreEos?: boolean;
  readonly maxBatch: number;
  readonly maxModelLen?: number;
  readonly revision?: string;
  readonly offline?: boolean;
  readonly threads?: number;
  readonly quantize: QuantizeWeights;
}

/** `NAME=DIR`, or `DIR` named after its folder. */
function adapterSpec(spec: string): { name: string; dir: string } {
  const eq = spec.indexOf('=');
  if (eq > 0) return { name: spec.slice(0, eq), dir: spec.slice(eq + 1) };
  return { name: basename(resolve(spec)), dir: spec };
}

/** The sampling flags that were given (the engine's defaults fill the rest; the CLI's temperature is 0). */
function samplingFlags(opts: GenerateOptions): Partial<SamplingParams> {
  const given: Partial<Record<keyof SamplingParams, number | undefined>> = {
    temperature: opts.temperature,
    topK: opts.topK,
    topP: opts.topP,
    minP: opts.minP,
    repetitionPenalty: opts.repetitionPenalty,
    presencePenalty: opts.presencePenalty,
    frequencyPenalty: opts.frequencyPenalty,
    seed: opts.seed,
    logprobs: opts.logprobs,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<SamplingParams>;
}

function promptIds(line: RequestLine, tokenizer: Tokenizer | null): number[] {
  const p = line.prompt;
  if ('ids' in p) return p.ids;
  if (tokenizer === null) {
    throw new RoadsterError('E_USAGE', `${line.where}: a text prompt needs the model's tokenizer.json, which this model has none of; give token ids instead`);
  }
  if ('text' in p) return tokenizer.encode(p.text);
  return tokenizer.applyChatTemplate(p.messages, { addGenerationPrompt: true, tokenize: true }) as number[];
}

/** The request lines of the command: the --requests file, or one line from --prompt / --ids / --chat. */
function requestLines(opts: GenerateOptions): RequestLine[] {
  const sources = [opts.prompt !== undefined, opts.ids !== undefined, opts.requests !== undefined].filter(Boolean).length;
  if (sources !== 1) throw usageError('give exactly one of --prompt TEXT, --ids 1,2,3 and --requests FILE.jsonl.');
  if (opts.chat && opts.prompt === undefined) throw usageError('--chat applies the chat template to --prompt; give --prompt TEXT.');
  if (opts.system !== undefined && !opts.chat) throw usageError('--system needs --chat.');
  if (opts.requests !== undefined) return readRequestsFile(opts.requests);
  const messages = [...(opts.system === undefined ? [] : [{ role: 'system', content: opts.system }]), { role: 'user', content: opts.prompt ?? '' }];
  return [
    {
      where: opts.ids !== undefined ? '--ids' : '--prompt',
      prompt: opts.ids !== undefined ? { ids: opts.ids } : opts.chat ? { messages } : { text: opts.prompt! },
      adapter: undefined,
      maxTokens: undefined,
      sampling: {},
      stop: undefined,
      stopTokenIds: undefined,
      ignoreEos: undefined,
    },
  ];
}

/** One JSON line of a finished request. */
function resultJson(index: number, adapter: string | null, r: GenerationResult, logprobs: boolean): Record<string, unknown> {
  return {
    index,
    adapter,
    tokens: r.tokens,
    text: r.text,
    logprobs: r.logprobs,
    ...(logprobs ? { top_logprobs: r.topLogprobs.map((t) => t.map((x) => ({ token: x.token, logprob: x.logprob }))) } : {}),
    finish_reason: r.finishReason,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.tokens.length,
    seed: r.seed,
  };
}

export async function generate(opts: GenerateOptions, io: CliIo): Promise<void> {
  const lines = requestLines(opts);
  const adapters = (opts.adapter ?? []).map(adapterSpec);
  const names = new Set<string>();
  for (const a of adapters) {
    if (names.has(a.name)) throw usageError(`--adapter names "${a.name}" twice; give each adapter its own name (NAME=DIR).`);
    names.add(a.name);
  }
  if (opts.useAdapter !== undefined && !names.has(opts.useAdapter)) {
    throw usageError(`--use-adapter ${opts.useAdapter} is not among the --adapter names (${[...names].join(', ') || 'none given'}).`);
  }
  const defaultAdapter = opts.useAdapter ?? (adapters.length === 1 && opts.requests === undefined ? adapters[0].name : null);

  const { options: loadOptions, stop: stopProgress } = modelLoadOptions(opts, io);
  const needsTokenizer = lines.some((l) => !('ids' in l.prompt)) || lines.some((l) => (l.stop ?? opts.stop ?? []).length > 0);
  let model: CausalLM;
  let tokenizer: Tokenizer | null = null;
  try {
    model = await AutoModelForCausalLM.fromPretrained(opts.model, loadOptions);
    try {
      tokenizer = await AutoTokenizer.fromPretrained(opts.model, loadOptions);
    } catch (e) {
      if (needsTokenizer || !(e instanceof RoadsterError) || !['E_NOT_FOUND', 'E_TOKENIZER'].includes(e.code)) throw e;
    }
  } finally {
    stopProgress();
  }

  const runtime = new Runtime({ threads: opts.threads ?? availableParallelism(), quantizeWeights: opts.quantize });
  const engine = new GenerationEngine(model, runtime, {
    maxBatch: opts.maxBatch,
    ...(opts.maxModelLen === undefined ? {} : { maxModelLen: opts.maxModelLen }),
    maxLoadedAdapters: Math.max(1, adapters.length),
    tokenizer,
  });
  try {
    for (const a of adapters) {
      for (const warning of engine.loadAdapter(a.name, a.dir).warnings) io.stderr.write(`warning: ${warning}\n`);
    }
    const flags = samplingFlags(opts);
    const requests: GenerationRequest[] = lines.map((line) => {
      const request: GenerationRequest = {
        promptIds: promptIds(line, tokenizer),
        adapter: line.adapter === undefined ? defaultAdapter : line.adapter,
        maxTokens: line.maxTokens ?? opts.maxNewTokens,
        sampling: { ...flags, ...line.sampling },
        stop: line.stop ?? opts.stop ?? [],
        stopTokenIds: line.stopTokenIds ?? [],
        ignoreEos: line.ignoreEos ?? opts.ignoreEos ?? false,
      };
      try {
        engine.check(request);
      } catch (e) {
        if (e instanceof RoadsterError) throw new RoadsterError(e.code, `${line.where}: ${e.message}`, { cause: e });
        throw e;
      }
      return request;
    });

    if (opts.requests !== undefined) {
      const results = await engine.generate(requests);
      results.forEach((r, i) => io.stdout.write(`${JSON.stringify(resultJson(i, requests[i].adapter ?? null, r, (requests[i].sampling?.logprobs ?? 0) > 0))}\n`));
      return;
    }
    const [request] = requests;
    let count = 0;
    const stream = !opts.json;
    const [result] = await engine.generate([
      {
        ...request,
        onToken: (event) => {
          if (!stream) return;
          if (tokenizer && opts.ids === undefined) io.stdout.write(event.text);
          else io.stdout.write(`${count === 0 ? '' : ','}${event.token}`);
          count++;
        },
      },
    ]);
    if (opts.json) printJson(io, resultJson(0, request.adapter ?? null, result, (request.sampling?.logprobs ?? 0) > 0));
    else io.stdout.write('\n');
  } finally {
    await engine.close();
    await runtime.release();
  }
}
