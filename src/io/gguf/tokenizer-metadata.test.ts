// Tokenizer metadata for GGUF: llama.cpp's pre-tokenizer names picked from tokenizer.json's structure (and
// refused for splitting rules it has no name for), the token list and types of the shipped model's tokenizer,
// padding ids, special ids, chat templates, and the placeholder vocabulary of folders without a tokenizer.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RoadsterError } from '../../errors.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { GgufTokenType } from './constants.ts';
import { llamaCppPreTokenizer, placeholderTokenizerMetadata, tokenizerMetadata } from './tokenizer-metadata.ts';

const SHIPPED = 'models/roadster-base';
const BYTES = 'test/fixtures/tokenizers/bytes';
const noIds = { bosTokenId: null, eosTokenId: null, padTokenId: null };
const dir = mkdtempSync(join(tmpdir(), 'roadster-gguf-tok-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const isTokenizerError = (e: unknown) => e instanceof RoadsterError && e.code === 'E_TOKENIZER';

describe('llama.cpp pre-tokenizer names', () => {
  const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
  const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

  test('GPT-2, SmolLM, Llama 3 and Qwen2 rules', () => {
    assert.equal(llamaCppPreTokenizer(byteLevel(true)), 'gpt-2');
    assert.equal(llamaCppPreTokenizer({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] }), 'smollm');
    assert.equal(llamaCppPreTokenizer({ type: 'Sequence', pretokenizers: [split(LLAMA3), byteLevel(false)] }), 'llama-bpe');
    assert.equal(llamaCppPreTokenizer({ type: 'Sequence', pretokenizers: [split(LLAMA3.replace('\\p{N}{1,3}', '\\p{N}')), byteLevel(false)] }), 'qwen2');
  });

  test('other rules are refused, naming what was found', () => {
    for (const pre of [
      null,
      byteLevel(false),
      { type: 'Metaspace', replacement: '\u2581' },
      { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false }, byteLevel(true)] },
      { type: 'Sequence', pretokenizers: [split('\\s+'), byteLevel(false)] },
    ]) {
      assert.throws(() => llamaCppPreTokenizer(pre), isTokenizerError, JSON.stringify(pre));
    }
  });
});

describe('tokenizer metadata', () => {
  test('the shipped model: every id\'s string and type, merges, special ids, no BOS added', async () => {
    const tokenizer = await Tokenizer.fromFolder(SHIPPED);
    const md = await tokenizerMetadata(SHIPPED, 8192, { bosTokenId: 0, eosTokenId: 0, padTokenId: 0 });
    assert.equal(md.get('tokenizer.ggml.model')?.value, 'gpt2');
    assert.equal(md.get('tokenizer.ggml.pre')?.value, 'gpt-2');
    const tokens = md.get('tokenizer.ggml.tokens')!.value as string[];
    const types = md.get('tokenizer.ggml.token_type')!.value as number[];
    assert.equal(tokens.length, 8192);
    for (let id = 0; id < 8192; id++) assert.equal(tokens[id], tokenizer.idToToken(id), `id ${id}`);
    assert.deepEqual(types.slice(0, 9), [3, 3, 3, 3, 3, 3, 3, 3, 1]); // <|endoftext|>, 7 reserved specials, then normal
    assert.ok(types.slice(8).every((t) => t === GgufTokenType.NORMAL));
    const merges = md.get('tokenizer.ggml.merges')!.value as string[];
    assert.equal(merges.length, 7928);
    assert.equal(merges[0], '\u0120 t');
    for (const key of ['bos_token_id', 'eos_token_id', 'padding_token_id']) assert.equal(md.get(`tokenizer.ggml.${key}`)?.value, 0, key);
    assert.equal(md.get('tokenizer.ggml.unknown_token_id'), undefined);
    assert.equal(md.get('tokenizer.ggml.add_bos_token')?.value, false);
    assert.equal(md.get('tokenizer.chat_template'), undefined);
  });

  test('ids the tokenizer lacks become [PAD<id>] UNUSED; a chat template is kept; too small a vocabulary is refused', async () => {
    const md = await tokenizerMetadata(BYTES, 260, noIds);
    const tokens = md.get('tokenizer.ggml.tokens')!.value as string[];
    const types = md.get('tokenizer.ggml.token_type')!.value as number[];
    assert.deepEqual(tokens.slice(256), ['[PAD256]', '[PAD257]', '[PAD258]', '[PAD259]']);
    assert.deepEqual(types.slice(255), [1, 5, 5, 5, 5]);
    assert.equal(md.get('tokenizer.ggml.bos_token_id')?.value, 1); // "ā" in tokenizer_config.json
    assert.equal(md.get('tokenizer.ggml.eos_token_id')?.value, 2);
    assert.equal(md.get('tokenizer.ggml.padding_token_id')?.value, 0);
    assert.match(String(md.get('tokenizer.chat_template')?.value), /<\|im_start\|>/);
    await assert.rejects(tokenizerMetadata(BYTES, 255, noIds), (e) => isTokenizerError(e) && /vocab_size is 255/.test((e as Error).message));
  });

  test('BOS added by the post-processor is detected; folders without tokenizer.json and non-BPE models are refused', async () => {
    const withBos = join(dir, 'bos');
    cpSync(BYTES, withBos, { recursive: true });
    const json = JSON.parse(readFileSync(join(BYTES, 'tokenizer.json'), 'utf8'));
    json.post_processor = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '\u0101', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: { '\u0101': { id: '\u0101', ids: [1], tokens: ['\u0101'] } } };
    writeFileSync(join(withBos, 'tokenizer.json'), JSON.stringify(json));
    assert.equal((await tokenizerMetadata(withBos, 256, noIds)).get('tokenizer.ggml.add_bos_token')?.value, true);

    await assert.rejects(tokenizerMetadata(dir, 256, noIds), (e) => isTokenizerError(e) && /--placeholder-vocab/.test((e as Error).message));
    const wordLevel = join(dir, 'wordlevel');
    cpSync(BYTES, wordLevel, { recursive: true });
    writeFileSync(join(wordLevel, 'tokenizer.json'), JSON.stringify({ ...json, model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } }));
    await assert.rejects(tokenizerMetadata(wordLevel, 256, noIds), (e) => isTokenizerError(e) && /WordLevel/.test((e as Error).message));
  });

  test('placeholder: special ids from the config, byte characters in the free ids, the rest unused, no merges', () => {
    const md = placeholderTokenizerMetadata(300, { bosTokenId: 1, eosTokenId: [2, 5], padTokenId: null });
    const tokens = md.get('tokenizer.ggml.tokens')!.value as string[];
    const types = md.get('tokenizer.ggml.token_type')!.value as number[];
    assert.equal(tokens.length, 300);
    assert.deepEqual(tokens.slice(0, 4), ['\u0100', '<|startoftext|>', '<|endoftext|>', '\u0101']); // byte 0 is U+0100
    assert.deepEqual(types.slice(0, 4), [1, 3, 3, 1]);
    assert.equal(tokens[257], '\u00ff');
    assert.deepEqual([tokens[258], types[258]], ['[PAD258]', GgufTokenType.UNUSED]);
    assert.equal(new Set(tokens).size, 300);
    assert.deepEqual(md.get('tokenizer.ggml.merges')?.value, []);
    assert.equal(md.get('tokenizer.ggml.bos_token_id')?.value, 1);
    assert.equal(md.get('tokenizer.ggml.eos_token_id')?.value, 2);
  });
});
