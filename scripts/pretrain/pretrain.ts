// Pretrains roadster-base, the small Llama model that ships with roadster for offline demos:
//
//   npx tsx scripts/pretrain/pretrain.ts --out models/roadster-base
//
// Every flag has the default the shipped model was trained with (see models/roadster-base/README.md);
// `--help` lists them. The corpus packages are devDependencies (npm ci installs them).

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { loadCorpus } from './corpus.ts';
import { BASE_SIZE } from './model-config.ts';
import { runPretraining } from './run.ts';

const FLAGS = {
  out: { type: 'string', help: 'output model folder (required)' },
  steps: { type: 'string', default: '1000', help: 'optimizer steps' },
  batch: { type: 'string', default: '8', help: 'windows per step' },
  seq: { type: 'string', default: '512', help: 'tokens per window' },
  lr: { type: 'string', default: '2e-3', help: 'peak learning rate (cosine schedule to 0)' },
  warmup: { type: 'string', default: '50', help: 'linear warmup steps' },
  'weight-decay': { type: 'string', default: '0.1', help: 'AdamW weight decay on matrices' },
  'max-grad-norm': { type: 'string', default: '1', help: 'global gradient-norm clip' },
  vocab: { type: 'string', default: '8192', help: 'tokenizer vocabulary size' },
  hidden: { type: 'string', default: String(BASE_SIZE.hiddenSize), help: 'hidden size' },
  layers: { type: 'string', default: String(BASE_SIZE.layers), help: 'decoder layers' },
  heads: { type: 'string', default: String(BASE_SIZE.heads), help: 'attention heads' },
  'kv-heads': { type: 'string', default: String(BASE_SIZE.kvHeads), help: 'key/value heads' },
  intermediate: { type: 'string', default: String(BASE_SIZE.intermediateSize), help: 'MLP intermediate size' },
  'max-positions': { type: 'string', default: String(BASE_SIZE.maxPositions), help: 'max_position_embeddings' },
  seed: { type: 'string', default: '0', help: 'seed of the initialisation and the window sampler' },
  'log-every': { type: 'string', default: '10', help: 'log the mean training loss every N steps' },
  'eval-every': { type: 'string', default: '100', help: 'validation loss every N steps' },
  'eval-windows': { type: 'string', default: '64', help: 'validation windows per evaluation' },
  threads: { type: 'string', help: 'ONNX Runtime intra-op threads (default: all cores)' },
  help: { type: 'boolean', default: false, help: 'show this help' },
} as const;

function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, f]) => `  --${name.padEnd(16)} ${f.help}${'default' in f && f.type === 'string' ? ` (default ${f.default})` : ''}`);
  return `usage: npx tsx scripts/pretrain/pretrain.ts --out DIR [flags]\n${lines.join('\n')}`;
}

function main(): Promise<unknown> {
  const options = Object.fromEntries(Object.entries(FLAGS).map(([k, f]) => [k, { type: f.type, ...('default' in f ? { default: f.default } : {}) }]));
  const { values } = parseArgs({ options: options as ParseArgsConfig['options'], strict: true });
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) {
    console.log(usage());
    return Promise.resolve();
  }
  if (typeof v.out !== 'string') {
    console.error(`--out is required\n${usage()}`);
    process.exit(2);
  }
  const num = (name: string): number => {
    const n = Number(v[name]);
    if (!Number.isFinite(n) || n < 0) {
      console.error(`--${name} must be a non-negative number, got ${String(v[name])}`);
      process.exit(2);
    }
    return n;
  };
  const int = (name: string): number => {
    const n = num(name);
    if (!Number.isInteger(n)) {
      console.error(`--${name} must be an integer, got ${String(v[name])}`);
      process.exit(2);
    }
    return n;
  };
  const command = ['npx tsx scripts/pretrain/pretrain.ts', ...process.argv.slice(2)].join(' ');
  return runPretraining({
    out: v.out,
    corpus: loadCorpus(),
    size: {
      hiddenSize: int('hidden'),
      layers: int('layers'),
      heads: int('heads'),
      kvHeads: int('kv-heads'),
      intermediateSize: int('intermediate'),
      maxPositions: int('max-positions'),
    },
    vocabSize: int('vocab'),
    steps: int('steps'),
    batch: int('batch'),
    seq: int('seq'),
    lr: num('lr'),
    warmupSteps: int('warmup'),
    weightDecay: num('weight-decay'),
    maxGradNorm: num('max-grad-norm'),
    seed: int('seed'),
    logEvery: int('log-every'),
    evalEvery: int('eval-every'),
    evalWindows: int('eval-windows'),
    threads: v.threads === undefined ? undefined : int('threads'),
    measureEmail: true,
    samplePrompts: ['The Congress of the United States', 'Call me Ishmael.', 'Subject: Your account\n\nDear customer,'],
    command,
    log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  });
}

await main();
