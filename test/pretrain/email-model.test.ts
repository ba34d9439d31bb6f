// The demo's base model (models/roadster-base-email): roadster-base after continued pretraining on the text of
// the demo's training e-mails. Its files match its manifest; it shares roadster-base's configuration and
// tokenizer, byte for byte; and the adaptation took: on e-mails of the fixed test split (never trained on)
// its loss is well below roadster-base's, while on held-out prose it stays a trained language model.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EMAIL_MODEL_DIR, SHIPPED_MODEL_DIR, verifyShippedModel } from '../../src/demo/shipped-model.ts';
import { balancedSample, emailText, isTestEmail, loadSpamAssassin } from '../../src/demo/spam-data.ts';
import { CausalLM, Runtime, Tokenizer } from '../../src/index.ts';

const PROSE = 'The extent of the depression is indicated by the following approximate percentages of activity during ' +
  'the past three months as compared with the highly prosperous year of 1928.'; // a validation sentence of roadster-base

describe('models/roadster-base-email', () => {
  const runtime = new Runtime();
  let base: CausalLM;
  let email: CausalLM;
  let tokenizer: Tokenizer;

  before(async () => {
    base = await CausalLM.fromFolder(SHIPPED_MODEL_DIR);
    email = await CausalLM.fromFolder(EMAIL_MODEL_DIR);
    tokenizer = await Tokenizer.fromFolder(EMAIL_MODEL_DIR);
  });
  after(() => runtime.release());

  it('matches its manifest and shares roadster-base\'s configuration and tokenizer files', () => {
    verifyShippedModel(EMAIL_MODEL_DIR);
    for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      assert.deepEqual(readFileSync(join(EMAIL_MODEL_DIR, file)), readFileSync(join(SHIPPED_MODEL_DIR, file)), file);
    }
  });

  const loss = async (model: CausalLM, texts: readonly string[]): Promise<number> => {
    let sum = 0;
    for (const text of texts) {
      const ids = [0, ...tokenizer.encode(text)];
      sum += (await model.forward(runtime, { inputIds: [ids], labels: [ids] })).loss!;
    }
    return sum / texts.length;
  };

  it('predicts unseen e-mail far better than roadster-base, and prose still far better than chance', async () => {
    const tests = balancedSample(loadSpamAssassin().filter(isTestEmail), 4, 1).map((e) => emailText(e, 600));
    const before = await loss(base, tests);
    const adapted = await loss(email, tests);
    assert.ok(adapted < before - 1, `test-split e-mail loss ${adapted.toFixed(3)} should be at least 1 below roadster-base's ${before.toFixed(3)}`);
    const prose = await loss(email, [PROSE]);
    assert.ok(prose < 0.8 * Math.log(email.config.vocabSize), `prose loss ${prose.toFixed(3)}`);
  });
});
