// Rewrites a pretrained folder's README.md from its pretrain_report.json (after editing model-card.ts):
//
//   npx tsx scripts/pretrain/write-card.ts models/roadster-base

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelCard } from './model-card.ts';
import type { PretrainReport } from './run.ts';

const folder = process.argv[2];
if (!folder) {
  console.error('usage: npx tsx scripts/pretrain/write-card.ts MODEL_FOLDER');
  process.exit(2);
}
let report = JSON.parse(readFileSync(join(folder, 'pretrain_report.json'), 'utf8')) as PretrainReport;
if (!report.tokensPerSecondRange) {
  // reports written before the range was recorded: take it from the training log (first interval left out)
  const rates = readFileSync(join(folder, 'training_log.jsonl'), 'utf8').trim().split('\n')
    .map((line) => JSON.parse(line) as { type: string; step: number; tokens_per_s?: number })
    // intervals right after an evaluation counted its time too
    .filter((r) => r.type === 'train' && r.step > report.hyper.logEvery && r.step % report.hyper.evalEvery !== report.hyper.logEvery)
    .map((r) => r.tokens_per_s!);
  if (rates.length > 0) {
    report = { ...report, tokensPerSecondRange: [Math.min(...rates), Math.max(...rates)] };
    writeFileSync(join(folder, 'pretrain_report.json'), JSON.stringify(report, null, 2) + '\n');
  }
}
writeFileSync(join(folder, 'README.md'), modelCard(report));
