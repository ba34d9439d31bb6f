// Parses a transformers `generation_config.json`: the special token ids and the default sampling settings a
// model ships with. Defaults follow transformers' `GenerationConfig` (greedy, temperature 1, top_k 50, top_p 1).

import { FieldReader } from './fields.ts';

/** Normalized generation_config.json. */
export interface GenerationConfig {
  readonly bosTokenId: number | null;
  /** Every id that ends generation (`eos_token_id` may be one id or a list). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  readonly doSample: boolean;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly repetitionPenalty: number;
  /** `max_new_tokens`, or null when unset. */
  readonly maxNewTokens: number | null;
  /** `max_length` (prompt + generated), or null when unset. transformers' own default is 20. */
  readonly maxLength: number | null;
}

/**
 * Validates and normalizes a parsed generation_config.json.
 * @param file the file's path, used in error messages
 * @throws RoadsterError E_CONFIG naming the file and the field
 */
export function parseGenerationConfig(json: unknown, file = 'generation_config.json'): GenerationConfig {
  const config = new FieldReader(json, file);
  const eos = config.tokenIds('eos_token_id');
  const topP = config.positive('top_p', 1);
  if (topP > 1) config.fail('top_p', 'a number in (0, 1]');
  return Object.freeze({
    bosTokenId: config.tokenId('bos_token_id'),
    eosTokenIds: Object.freeze(eos === null ? [] : typeof eos === 'number' ? [eos] : [...eos]),
    padTokenId: config.tokenId('pad_token_id'),
    doSample: config.bool('do_sample', false),
    // temperature 0 appears in the wild for greedy models; it only matters when do_sample is true
    temperature: config.has('temperature') && config.obj.temperature === 0 ? 0 : config.positive('temperature', 1),
    topK: config.int('top_k', 50, 0),
    topP,
    repetitionPenalty: config.positive('repetition_penalty', 1),
    maxNewTokens: config.has('max_new_tokens') ? config.int('max_new_tokens') : null,
    maxLength: config.has('max_length') ? config.int('max_length') : null,
  });
}
