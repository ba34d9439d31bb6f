// Smoke test of the pretraining script on a tiny config and a tiny corpus: the loss goes down, the run is
// reproducible for a seed, and the written folder loads as a model and a tokenizer.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CausalLM, Tokenizer } from '../../src/index.ts';
import type { Corpus, Document } from '../../scripts/pretrain/corpus.ts';
import { type PretrainOptions, runPretraining } from '../../scripts/pretrain/run.ts';

const SENTENCES = [
  'The whale swam past the ship at dawn.',
  'The Congress shall meet once every year.',
  'Our ships carried grain to the ports of Europe.',
  'The captain watched the sea from the deck.',
  'The people of this Nation want peace and work.',
];

/** Documents of shuffled sentences: enough structure for a tiny model to learn in a few steps. */
function tinyCorpus(): Corpus {
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const doc = (id: string, n: number): Document => ({
    id,
    source: 'tiny',
    text: Array.from({ length: n }, () => SENTENCES[Math.floor(next() * SENTENCES.length)]).join(' '),
  });
  const train = Array.from({ length: 12 }, (_, i) => doc(`tiny:${i}`, 20));
  const validation = [doc('tiny:val', 12)];
  const sources = [{ package: 'tiny', version: '0', documents: 13, chars: 0, validationDocuments: ['tiny:val'], validationChars: 0 }];
  return { train, validation, sources };
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function options(out: string): PretrainOptions {
  return {
    out,
    corpus: tinyCorpus(),
    size: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, intermediateSize: 64, maxPositions: 64 },
    vocabSize: 300,
    steps: 30,
    batch: 4,
    seq: 32,
    lr: 1e-2,
    warmupSteps: 3,
    weightDecay: 0.1,
    maxGradNorm: 1,
    seed: 3,
    logEvery: 10,
    evalEvery: 15,
    evalWindows: 8,
    threads: 1,
    measureEmail: false,
    samplePrompts: ['The whale'],
    command: 'test',
    log: () => {},
  };
}

describe('pretraining smoke run', () => {
  it('lowers the loss, is reproducible, and writes a loadable model folder', async () => {
    const out = mkdtempSync(join(tmpdir(), 'roadster-pretrain-'));
    dirs.push(out);
    const report = await runPretraining(options(out));
    const [first, ...rest] = report.evals;
    assert.equal(first.step, 0);
    assert.ok(Math.abs(first.valLoss - Math.log(300)) < 0.3, `initial loss ${first.valLoss} is about ln(300)`);
    const last = rest[rest.length - 1];
    assert.equal(last.step, 30);
    assert.ok(last.valLoss < first.valLoss - 1.5, `validation loss ${first.valLoss} → ${last.valLoss}`);
    assert.ok(Math.abs(report.savedValLoss - report.valLoss) < 0.05, 'BF16 weights keep the loss');

    for (const file of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'README.md', 'training_log.jsonl']) {
      assert.ok(existsSync(join(out, file)), file);
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.torch_dtype, 'bfloat16');
    assert.equal(config.vocab_size, 300);
    const model = await CausalLM.fromFolder(out);
    const tokenizer = await Tokenizer.fromFolder(out);
    assert.equal(model.config.vocabSize, tokenizer.vocabSize);
    assert.equal(model.config.torchDtype, 'bfloat16');
    const log = readFileSync(join(out, 'training_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    assert.deepEqual(log.map((r) => r.type), ['eval', 'train', 'eval', 'train', 'train', 'eval']);

    // the same seed gives the same run
    const again = mkdtempSync(join(tmpdir(), 'roadster-pretrain-'));
    dirs.push(again);
    const second = await runPretraining({ ...options(again), steps: 30 });
    assert.deepEqual(second.evals, report.evals);
    assert.deepEqual(readFileSync(join(again, 'model.safetensors')), readFileSync(join(out, 'model.safetensors')));
  });
});
