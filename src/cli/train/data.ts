// The data of a `roadster train` run: the training file (and the eval file, or a seeded split of the training
// file) loaded through the token cache in `<out>/.cache`, and the trainer's batch sources. With
// --label-mode classify or words, both files must be text/label records with the same classes (the head's labels).

import { join } from 'node:path';
import type { Tokenizer } from '../../io/tokenizer/index.ts';
import type { BatchSource } from '../../train/batch.ts';
import { RoadsterError } from '../../errors.ts';
import { DEFAULT_PROMPT_SEPARATOR, defaultPadId, hashFile, KNOWN_ROLES, loadDataset, MAX_CHARS_PER_TOKEN, tokenizerDigest, type LoadReport, type TokenizedDataset } from '../../train/data/index.ts';
import type { RunInput } from '../../train/trainer.ts';
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
  /** Records cut to maxLength × MAX_CHARS_PER_TOKEN characters before tokenizing. */
  readonly cutRecords: number;
  /** Records with nothing to train on, and the first of their lines. */
  readonly emptyRecords: number;
  readonly emptyLines: readonly number[];
  /** Lines that are not valid UTF-8 (read with U+FFFD), and the first of them. */
  readonly invalidUtf8Lines: number;
  readonly invalidUtf8At: readonly number[];
  /** Chat messages with roles templates do not know, and those roles. */
  readonly unknownRoles: LoadReport['unknownRoles'];
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
  /** --label-mode classify or words: the class names by index (the head's id2label); else null. */
  readonly classes: readonly string[] | null;
  /** The data files and the tokenizer with their content hashes (--resume refuses a change). */
  readonly inputs: Readonly<Record<string, RunInput>>;
}

/** Checks that classify and words modes got text/label records and that the eval file has the training file's classes. */
function checkClassify(settings: TrainSettings, train: TokenizedDataset, evalFile: TokenizedDataset | null): readonly string[] {
  const names = train.info.classNames;
  if (train.info.format !== 'classification' || names === undefined) {
    throw new RoadsterError('E_DATA', `--label-mode ${settings.labelMode} needs text/label records ({"text": ..., "label": ...}); ${settings.data} holds ${train.info.format} records.`);
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
    cutRecords: r.cutRecords,
    emptyRecords: r.emptyRecords,
    emptyLines: r.emptyLines,
    invalidUtf8Lines: r.invalidUtf8Lines,
    invalidUtf8At: r.invalidUtf8At,
    unknownRoles: r.unknownRoles,
  };
}

/** Lines to warn with about records that were cut, empty, not UTF-8 or of unknown chat roles. */
export function dataWarnings(report: DataReport): string[] {
  const warnings: string[] = [];
  for (const f of [report.train, report.eval]) {
    if (f === null) continue;
    if (f.cutRecords > 0) {
      warnings.push(`${f.file}: ${f.cutRecords} record(s) longer than --max-length × ${MAX_CHARS_PER_TOKEN} characters were cut before tokenizing ` +
        '(truncation drops those tokens anyway).');
    }
    if (f.emptyRecords > 0) {
      warnings.push(`${f.file}: ${f.emptyRecords} record(s) have nothing to train on (an empty text, completion or label, or a conversation ` +
        `with no assistant turn) and were left out: line ${f.emptyLines.join(', ')}${f.emptyRecords > f.emptyLines.length ? ', ...' : ''}.`);
    }
    if (f.invalidUtf8Lines > 0) {
      warnings.push(`${f.file}: ${f.invalidUtf8Lines} line(s) are not valid UTF-8; their bad bytes were read as U+FFFD: line ` +
        `${f.invalidUtf8At.join(', ')}${f.invalidUtf8Lines > f.invalidUtf8At.length ? ', ...' : ''}. Re-encode the file as UTF-8.`);
    }
    if (f.unknownRoles.messages > 0) {
      warnings.push(`${f.file}: ${f.unknownRoles.messages} message(s) have roles other than ${KNOWN_ROLES.join(', ')}: ` +
        `${f.unknownRoles.roles.map((r) => JSON.stringify(r)).join(', ')}; only "assistant" turns are trained on, and chat templates may ` +
        'skip such messages. Rename the roles (ShareGPT\'s "human"/"gpt" are "user"/"assistant").');
    }
  }
  return warnings;
}

/** The run's inputs with their sha256: the data files and the tokenizer folder's files. */
async function runInputs(settings: TrainSettings, tokenizerFolder: string): Promise<Record<string, RunInput>> {
  const inputs: Record<string, RunInput> = { 'training data': { file: settings.data, sha256: await hashFile(settings.data) } };
  if (settings.evalData !== null) inputs['eval data'] = { file: settings.evalData, sha256: await hashFile(settings.evalData) };
  inputs.tokenizer = { file: tokenizerFolder, sha256: await tokenizerDigest(tokenizerFolder) };
  return inputs;
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
      // label words read the records as classify mode does, with the separator kept after every cut text
      labelMode: settings.labelMode === 'words' ? 'classify' : settings.labelMode,
      classifySuffix: settings.labelMode === 'words' ? (settings.promptSeparator ?? DEFAULT_PROMPT_SEPARATOR) : undefined,
      labelNames: settings.labelNames,
      promptSeparator: settings.labelMode === 'words' ? undefined : settings.promptSeparator,
      skipBadLines: settings.skipBadLines,
      cacheDir: join(settings.out, CACHE_DIR),
      tokenizerFolder,
    });
  const trainFile = await load(settings.data);
  const evalFile = settings.evalData === null ? null : await load(settings.evalData);
  const classes = settings.labelMode !== 'generate' ? checkClassify(settings, trainFile.dataset, evalFile?.dataset ?? null) : null;
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
    inputs: await runInputs(settings, tokenizerFolder),
  };
}
