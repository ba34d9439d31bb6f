// IncrementalDetokenizer on real tokenizers (roadster-base's byte-level BPE, GPT-2, the byte fixture) and on a
// Llama-style SentencePiece layout (Metaspace + byte fallback): token by token, the chunks (+ flush) add up to
// the full decode, no chunk ends inside a character, and each push decodes only a short window.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../io/tokenizer/index.ts';
import { IncrementalDetokenizer } from './detokenize.ts';

const fixture = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

const TEXTS = [
  'Hello wörld! Café, naïve, Ærøskøbing, Zürich.',
  'Emoji: 😀🎉 and a family 👨‍👩‍👧 and a flag 🇫🇷.',
  '日本語のテキストと中文文本, 한국어 텍스트.',
  'Mixed: ß → ẞ, ½ ≠ 0.5, “quotes”, — dashes — and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢.',
  '  leading spaces, tabs\tand\nnew lines\n\n',
];

/** A SentencePiece-style tokenizer (Llama 2's normalizer and decoder) with byte fallback and few pieces. */
function llamaStyle(): Tokenizer {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const piece of ['▁', ...'abcdefghijklmnopqrstuvwxyzHWCEMé,.!:', '▁a', '▁t', '日', '本']) vocab[piece] ??= Object.keys(vocab).length;
  const special = (id: number, content: string) => ({ id, content, special: true, single_word: false, lstrip: false, rstrip: false, normalized: false });
  return Tokenizer.fromJson({
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: { type: 'BPE', unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab, merges: [] },
  }, {});
}

/** Pushes ids one by one; returns the chunks (the flush last) and the longest window decoded. */
function stream(tokenizer: Tokenizer, ids: readonly number[], promptIds: readonly number[] = []): { chunks: string[]; widest: number } {
  let widest = 0;
  const decode = (window: readonly number[]): string => {
    widest = Math.max(widest, window.length);
    return tokenizer.decode(window, { skipSpecialTokens: true });
  };
  const detok = new IncrementalDetokenizer(decode, promptIds);
  const chunks = ids.map((id) => detok.push(id));
  chunks.push(detok.flush());
  return { chunks, widest };
}

/** Every tokenizer: the concatenation equals the full decode and no chunk has U+FFFD the text lacks. */
function checkTexts(get: () => Tokenizer): void {
  for (const text of TEXTS) {
    test(JSON.stringify(text.slice(0, 24)), () => {
      const tokenizer = get();
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      const full = tokenizer.decode(ids, { skipSpecialTokens: true });
      const { chunks } = stream(tokenizer, ids);
      assert.equal(chunks.join(''), full);
      assert.ok(!full.includes('\uFFFD'), 'the fixture text decodes cleanly');
      for (const chunk of chunks) assert.ok(!chunk.includes('\uFFFD'), `chunk ${JSON.stringify(chunk)} has U+FFFD`);
      assert.ok(chunks.length > text.length / 8, 'text comes out in many chunks, not all at the end');
    });
  }
}

describe('roadster-base (byte-level BPE)', () => {
  let tokenizer: Tokenizer;
  before(async () => {
    tokenizer = await Tokenizer.fromFolder(fixture('models/roadster-base'));
  });
  checkTexts(() => tokenizer);

  test('after a prompt: the new text only, in context (leading space kept)', () => {
    const prompt = tokenizer.encode('Question: where is Zürich?', { addSpecialTokens: false });
    const answer = tokenizer.encode(' In Switzerland 🇨🇭, near the Alps.', { addSpecialTokens: false });
    const { chunks } = stream(tokenizer, answer, prompt);
    const all = tokenizer.decode([...prompt, ...answer]);
    assert.equal(chunks.join(''), all.slice(tokenizer.decode(prompt).length));
    assert.ok(chunks.join('').startsWith(' In'));
  });

  test('special tokens skipped by the closure emit nothing and do not break the text', () => {
    const a = tokenizer.encode('café ', { addSpecialTokens: false });
    const b = tokenizer.encode('日本', { addSpecialTokens: false });
    const ids = [...a, 0, 0, ...b, 0];
    const { chunks } = stream(tokenizer, ids);
    assert.equal(chunks.join(''), 'café 日本');
  });

  test('the window stays short however long the text', () => {
    const ids = tokenizer.encode(TEXTS.join(' ').repeat(8), { addSpecialTokens: false });
    assert.ok(ids.length > 500);
    const { chunks, widest } = stream(tokenizer, ids, ids.slice(0, 50));
    assert.equal(chunks.join(''), tokenizer.decode([...ids.slice(0, 50), ...ids]).slice(tokenizer.decode(ids.slice(0, 50)).length));
    assert.ok(widest <= 16, `widest window ${widest}`);
  });
});

describe('GPT-2 (byte-level BPE)', () => {
  let tokenizer: Tokenizer;
  before(async () => {
    tokenizer = await Tokenizer.fromFolder(fixture('test/fixtures/tokenizers/gpt2'));
  });
  checkTexts(() => tokenizer);
});

describe('Llama-style SentencePiece with byte fallback', () => {
  const tokenizer = llamaStyle();
  checkTexts(() => tokenizer);
});

describe('byte tokenizer (one token per UTF-8 byte)', () => {
  let tokenizer: Tokenizer;
  before(async () => {
    tokenizer = await Tokenizer.fromFolder(fixture('test/fixtures/tokenizers/bytes'));
  });
  checkTexts(() => tokenizer);

  test('a 4-byte character comes out whole, after its last byte', () => {
    const ids = [...Buffer.from('a😀b')];
    const { chunks } = stream(tokenizer, ids);
    assert.deepEqual(chunks, ['a', '', '', '', '😀', 'b', '']);
  });

  test('invalid bytes: U+FFFD is released once no character can complete it, and the total still matches', () => {
    for (const ids of [[0x61, 0xf0, 0x9f, 0x62], [0x61, ...new Array(20).fill(0x80), 0x62, 0xe6], [0xe6, 0x97]]) {
      const full = tokenizer.decode(ids);
      const { chunks } = stream(tokenizer, ids);
      assert.equal(chunks.join(''), full, JSON.stringify(ids));
    }
  });

  test('a sequence that ends inside a character: flush returns the rest', () => {
    const detok = new IncrementalDetokenizer((ids) => tokenizer.decode(ids), []);
    assert.equal(detok.push(0x61), 'a');
    assert.equal(detok.push(0xe6), '');
    assert.equal(detok.flush(), '\uFFFD');
    assert.equal(detok.flush(), '');
  });
});
