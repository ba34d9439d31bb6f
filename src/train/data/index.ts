// Training data: JSONL formats, tokenization with loss masks, the token cache, the dataset and its batches.

export { KNOWN_ROLES, loadDataset } from './load.ts';
export type { LoadDatasetOptions, LoadReport, LoadedDataset } from './load.ts';
export { TokenizedDataset } from './dataset.ts';
export type { DatasetInfo, DatasetStats } from './dataset.ts';
export { BATCH_MODES, checkBatchOptions, LENGTH_GROUP_FACTOR, makeBatches } from './batching.ts';
export type { BatchMode, BatchOptions, TrainBatch } from './batching.ts';
export { DATA_FORMATS, detectFormat, parseExample } from './formats.ts';
export type { DataFormat, Example, ExpectedFormat } from './formats.ts';
export { readJsonl, LineError, MAX_LISTED_BAD_LINES } from './jsonl.ts';
export type { BadLine, JsonlOptions, JsonlRecord, JsonlResult } from './jsonl.ts';
export { buildClassList } from './labels.ts';
export type { ClassList, LabelNames } from './labels.ts';
export {
  countLossTerms,
  DEFAULT_PROMPT_SEPARATOR,
  defaultPadId,
  IGNORE_INDEX,
  LABEL_MODES,
  labelCompletionIds,
  labelWordIds,
  MAX_CHARS_PER_TOKEN,
  tokenizeExample,
} from './tokenize.ts';
export type { LabelMode, TokenizedExample, TokenizeOptions, TokenizeResult } from './tokenize.ts';
export { cacheKey, hashFile, readCache, tokenizerDigest, writeCache } from './cache.ts';
