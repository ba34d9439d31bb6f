// Token ids and loss masks of every format on GPT-2's real tokenizer. Expected ids are OpenAI's reference BPE
// (the same words as src/io/tokenizer/tokenizer.test.ts); ChatML markers are plain text to GPT-2, so
// "<|im_start|>" is the seven tokens < | im _ start | >.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../../src/errors.ts';
import { Tokenizer } from '../../src/io/tokenizer/index.ts';
import {
  buildClassList,
  countLossTerms,
  defaultPadId,
  labelCompletionIds,
  loadDataset,
  tokenizeExample,
  type TokenizedExample,
} from '../../src/train/data/index.ts';

const DATA = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const TOKENIZERS = fileURLToPath(new URL('../fixtures/tokenizers/', import.meta.url));

const X = -100;
const EOT = 50256; // <|endoftext|>: GPT-2's BOS and EOS
const NL = 198;
const IM_START = [27, 91, 320, 62, 9688, 91, 29];
const IM_END = [27, 91, 320, 62, 437, 91, 29];
const ASSISTANT = [562, 10167];
const THINK_EMPTY = [27, 14925, 29, NL, NL, 3556, 14925, 29, NL, NL]; // <think>\n\n</think>\n\n
const HELLO_WORLD = [15496, 995];
const FOX = [464, 2068, 7586, 21831]; // The quick brown fox
const JUMPS = [18045, 625, 262, 16931, 3290, 13]; // " jumps over the lazy dog."

let gpt2: Tokenizer;
/** GPT-2 with a post-processor that adds BOS, as Llama's does. */
let gpt2Bos: Tokenizer;
/** GPT-2's vocabulary with Qwen3's tokenizer_config.json: its ChatML template; EOS <|im_end|> has no id. */
let qwen: Tokenizer;
/** GPT-2 with a plain ChatML template (as Qwen2 has), which is prefix-stable. */
let chatml: Tokenizer;

before(async () => {
  const json = JSON.parse(await readFile(join(TOKENIZERS, 'gpt2', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const config = JSON.parse(await readFile(join(TOKENIZERS, 'gpt2', 'tokenizer_config.json'), 'utf8')) as unknown;
  const qwenConfig = JSON.parse(await readFile(join(TOKENIZERS, 'qwen3', 'tokenizer_config.json'), 'utf8')) as unknown;
  gpt2 = Tokenizer.fromJson(json, config);
  const bos = { SpecialToken: { id: '<|endoftext|>', type_id: 0 } };
  gpt2Bos = Tokenizer.fromJson({
    ...json,
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [EOT], tokens: ['<|endoftext|>'] } },
    },
  }, config);
  qwen = Tokenizer.fromJson(json, qwenConfig);
  chatml = Tokenizer.fromJson(json, config, { chatTemplates: new Map([['default', await readFile(join(DATA, 'chatml.jinja'), 'utf8')]]) });
});

async function rejectsWith(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

/** Runs of positions with a label: [start, end). */
function spans(labels: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  labels.forEach((l, t) => {
    if (l === X) return;
    const last = out.at(-1);
    if (last !== undefined && last[1] === t) last[1] = t + 1;
    else out.push([t, t + 1]);
  });
  return out;
}

function masked(ids: readonly number[], from: number): number[] {
  return ids.map((id, t) => (t < from ? X : id));
}

describe('text', () => {
  it('encodes with special tokens and appends EOS once; loss on every token', async () => {
    const { dataset, report } = await loadDataset(join(DATA, 'text.jsonl'), { tokenizer: gpt2, maxLength: 64 });
    assert.equal(report.format, 'text');
    assert.deepEqual(dataset.examples, [
      { inputIds: [...HELLO_WORLD, EOT], labels: [...HELLO_WORLD, EOT] },
      { inputIds: [...FOX, ...JUMPS, EOT], labels: [...FOX, ...JUMPS, EOT] },
    ]);
    assert.equal(dataset.stats.lossTokens, 2 + 10);
  });

  it('does not double an EOS the text already ends with, adds BOS when the tokenizer does, and none without an EOS id', () => {
    const opts = { maxLength: 64 };
    assert.deepEqual(tokenizeExample({ format: 'text', text: 'Hello world<|endoftext|>' }, gpt2, opts).example?.inputIds, [...HELLO_WORLD, EOT]);
    assert.deepEqual(tokenizeExample({ format: 'text', text: 'Hello world' }, gpt2Bos, opts).example?.inputIds, [EOT, ...HELLO_WORLD, EOT]);
    assert.equal(qwen.eosToken?.id, null);
    assert.deepEqual(tokenizeExample({ format: 'text', text: 'Hello world' }, qwen, opts).example?.inputIds, HELLO_WORLD);
  });

  it('keeps the first maxLength tokens and counts what it cut', () => {
    const r = tokenizeExample({ format: 'text', text: 'The quick brown fox jumps over the lazy dog.' }, gpt2, { maxLength: 4 });
    assert.deepEqual(r.example, { inputIds: FOX, labels: FOX });
    assert.equal(r.droppedTokens, 7);
  });

  it('drops an example with no loss term left (a label at position 0 predicts nothing)', () => {
    assert.deepEqual(tokenizeExample({ format: 'text', text: 'Hello world' }, gpt2, { maxLength: 1 }), { example: null, droppedTokens: 2 });
    assert.deepEqual(tokenizeExample({ format: 'text', text: '' }, gpt2, { maxLength: 8 }), { example: null, droppedTokens: 0 });
  });
});

describe('prompt-completion', () => {
  it('masks the prompt; completion encoded without special tokens, then EOS', async () => {
    const { dataset } = await loadDataset(join(DATA, 'prompt-completion.jsonl'), { tokenizer: gpt2, maxLength: 64 });
    assert.deepEqual(dataset.examples, [
      { inputIds: [15496, 995, EOT], labels: [X, 995, EOT] },
      { inputIds: [...FOX, ...JUMPS, EOT], labels: [X, X, X, X, ...JUMPS, EOT] },
    ]);
    const bos = tokenizeExample({ format: 'prompt-completion', prompt: 'Hello', completion: ' world' }, gpt2Bos, { maxLength: 64 });
    assert.deepEqual(bos.example, { inputIds: [EOT, 15496, 995, EOT], labels: [X, X, 995, EOT] });
  });

  it('truncates the prompt from the left first, so the completion survives', () => {
    const example = { format: 'prompt-completion', prompt: 'The quick brown fox', completion: ' jumps over the lazy dog.' } as const;
    const r = tokenizeExample(example, gpt2, { maxLength: 8 });
    assert.deepEqual(r.example, { inputIds: [21831, ...JUMPS, EOT], labels: [X, ...JUMPS, EOT] });
    assert.equal(r.droppedTokens, 3);
    // a leading BOS stays
    const b = tokenizeExample(example, gpt2Bos, { maxLength: 9 });
    assert.deepEqual(b.example, { inputIds: [EOT, 21831, ...JUMPS, EOT], labels: [X, X, ...JUMPS, EOT] });
    assert.equal(b.droppedTokens, 3);
  });

  it('cuts the completion from the right when it alone is too long', () => {
    const r = tokenizeExample({ format: 'prompt-completion', prompt: 'The quick brown fox', completion: ' jumps over the lazy dog.' }, gpt2, { maxLength: 5 });
    assert.deepEqual(r.example, { inputIds: JUMPS.slice(0, 5), labels: JUMPS.slice(0, 5) });
    assert.equal(r.droppedTokens, 6);
    assert.equal(countLossTerms(r.example?.labels ?? []), 4);
  });

  it('loadDataset counts truncated and dropped examples', async () => {
    const { report } = await loadDataset(join(DATA, 'prompt-completion.jsonl'), { tokenizer: gpt2, maxLength: 2 });
    // "Hello"+" world"+EOS → [995, EOS]; the fox → [" jumps", " over"]
    assert.deepEqual({ ...report, badLines: undefined }, {
      examples: 2, format: 'prompt-completion', badLines: undefined, skipped: 0, truncated: 2, droppedTokens: 1 + 9, droppedExamples: 0, cache: 'off',
      cutRecords: 0, emptyRecords: 0, emptyLines: [], invalidUtf8Lines: 0, invalidUtf8At: [], unknownRoles: { messages: 0, roles: [] },
    });
    const file = join(DATA, 'prompt-completion.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 1 }), 'E_DATA', `${file} has no usable example`,
      '2 example(s) had nothing to learn from after truncation to maxLength 1', 'raise maxLength');
  });
});

describe('messages', () => {
  it('Qwen3 ChatML: ids of the rendering, loss on the assistant turn only', async () => {
    const { dataset, report } = await loadDataset(join(DATA, 'messages.jsonl'), { tokenizer: qwen, maxLength: 128 });
    assert.equal(report.format, 'messages');
    const prompt = [
      ...IM_START, 10057, NL, 3856, 4506, 29847, ...IM_END.slice(1), NL, // <|im_start|>system\nBe brief.<|im_end|>\n (".<" is one token)
      ...IM_START, 7220, NL, 17250, ...IM_END, NL, //                    <|im_start|>user\nHi<|im_end|>\n
      ...IM_START, ...ASSISTANT, NL, //                                    <|im_start|>assistant\n
    ];
    const reply = [...THINK_EMPTY, ...HELLO_WORLD, ...IM_END, NL];
    assert.deepEqual(dataset.examples[0], { inputIds: [...prompt, ...reply], labels: masked([...prompt, ...reply], prompt.length) });
    const second = dataset.examples[1];
    assert.deepEqual(spans(second.labels), [[30, second.inputIds.length]]);
    const span = second.inputIds.slice(30);
    assert.equal(qwen.decode(span), '<think>\n\n</think>\n\nThe quick brown fox.<|im_end|>\n');
    assert.equal(qwen.decode(second.inputIds.slice(0, 30)), '<|im_start|>user\nName a fox.<|im_end|>\n<|im_start|>assistant\n');
  });

  it('several assistant turns: each span is render(:i+1) minus render(:i, generation prompt)', async () => {
    const { dataset } = await loadDataset(join(DATA, 'messages-multiturn.jsonl'), { tokenizer: chatml, maxLength: 128 });
    const [e] = dataset.examples;
    const turn1 = [...IM_START, 7220, NL, 17250, ...IM_END, NL, ...IM_START, ...ASSISTANT, NL];
    const reply1 = [...HELLO_WORLD, ...IM_END, NL];
    const turn2 = [...IM_START, 7220, NL, 3886, 68, ...IM_END, NL, ...IM_START, ...ASSISTANT, NL]; // "Bye" = By e
    const reply2 = [6214, 345, 29847, ...IM_END.slice(1), NL]; // See you.<|im_end|>\n
    const ids = [...turn1, ...reply1, ...turn2, ...reply2];
    const labels = [...turn1.map(() => X), ...reply1, ...turn2.map(() => X), ...reply2];
    assert.deepEqual(e, { inputIds: ids, labels });
    assert.deepEqual(spans(e.labels).map(([a, b]) => chatml.decode(e.inputIds.slice(a, b))), ['Hello world<|im_end|>\n', 'See you.<|im_end|>\n']);
  });

  it('a template that is not prefix-stable is an E_DATA naming the line and the message', async () => {
    const file = join(DATA, 'messages-multiturn.jsonl');
    // Qwen3 adds an empty <think> block to the last assistant turn only, so render(:2) does not start render(:4)
    await rejectsWith(loadDataset(file, { tokenizer: qwen, maxLength: 128 }), 'E_DATA', `${file}:1:`, 'not prefix-stable',
      'messages[1]', 'Qwen3', 'one example per assistant turn');
    // GPT-2 encodes "\n\n" at the end of a text as one token but as two before a word: Llama 3's header ends in
    // "\n\n", so the generation prompt's tokens are not a prefix of the conversation's
    const json = JSON.parse(await readFile(join(TOKENIZERS, 'gpt2', 'tokenizer.json'), 'utf8')) as unknown;
    const llama3 = Tokenizer.fromJson(json, { bos_token: '<|endoftext|>' }, {
      chatTemplates: new Map([['default', await readFile(join(TOKENIZERS, 'llama3', 'chat_template.jinja'), 'utf8')]]),
    });
    await rejectsWith(loadDataset(join(DATA, 'messages.jsonl'), { tokenizer: llama3, maxLength: 128 }), 'E_DATA',
      'messages.jsonl:1:', 'merges characters across the boundary');
  });

  it('needs a chat template', async () => {
    await rejectsWith(loadDataset(join(DATA, 'messages.jsonl'), { tokenizer: gpt2, maxLength: 128 }), 'E_TOKENIZER', 'no chat template');
  });

  it('truncation may cut an assistant turn; a conversation without any assistant token left is dropped', async () => {
    const cut = await loadDataset(join(DATA, 'messages-multiturn.jsonl'), { tokenizer: chatml, maxLength: 30 });
    const [e] = cut.dataset.examples;
    assert.equal(e.inputIds.length, 30);
    assert.deepEqual(spans(e.labels), [[28, 30]]); // "Hello world" survives, its <|im_end|> does not
    assert.equal(cut.report.truncated, 1);
    assert.equal(cut.report.droppedTokens, 77 - 30); // 28 + 10 + 29 + 10 tokens in all
    const file = join(DATA, 'messages-multiturn.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: chatml, maxLength: 28 }), 'E_DATA', 'has no usable example', '1 example(s) had nothing to learn');
  });
});

describe('classification', () => {
  it("'generate': prompt = text + separator, completion = the label's words + EOS, class index kept", async () => {
    const { dataset } = await loadDataset(join(DATA, 'classification.jsonl'), { tokenizer: gpt2, maxLength: 64 });
    const LABEL = [NL, 33986, 25]; // "\nLabel:"
    const [positive, negative] = [3967, 4633]; // " positive", " negative"
    assert.deepEqual(dataset.examples, [
      { inputIds: [13681, 3807, ...LABEL, positive, EOT], labels: [X, X, X, X, X, positive, EOT], classLabel: 1 }, // Great movie
      { inputIds: [23155, 913, 7110, ...LABEL, negative, EOT], labels: [X, X, X, X, X, X, negative, EOT], classLabel: 0 }, // Awful plot
      { inputIds: [43, 2668, 340, ...LABEL, positive, EOT], labels: [X, X, X, X, X, X, positive, EOT], classLabel: 1 }, // Loved it
    ]);
    assert.deepEqual(dataset.info, {
      format: 'classification', labelMode: 'generate', classNames: ['negative', 'positive'], classCompletions: [[negative, EOT], [positive, EOT]],
    });
  });

  it("'generate' truncation cuts the text from the right and keeps the separator and the label", () => {
    const classes = buildClassList(['negative', 'positive']);
    const example = { format: 'classification', text: 'Great movie', label: 'positive' } as const;
    const six = tokenizeExample(example, gpt2, { maxLength: 6, classes });
    assert.deepEqual(six, { example: { inputIds: [13681, NL, 33986, 25, 3967, EOT], labels: [X, X, X, X, 3967, EOT], classLabel: 1 }, droppedTokens: 1 });
    const five = tokenizeExample(example, gpt2, { maxLength: 5, classes });
    assert.deepEqual(five.example?.inputIds, [NL, 33986, 25, 3967, EOT]);
    const two = tokenizeExample(example, gpt2, { maxLength: 2, classes });
    assert.deepEqual(two, { example: null, droppedTokens: 5 }); // "\nLabel" has no loss term
  });

  it("'classify': ids of the text only, no token loss, the class index", async () => {
    const { dataset } = await loadDataset(join(DATA, 'classification.jsonl'), { tokenizer: gpt2, maxLength: 64, labelMode: 'classify' });
    assert.deepEqual(dataset.examples[0], { inputIds: [13681, 3807], labels: [X, X], classLabel: 1 });
    assert.deepEqual(dataset.info, { format: 'classification', labelMode: 'classify', classNames: ['negative', 'positive'] });
    assert.equal(dataset.stats.lossTokens, 0);
  });

  it("'classify' with a suffix: the suffix follows the text and survives truncation, which cuts the text", () => {
    const classes = buildClassList(['negative', 'positive']);
    const example = { format: 'classification', text: 'Great movie', label: 'positive' } as const;
    const whole = tokenizeExample(example, gpt2, { maxLength: 8, labelMode: 'classify', classifySuffix: '\nLabel:', classes });
    assert.deepEqual(whole, { example: { inputIds: [13681, 3807, NL, 33986, 25], labels: [X, X, X, X, X], classLabel: 1 }, droppedTokens: 0 });
    const cut = tokenizeExample(example, gpt2, { maxLength: 4, labelMode: 'classify', classifySuffix: '\nLabel:', classes });
    assert.deepEqual(cut, { example: { inputIds: [13681, NL, 33986, 25], labels: [X, X, X, X], classLabel: 1 }, droppedTokens: 1 });
    const none = tokenizeExample(example, gpt2, { maxLength: 4, labelMode: 'classify', classifySuffix: '', classes });
    assert.deepEqual(none.example?.inputIds, [13681, 3807]);
  });

  it('label words from labelNames (a list indexed by integer labels, or a map), and a separator ending in a space', async () => {
    const file = join(DATA, 'classification-int.jsonl');
    const list = await loadDataset(file, { tokenizer: gpt2, maxLength: 64, labelNames: ['negative', 'positive'] });
    assert.deepEqual(list.dataset.examples.map((e) => [e.inputIds.slice(-2), e.classLabel]), [[[3967, EOT], 1], [[4633, EOT], 0]]);
    const map = await loadDataset(file, { tokenizer: gpt2, maxLength: 64, labelNames: { 1: 'positive', 0: 'negative' } });
    assert.deepEqual(map.dataset.examples, list.dataset.examples);
    const plain = await loadDataset(file, { tokenizer: gpt2, maxLength: 64 });
    assert.deepEqual(plain.dataset.info.classNames, ['0', '1']);
    const spaced = await loadDataset(join(DATA, 'classification.jsonl'), { tokenizer: gpt2, maxLength: 64, promptSeparator: '\nLabel: ' });
    // "Label: " ends in " " (220); the words follow without another space: "positive" = 24561
    assert.deepEqual(spaced.dataset.examples[0], { inputIds: [13681, 3807, NL, 33986, 25, 220, 24561, EOT], labels: [X, X, X, X, X, X, 24561, EOT], classLabel: 1 });
    assert.deepEqual(labelCompletionIds(gpt2, 'positive', '\nLabel: '), [24561, EOT]);
  });

  it('a label outside labelNames, or of the other type, is an E_DATA naming the line', async () => {
    const file = join(DATA, 'classification.jsonl');
    await rejectsWith(loadDataset(file, { tokenizer: gpt2, maxLength: 64, labelNames: ['positive', 'neutral'] }), 'E_DATA',
      `${file}:2: label "negative" is not one of labelNames`);
    const classes = buildClassList(['a', 3, 'b']);
    assert.deepEqual(classes.names, ['a', 'b']);
    assert.throws(() => classes.indexOf(3), /label 3 is an integer but the file's first label is a string/);
    assert.throws(() => buildClassList([], ['ok', '']), (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE');
  });
});

describe('pad id', () => {
  it('is the pad token, else EOS', () => {
    assert.equal(defaultPadId(gpt2), EOT); // GPT-2 has no pad token
    assert.equal(defaultPadId(qwen), EOT); // Qwen3's pad token is <|endoftext|>
  });
});

// The shape the batcher relies on: labels equal the ids or -100, one per token.
describe('invariants', () => {
  it('every example of every format has labels aligned with its ids', async () => {
    const loads = [
      loadDataset(join(DATA, 'text.jsonl'), { tokenizer: gpt2, maxLength: 64 }),
      loadDataset(join(DATA, 'prompt-completion.jsonl'), { tokenizer: gpt2, maxLength: 64 }),
      loadDataset(join(DATA, 'messages.jsonl'), { tokenizer: qwen, maxLength: 64 }),
      loadDataset(join(DATA, 'classification.jsonl'), { tokenizer: gpt2, maxLength: 64 }),
    ];
    for (const { dataset } of await Promise.all(loads)) {
      for (const e of dataset.examples as TokenizedExample[]) {
        assert.equal(e.labels.length, e.inputIds.length);
        assert.ok(e.inputIds.length <= 64);
        e.labels.forEach((l, t) => assert.ok(l === X || l === e.inputIds[t]));
      }
    }
  });
});
