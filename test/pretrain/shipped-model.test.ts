// The shipped base model (models/roadster-base): it loads with roadster's model and tokenizer loaders, its
// weights are trained (the loss on held-out sentences is far below the uniform ln V), and its tokenizer
// round-trips e-mail text.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CausalLM, Runtime, Tokenizer, openSafetensors } from '../../src/index.ts';

const FOLDER = fileURLToPath(new URL('../../models/roadster-base/', import.meta.url));

/** Sentences from the validation documents (never trained on, tokenizer included), by document id. */
const HELD_OUT: [string, string][] = [
  ['sotu:1832:Andrew Jackson:42', 'Nor have we less reason to felicitate ourselves on the position of our political than of our commercial ' +
    'concerns. They remain in the state in which they were when I last addressed you-a state of prosperity and peace, the effect of ' +
    'a wise attention to the parting advice of the revered Father of his Country on this subject.'],
  ['sotu:1930:Herbert Hoover:140', 'The extent of the depression is indicated by the following approximate percentages of activity during ' +
    'the past three months as compared with the highly prosperous year of 1928.'],
  ['sotu:1997:William J Clinton:208', 'And we must work together. The people of this Nation elected us all. They want us to be partners, ' +
    'not partisans. They put us all right here in the same boat, they gave us all oars, and they told us to row.'],
  ['moby-dick:36:34', 'It is not the least among the strange things bred by the intense artificialness of sea-usages, that while in ' +
    'the open air of the deck some officers will, upon provocation, bear themselves boldly and defyingly enough towards their commander.'],
];

const EMAILS = [
  'Subject: Re: [ILUG] mirroring on a running system\n\nWell, what time are we talking about?\n> When are we going to have a pint?\n',
  'Subject: =?iso-8859-1?Q?You=27ve_won!?=\n\n<html><body>CLICK <a href="http://www.example.com/win?id=42&x=%20">HERE</a> for $1,000,000!!!</body></html>',
  'Subject: naïve café — 日本語 🤗\r\n\r\nTabs\tand   spaces, 10:30am, 50% off, e-mail: bob@example.org',
];

describe('models/roadster-base', () => {
  let model: CausalLM;
  let tokenizer: Tokenizer;
  const runtime = new Runtime();

  before(async () => {
    model = await CausalLM.fromFolder(FOLDER);
    tokenizer = await Tokenizer.fromFolder(FOLDER);
  });
  after(() => runtime.release());

  it('is a small BF16 Llama whose vocabulary matches its tokenizer', () => {
    assert.equal(model.config.modelType, 'llama');
    assert.equal(model.config.vocabSize, tokenizer.vocabSize);
    assert.equal(model.config.tieWordEmbeddings, true);
    assert.equal(model.config.torchDtype, 'bfloat16');
    const st = openSafetensors(join(FOLDER, 'model.safetensors'));
    try {
      for (const name of st.tensorNames()) assert.equal(st.info(name).dtype, 'BF16', name);
    } finally {
      st.close();
    }
    const eot = tokenizer.tokenToId('<|endoftext|>');
    assert.equal(eot, 0);
    assert.deepEqual([tokenizer.bosToken?.id, tokenizer.eosToken?.id, tokenizer.padToken?.id], [eot, eot, eot]);
    assert.equal(model.config.eosTokenId, eot);
    const bytes = readdirSync(FOLDER).reduce((n, f) => n + statSync(join(FOLDER, f)).size, 0);
    assert.ok(bytes < 20e6, `the folder holds ${bytes} bytes`);
  });

  it('has trained weights: held-out loss far below ln(vocab)', async () => {
    const report = JSON.parse(readFileSync(join(FOLDER, 'pretrain_report.json'), 'utf8')) as { corpus: { validationDocuments: string[] }[] };
    const heldOut = new Set(report.corpus.flatMap((s) => s.validationDocuments));
    let sum = 0;
    for (const [doc, text] of HELD_OUT) {
      assert.ok(heldOut.has(doc), `${doc} is a validation document`);
      const ids = [0, ...tokenizer.encode(text)];
      const { loss } = await model.forward(runtime, { inputIds: [ids], labels: [ids] });
      sum += loss!;
    }
    const mean = sum / HELD_OUT.length;
    const uniform = Math.log(model.config.vocabSize);
    assert.ok(mean < 0.6 * uniform, `held-out loss ${mean.toFixed(3)} should be below 60 % of ln V = ${(0.6 * uniform).toFixed(3)}`);
  });

  it('tokenizes e-mail text and decodes it back exactly', () => {
    for (const text of EMAILS) {
      const ids = tokenizer.encode(text);
      assert.ok(ids.length > 0 && ids.length < text.length);
      assert.equal(tokenizer.decode(ids), text);
    }
  });
});
