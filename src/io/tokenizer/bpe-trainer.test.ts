// Tests for the byte-level BPE trainer: the alphabet, merges worked out by hand (with the tie-break), determinism,
// and the written files loading in `Tokenizer.fromFolder` (@huggingface/tokenizers) with exact round trips.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RoadsterError } from '../../errors.ts';
import { byteLevelCounts, byteToUnicode, countPieces, saveTokenizer, toByteLevel, trainBpe, type TrainedBpe } from './bpe-trainer.ts';
import { Tokenizer } from './tokenizer.ts';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!',
  'In 1999 the fox ran 10 miles, then 100 more: 110 in all. Isn\'t that something? It\'s true.',
  'Subject: Re: your order #4521\n\nDear customer, your order has shipped. Visit http://example.com/track?id=4521 for details.',
  'The quick brown dog jumps over the lazy fox, and the lazy fox sleeps.',
];

const EMAILS = [
  'Subject: =?iso-8859-1?Q?Caf=E9?= special offer!!!\n\nClick here: https://www.example.com/promo?ref=a1b2&x=%20 — 50% OFF\n',
  'Hi Bob,\r\n\r\nThe meeting is at 10:30am (room 4B). Re: "Q3 budget" -- see attached.\n\n> quoted line\n>> deeper\n',
  'naïve café — 日本語 🤗 <html><body bgcolor="#ffffff">FREE $$$</body></html>\t\ttabs  and   spaces ',
  '<|endoftext|>Subject: hello<|endoftext|>',
  '',
];

function counts(texts: readonly string[]): Map<string, number> {
  const pieces = new Map<string, number>();
  for (const t of texts) countPieces(t, pieces);
  return byteLevelCounts(pieces);
}

describe('byte-level alphabet', () => {
  it('maps the 256 bytes to distinct visible characters as GPT-2 does', () => {
    const table = byteToUnicode();
    assert.equal(new Set(table).size, 256);
    assert.equal(table[0x20], 'Ġ');
    assert.equal(table[0x0a], 'Ċ');
    assert.equal(table[0x41], 'A');
    assert.equal(table[0x00], 'Ā');
    assert.equal(toByteLevel(' café'), 'ĠcafÃ©');
  });

  it('counts GPT-2 pre-tokenized pieces', () => {
    assert.deepEqual([...countPieces("It's 10 o'clock  now!\n")], [['It', 1], ["'s", 1], [' 10', 1], [' o', 1], ["'", 1], ['clock', 1], [' ', 1], [' now', 1], ['!', 1], ['\n', 1]]);
  });
});

describe('trainBpe', () => {
  // word counts of the Hugging Face course example: hug 10, pug 5, pun 12, bun 4, hugs 5
  const words = new Map([['hug', 10], ['pug', 5], ['pun', 12], ['bun', 4], ['hugs', 5]]);

  it('learns the merges worked out by hand, ties broken by the pair strings', () => {
    const bpe = trainBpe(words, { vocabSize: 256 + 1 + 7, specialTokens: ['<s>'] });
    // u+g 20; u+n 16; h+ug 15; p+un 12; then hug+s and p+ug both 5 ("hug" < "p"); b+un 4
    assert.deepEqual(bpe.merges, [['u', 'g'], ['u', 'n'], ['h', 'ug'], ['p', 'un'], ['hug', 's'], ['p', 'ug'], ['b', 'un']]);
    assert.equal(bpe.vocab.get('<s>'), 0);
    assert.equal(bpe.vocab.get('Ā'), 1); // byte 0
    assert.equal(bpe.vocab.get('ug'), 257);
    assert.equal(bpe.vocab.get('bun'), 263);
    assert.equal(bpe.vocab.size, 264);
  });

  it('is deterministic and independent of the order of the word counts', () => {
    const a = trainBpe(words, { vocabSize: 262 });
    const b = trainBpe(new Map([...words].reverse()), { vocabSize: 262 });
    assert.deepEqual(a.merges, b.merges);
    assert.deepEqual([...a.vocab], [...b.vocab]);
  });

  it('stops at the vocabulary size and below the minimum frequency', () => {
    assert.equal(trainBpe(words, { vocabSize: 258 }).merges.length, 2);
    const rare = trainBpe(words, { vocabSize: 300, minFrequency: 13 });
    assert.deepEqual(rare.merges, [['u', 'g'], ['u', 'n'], ['h', 'ug']]);
  });

  it('rejects impossible sizes and duplicate special tokens', () => {
    const code = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof RoadsterError && e.code === 'E_USAGE');
    code(() => trainBpe(words, { vocabSize: 256, specialTokens: ['<s>'] }));
    code(() => trainBpe(words, { vocabSize: 70000 }));
    code(() => trainBpe(words, { vocabSize: 300, specialTokens: ['<s>', '<s>'] }));
    code(() => trainBpe(new Map([['no spaces allowed', 1]]), { vocabSize: 300 }));
  });
});

describe('tokenizer files', () => {
  let dir: string;
  let bpe: TrainedBpe;
  let tok: Tokenizer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roadster-bpe-'));
    bpe = trainBpe(counts(CORPUS), { vocabSize: 310, specialTokens: ['<|endoftext|>', '<|reserved_0|>'] });
    const eot = '<|endoftext|>';
    saveTokenizer(dir, bpe, { roles: { bos: eot, eos: eot, pad: eot }, modelMaxLength: 512 });
    tok = await Tokenizer.fromFolder(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('load in @huggingface/tokenizers with the special tokens in place', () => {
    assert.equal(tok.vocabSize, 310);
    assert.deepEqual(tok.eosToken, { content: '<|endoftext|>', id: 0 });
    assert.deepEqual(tok.bosToken, { content: '<|endoftext|>', id: 0 });
    assert.deepEqual(tok.padToken, { content: '<|endoftext|>', id: 0 });
    assert.equal(tok.tokenToId('<|reserved_0|>'), 1);
  });

  it('round-trip e-mail-like text exactly (punctuation, digits, URLs, CRLF, non-ASCII, special tokens)', () => {
    for (const text of [...CORPUS, ...EMAILS]) {
      const ids = tok.encode(text);
      assert.equal(tok.decode(ids), text);
    }
    assert.deepEqual(tok.encode('<|endoftext|>Hi'), [0, ...tok.encode('Hi')]);
    assert.equal(tok.decode(tok.encode('<|endoftext|>Hi'), { skipSpecialTokens: true }), 'Hi');
  });

  it('encode with the learned merges: frequent words are single tokens', () => {
    for (const word of [' the', ' fox', 'The']) {
      const ids = tok.encode(word);
      assert.equal(ids.length, 1, `${JSON.stringify(word)} → ${ids.map((i) => tok.idToToken(i)).join(' ')}`);
      assert.equal(tok.idToToken(ids[0]), toByteLevel(word));
    }
    // an unseen word falls back to learned pieces and bytes
    assert.ok(tok.encode('Zyzzyva').length > 1);
  });

  it('write the vocabulary in id order (integer-like tokens included) and merges as pairs', async () => {
    const text = await readFile(join(dir, 'tokenizer.json'), 'utf8');
    const json = JSON.parse(text) as { model: { type: string; vocab: Record<string, number>; merges: [string, string][] }; pre_tokenizer: { type: string } };
    assert.equal(json.model.type, 'BPE');
    assert.equal(json.pre_tokenizer.type, 'ByteLevel');
    assert.deepEqual(json.model.merges, bpe.merges);
    const vocabText = text.slice(text.indexOf('"vocab": {'), text.indexOf('"merges": ['));
    const order = [...vocabText.matchAll(/^ {6}"(?:[^"\\]|\\.)*": (\d+),?$/gm)].map((m) => Number(m[1]));
    assert.equal(order.length, 310);
    assert.deepEqual(order, order.map((_, i) => i));
    assert.ok(bpe.vocab.has('10') || bpe.vocab.has('Ġ1'), 'the corpus has digit tokens');
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.tokenizer_class, 'PreTrainedTokenizerFast');
    assert.equal(config.model_max_length, 512);
    assert.deepEqual(config.additional_special_tokens, ['<|reserved_0|>']);
  });
});
