// The data of a `roadster train` run: the training file (and the eval file, or a seeded split of the training
// file) loaded through the token cache in `<out>/.cache`, and the trainer's batch sources. With
// --label-mode classify, both files must be text/label records with the same classes (the head's labels).

import { join } from 'node:path';
import type { Tokenizer } from '../../io/tokenizer/index.ts';
import type { BatchSource } from '../../train/batch.ts';
import { RoadsterError } from '../../errors.ts';
import { defaultPadId, loadDataset, type LoadReport, type TokenizedDataset } from '../../train/data/index.ts';
import { CACHE_DIR } from './out-dir.ts';
import type { TrainSettings } from './settings.ts';

/** What the final report says about one data file. */
export interface DataFileReport {
  readonly file: string;
  readonly format: LoadReport['format'];
  /** Examples loaded from the file (before an eval split). */
  readonly examples: number;
  readonly truncated: number;
  readonly droppedTokens: number;
  readonly droppedExamples: number;
  /** Bad lines skipped with --skip-bad-lines, and the first of them. */
  readonly skippedLines: number;
  readonly badLines: LoadReport['badLines'];
  readonly cache: LoadReport['cache'];
}

export interface DataReport {
  readonly train: DataFileReport;
  readonly eval: DataFileReport | null;
  /** Where the eval examples come from. */
  readonly evalSource: 'file' | 'split' | null;
  readonly trainExamples: number;
  readonly evalExamples: number;
}

export interface RunData {
  readonly train: BatchSource;
  readonly eval: BatchSource | null;
  readonly report: DataReport;
  /** --label-mode classify: the class names by index (the classification head's id2label); else null. */
  readonly classes: readonly string[] | null;
}

/** Checks that classify mode got text/label records and that the eval file has the training file's classes. */
function checkClassify(settings: TrainSettings, train: TokenizedDataset, evalFile: TokenizedDataset | null): readonly string[] {
  const names = train.info.classNames;
  if (train.info.format !== 'classification' || names === undefined) {
    throw new RoadsterError('E_DATA', `--label-mode classify needs text/label records ({"text": ..., "label": ...}); ${settings.data} holds ${train.info.format} records.`);
  }
  const other = evalFile?.info.classNames;
  if (evalFile !== null && (other === undefined || JSON.stringify(other) !== JSON.stringify(names))) {
    throw new RoadsterError(
      'E_DATA',
      `${settings.evalData} has the classes ${JSON.stringify(other ?? [])} but ${settings.data} has ${JSON.stringify(names)}; the classification head needs the same classes in both: ` +
        'give --label-names so that both files share them.',
    );
  }
  return names;
}

function fileReport(file: string, r: LoadReport): DataFileReport {
  return {
    file,
    format: r.format,
    examples: r.examples,
    truncated: r.truncated,
    droppedTokens: r.droppedTokens,
    droppedExamples: r.droppedExamples,
    skippedLines: r.skipped,
    badLines: r.badLines,
    cache: r.cache,
  };
}

/**
 * Loads, splits and batches the data.
 * @param tokenizerFolder the folder the tokenizer was read from (the cache key hashes its files)
 * @throws RoadsterError E_DATA / E_NOT_FOUND from the loader, E_USAGE when the split or batches do not fit
 */
export async function loadRunData(settings: TrainSettings, tokenizer: Tokenizer, tokenizerFolder: string, maxLength: number): Promise<RunData> {
  const load = (file: string) =>
    loadDataset(file, {
      tokenizer,
      maxLength,
      format: settings.format,
      labelMode: settings.labelMode,
      labelNames: settings.labelNames,
      promptSeparator: settings.promptSeparator,
      skipBadLines: settings.skipBadLines,
      cacheDir: join(settings.out, CACHE_DIR),
      tokenizerFolder,
    });
  const trainFile = await load(settings.data);
  const evalFile = settings.evalData === null ? null : await load(settings.evalData);
  const classes = settings.labelMode === 'classify' ? checkClassify(settings, trainFile.dataset, evalFile?.dataset ?? null) : null;
  let train: TokenizedDataset = trainFile.dataset;
  let evalSet: TokenizedDataset | null = evalFile?.dataset ?? null;
  if (evalFile === null && settings.evalSplit > 0) {
    const split = trainFile.dataset.split(settings.evalSplit, settings.train.seed);
    train = split.train;
    evalSet = split.eval;
  }
  const padId = defaultPadId(tokenizer);
  const seed = settings.train.seed;
  return {
    train: train.batchSource({ batchSize: settings.batchSize, seed, mode: settings.pack ? 'pack' : 'length', maxLength, padId }),
    eval: evalSet === null ? null : evalSet.batchSource({ batchSize: settings.batchSize, seed, mode: 'length', maxLength, padId }),
    report: {
      train: fileReport(settings.data, trainFile.report),
      eval: evalFile === null || settings.evalData === null ? null : fileReport(settings.evalData, evalFile.report),
      evalSource: evalFile !== null ? 'file' : evalSet !== null ? 'split' : null,
      trainExamples: train.size,
      evalExamples: evalSet?.size ?? 0,
    },
    classes,
  };
}
