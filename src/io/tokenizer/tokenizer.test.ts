// Tests for the Tokenizer on GPT-2's real tokenizer.json, and chat templates against strings rendered by
// Python Jinja2 as transformers configures it (see test/fixtures/tokenizers/README.md).

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RoadsterError } from '../../errors.ts';
import { Tokenizer } from './tokenizer.ts';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/tokenizers/', import.meta.url));

/** Encodings by OpenAI's reference GPT-2 BPE. */
const GPT2_CASES: [string, number[]][] = [
  ['Hello world', [15496, 995]],
  ["Hello, world! It's 2024.", [15496, 11, 995, 0, 632, 338, 48609, 13]],
  [' leading space and  double  spaces\n\ttabs', [3756, 2272, 290, 220, 4274, 220, 9029, 198, 197, 8658, 82]],
  ['naïve café — 日本語 🤗', [2616, 38776, 40304, 851, 10545, 245, 98, 17312, 105, 45739, 252, 12520, 97, 245]],
  ['The quick brown fox jumps over the lazy dog.', [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]],
];

const QWEN_MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hi!' },
  { role: 'assistant', content: '<think>\nGreeting.\n</think>\n\nHello! How can I help?' },
  { role: 'user', content: 'What is 2+2?' },
];

async function assertRejects(promise: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RoadsterError, `expected RoadsterError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

function assertThrows(fn: () => unknown, code: string, ...parts: string[]): Promise<void> {
  return assertRejects(Promise.resolve().then(fn), code, ...parts);
}

let work: string;
let gpt2Json: Record<string, unknown>;

/** A model folder with GPT-2's vocabulary plus the ChatML tokens, and the given extra files. */
async function chatmlFolder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const added = [...(gpt2Json.added_tokens as object[])];
  for (const [id, content] of [[50257, '<|im_start|>'], [50258, '<|im_end|>']] as const) {
    added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ ...gpt2Json, added_tokens: added }));
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'roadster-tokenizer-'));
  gpt2Json = JSON.parse(await readFile(join(FIXTURES, 'gpt2', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('Tokenizer on GPT-2', () => {
  it('encodes exactly as the reference BPE and decodes back', async () => {
    const tok = await Tokenizer.fromFolder(join(FIXTURES, 'gpt2'));
    assert.equal(tok.vocabSize, 50257);
    for (const [text, ids] of GPT2_CASES) {
      assert.deepEqual(tok.encode(text), ids, text);
      assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), ids, text);
      assert.equal(tok.decode(ids), text);
    }
    assert.equal(tok.decode([]), '');
  });

  it('reads special tokens from tokenizer_config.json', async () => {
    const tok = await Tokenizer.fromFolder(join(FIXTURES, 'gpt2'));
    const eot = { content: '<|endoftext|>', id: 50256 };
    assert.deepEqual([tok.bosToken, tok.eosToken, tok.unkToken, tok.padToken], [eot, eot, eot, null]);
    assert.deepEqual(tok.encode('Hi<|endoftext|>'), [17250, 50256]);
    assert.equal(tok.decode([17250, 50256]), 'Hi<|endoftext|>');
    assert.equal(tok.decode([17250, 50256], { skipSpecialTokens: true }), 'Hi');
    assert.equal(tok.tokenToId('Hello'), 15496);
    assert.equal(tok.idToToken(995), 'Ġworld');
    assert.equal(tok.tokenToId('no-such-token'), null);
  });

  it('accepts the AddedToken object form and reports ids of ChatML tokens', async () => {
    const dir = await chatmlFolder('added-token-form', {
      'tokenizer_config.json': JSON.stringify({
        bos_token: null,
        eos_token: { __type: 'AddedToken', content: '<|im_end|>', lstrip: false, normalized: false, rstrip: false, single_word: false },
        pad_token: '<|endoftext|>',
      }),
    });
    const tok = await Tokenizer.fromFolder(dir);
    assert.deepEqual(tok.eosToken, { content: '<|im_end|>', id: 50258 });
    assert.equal(tok.bosToken, null);
    assert.deepEqual(tok.padToken, { content: '<|endoftext|>', id: 50256 });
    assert.equal(tok.vocabSize, 50259);
  });

  it('rejects ids outside the vocabulary', async () => {
    const tok = await Tokenizer.fromFolder(join(FIXTURES, 'gpt2'));
    await assertThrows(() => tok.decode([50257]), 'E_USAGE', '50257', '[0, 50257)');
    await assertThrows(() => tok.decode([1.5]), 'E_USAGE', '1.5');
  });
});

describe('chat templates', () => {
  it('renders Qwen3\'s real ChatML template exactly', async () => {
    const dir = await chatmlFolder('qwen3', {
      'tokenizer_config.json': await readFile(join(FIXTURES, 'qwen3', 'tokenizer_config.json'), 'utf8'),
    });
    const tok = await Tokenizer.fromFolder(dir);
    assert.equal(tok.applyChatTemplate(QWEN_MESSAGES, { addGenerationPrompt: true }),
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n' +
      '<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
      '<|im_start|>assistant\n');
    assert.equal(tok.applyChatTemplate(QWEN_MESSAGES.slice(0, 2), { addGenerationPrompt: true, variables: { enable_thinking: false } }),
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n' +
      '<|im_start|>assistant\n<think>\n\n</think>\n\n');
    const ids = tok.applyChatTemplate([{ role: 'user', content: 'Hi!' }], { addGenerationPrompt: true, tokenize: true });
    assert.deepEqual(ids, [50257, 7220, 198, 17250, 0, 50258, 198, 50257, 562, 10167, 198]);
    assert.equal(tok.decode(ids), '<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n');
  });

  it('passes tools and tool calls as transformers does', async () => {
    const dir = await chatmlFolder('qwen3-tools', {
      'tokenizer_config.json': await readFile(join(FIXTURES, 'qwen3', 'tokenizer_config.json'), 'utf8'),
    });
    const tok = await Tokenizer.fromFolder(dir);
    const tools = [{ type: 'function', function: { name: 'add', description: 'Add two numbers', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] } } }];
    const messages = [
      { role: 'user', content: 'Add 2 and 3' },
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'add', arguments: { a: 2, b: 3 } } }] },
      { role: 'tool', content: '5' },
    ];
    assert.equal(tok.applyChatTemplate(messages, { tools, addGenerationPrompt: true }),
      '<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
      '{"type": "function", "function": {"name": "add", "description": "Add two numbers", "parameters": {"type": "object", ' +
      '"properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}}}\n</tools>\n\n' +
      'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\nAdd 2 and 3<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n' +
      '</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>\n<|im_start|>assistant\n');
  });

  it('reads chat_template.jinja (Llama 3) and passes bos_token', async () => {
    const dir = await chatmlFolder('llama3', {
      'tokenizer_config.json': JSON.stringify({ bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>', chat_template: 'overridden' }),
      'chat_template.jinja': await readFile(join(FIXTURES, 'llama3', 'chat_template.jinja'), 'utf8'),
    });
    const tok = await Tokenizer.fromFolder(dir);
    assert.deepEqual(tok.chatTemplateNames, ['default']);
    assert.equal(tok.applyChatTemplate([{ role: 'system', content: 'You are terse.' }, { role: 'user', content: '  Hi there  ' }], { addGenerationPrompt: true }),
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  });

  it('picks "default" from a list, "tool_use" with tools, or a named template', async () => {
    const dir = await chatmlFolder('list', {
      'tokenizer_config.json': JSON.stringify({ chat_template: [
        { name: 'default', template: 'D{{ messages[0].content }}' },
        { name: 'tool_use', template: 'T{{ tools | length }}' },
        { name: 'rag', template: 'R{{ documents[0].text }}' },
      ] }),
      'additional_chat_templates/extra.jinja': 'E{% if add_generation_prompt %}!{% endif %}',
    });
    const tok = await Tokenizer.fromFolder(dir);
    const msgs = [{ role: 'user', content: 'x' }];
    assert.equal(tok.applyChatTemplate(msgs), 'Dx');
    assert.equal(tok.applyChatTemplate(msgs, { tools: [{}, {}] }), 'T2');
    assert.equal(tok.applyChatTemplate(msgs, { templateName: 'rag', documents: [{ text: 'doc' }] }), 'Rdoc');
    assert.equal(tok.applyChatTemplate(msgs, { templateName: 'extra', addGenerationPrompt: true }), 'E!');
    await assertThrows(() => tok.applyChatTemplate(msgs, { templateName: 'nope' }), 'E_TOKENIZER', '"nope"', '"default", "tool_use", "rag", "extra"');
  });

  it('reports templates that raise, and models without a template', async () => {
    const dir = await chatmlFolder('raising', {
      'tokenizer_config.json': JSON.stringify({ chat_template: "{{ raise_exception('Conversation roles must alternate') }}" }),
    });
    const tok = await Tokenizer.fromFolder(dir);
    await assertThrows(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }]), 'E_USAGE', 'Conversation roles must alternate');
    const base = await Tokenizer.fromFolder(join(FIXTURES, 'gpt2'));
    assert.deepEqual(base.chatTemplateNames, []);
    await assertThrows(() => base.applyChatTemplate([{ role: 'user', content: 'x' }]), 'E_TOKENIZER', 'no chat template', 'chat_template.jinja');
  });
});

describe('Tokenizer.fromFolder errors', () => {
  it('names a missing tokenizer.json and says how to fix it', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir, { recursive: true });
    await assertRejects(Tokenizer.fromFolder(dir), 'E_TOKENIZER', `No tokenizer.json in ${dir}`, 'save_pretrained');
  });

  it('names malformed JSON files', async () => {
    const dir = join(work, 'malformed');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), '{"model": {');
    await assertRejects(Tokenizer.fromFolder(dir), 'E_TOKENIZER', join(dir, 'tokenizer.json'), 'not valid JSON');
    await cp(join(FIXTURES, 'gpt2', 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await writeFile(join(dir, 'tokenizer_config.json'), '[');
    await assertRejects(Tokenizer.fromFolder(dir), 'E_TOKENIZER', join(dir, 'tokenizer_config.json'));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: 5 }));
    await assertRejects(Tokenizer.fromFolder(dir), 'E_TOKENIZER', '"eos_token"');
    await writeFile(join(dir, 'tokenizer_config.json'), '{}');
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0' }));
    await assertRejects(Tokenizer.fromFolder(dir), 'E_TOKENIZER', 'no "model" object');
  });
});
