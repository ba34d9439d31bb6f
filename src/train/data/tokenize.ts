// Example → token ids and labels (-100 where no loss), following TRL's SFTTrainer:
// - text: encode(text) with the tokenizer's special tokens, then EOS (when the tokenizer has one with an id and
//   it is not already last), as TRL appends eos_token, so the model learns where a document ends; loss on all.
// - prompt-completion: encode(prompt) ++ encode(completion, no special tokens) ++ EOS; the parts are encoded
//   separately so the boundary is exact; loss on the completion (and EOS) only.
// - messages: the chat template's rendering, loss on assistant turns only. The span of assistant message i is
//   render(messages[:i+1]) minus render(messages[:i], add_generation_prompt) (TRL's prompt/completion split of a
//   conversation); both must be token prefixes of the whole rendering. No EOS is added: the template writes the
//   end-of-turn tokens, and they are in the span.
// - classification, 'generate': encode(text) ++ encode(separator) as the prompt, the label's words + EOS as the
//   completion (EOS keeps a label that is a prefix of another distinguishable); 'classify': encode(text), then
//   encode(classifySuffix) when one is given, no token loss, only the class index.
// Truncation keeps the first maxLength tokens, except that prompt-completion drops prompt tokens from the left
// (keeping a leading BOS) and classification drops text tokens from the right (keeping the separator or the
// classify suffix), so that the completion, or the tokens a classification head reads, survive. Labels at position 0 produce no loss term (the model
// predicts token t+1 from position t), so an example whose only loss labels sit at position 0 is dropped too.

import { RoadsterError } from '../../errors.ts';
import type { ChatMessage, Tokenizer } from '../../io/tokenizer/index.ts';
import type { Example } from './formats.ts';
import { LineError } from './jsonl.ts';
import type { ClassList } from './labels.ts';

/** The label of positions without a loss term (PyTorch's cross-entropy ignore_index). */
export const IGNORE_INDEX = -100;

/** How classification records are trained. */
export const LABEL_MODES = ['generate', 'classify'] as const;
export type LabelMode = (typeof LABEL_MODES)[number];

/** Default text between a classification text and its label words. */
export const DEFAULT_PROMPT_SEPARATOR = '\nLabel:';

export interface TokenizeOptions {
  /** Longest example kept, in tokens. */
  readonly maxLength: number;
  /** Classification records: generate the label words, or only carry the class index. Default 'generate'. */
  readonly labelMode?: LabelMode;
  /** Text between a classification text and its label words. Default `DEFAULT_PROMPT_SEPARATOR`. */
  readonly promptSeparator?: string;
  /**
   * 'classify' mode: text appended after every classification text and kept by truncation, so that a head that
   * reads the last token (transformers' *ForSequenceClassification) reads the same tokens in every example,
   * however the text was cut. Default none.
   */
  readonly classifySuffix?: string;
  /** The classes; required for classification records. */
  readonly classes?: ClassList;
}

/** One example, ready to batch. `labels` equals `inputIds` where the loss applies, IGNORE_INDEX elsewhere. */
export interface TokenizedExample {
  readonly inputIds: number[];
  readonly labels: number[];
  /** Class index, for classification records. */
  readonly classLabel?: number;
}

/** A tokenized example, or null when nothing trainable is left; and the tokens truncation dropped. */
export interface TokenizeResult {
  readonly example: TokenizedExample | null;
  readonly droppedTokens: number;
}

/**
 * Token ids before truncation: one piece with its labels; a prompt and a completion (loss on the latter); or a
 * classification text, its separator and its label's completion.
 */
type Encoded =
  | { readonly kind: 'whole'; readonly ids: number[]; readonly labels: number[]; readonly classLabel?: number }
  | { readonly kind: 'split'; readonly prompt: number[]; readonly completion: number[] }
  | { readonly kind: 'labelled'; readonly text: number[]; readonly separator: number[]; readonly completion: number[]; readonly classLabel: number };

function eosId(tokenizer: Tokenizer): number | null {
  return tokenizer.eosToken?.id ?? null;
}

/** The id to pad batches with: the tokenizer's pad token, else its EOS (as TRL does), else 0 (padding is masked). */
export function defaultPadId(tokenizer: Tokenizer): number {
  return tokenizer.padToken?.id ?? eosId(tokenizer) ?? 0;
}

/** The label words as they follow the separator: after one space, unless the separator ends in whitespace. */
export function labelCompletionText(words: string, separator: string): string {
  return /\s$/.test(separator) ? words : ` ${words}`;
}

/** Token ids a generate-mode classifier must produce for `words` (its completion, EOS included). */
export function labelCompletionIds(tokenizer: Tokenizer, words: string, separator = DEFAULT_PROMPT_SEPARATOR): number[] {
  return withEos(tokenizer.encode(labelCompletionText(words, separator), { addSpecialTokens: false }), tokenizer);
}

/**
 * The one token that each class's words begin with after `separator`, for a label-words head: class k is predicted
 * as `tokenIds[k]` at the prompt's last token.
 * @throws RoadsterError E_USAGE when a class's words are more than one token, or two classes share theirs
 */
export function labelWordIds(tokenizer: Tokenizer, names: readonly string[], separator = DEFAULT_PROMPT_SEPARATOR): number[] {
  const ids = names.map((words) => {
    const tokens = tokenizer.encode(labelCompletionText(words, separator), { addSpecialTokens: false });
    if (tokens.length !== 1) {
      throw new RoadsterError(
        'E_USAGE',
        `label words need one token per class: ${JSON.stringify(labelCompletionText(words, separator))} is ${tokens.length} tokens (${tokens.join(', ')}); choose a word the tokenizer keeps whole`,
      );
    }
    return tokens[0];
  });
  ids.forEach((id, k) => {
    const first = ids.indexOf(id);
    if (first !== k) throw new RoadsterError('E_USAGE', `label words: classes ${JSON.stringify(names[first])} and ${JSON.stringify(names[k])} are the same token (${id})`);
  });
  return ids;
}

function withEos(ids: number[], tokenizer: Tokenizer): number[] {
  const eos = eosId(tokenizer);
  return eos !== null && ids.at(-1) !== eos ? [...ids, eos] : ids;
}

function isPrefix(prefix: readonly number[], of: readonly number[]): boolean {
  return prefix.length <= of.length && prefix.every((id, i) => of[i] === id);
}

function render(tokenizer: Tokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  try {
    return tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
  } catch (error) {
    if (error instanceof RoadsterError && error.code === 'E_USAGE') throw new LineError(error.message);
    throw error;
  }
}

function notPrefixStable(what: string, i: number, text: string, fullText: string): LineError {
  const cause = fullText.startsWith(text)
    ? 'the text is a prefix, but the tokenizer merges characters across the boundary into different tokens'
    : 'the template renders earlier turns differently once the conversation goes on; Qwen3, for example, adds ' +
      'an empty <think> block to the last assistant turn only';
  return new LineError(`the chat template is not prefix-stable, so the assistant tokens of messages[${i}] cannot be ` +
    `located: ${what} is not a token prefix of the whole conversation: ${cause}. Split the conversation into one ` +
    'example per assistant turn, each ending with that turn, or use a prefix-stable template.');
}

/** Token ids of a conversation and labels on its assistant turns. */
function encodeMessages(tokenizer: Tokenizer, messages: readonly ChatMessage[]): Encoded {
  const fullText = render(tokenizer, messages, false);
  const ids = tokenizer.encode(fullText, { addSpecialTokens: false });
  const labels = new Array<number>(ids.length).fill(IGNORE_INDEX);
  messages.forEach((message, i) => {
    if (message.role !== 'assistant') return;
    const beforeText = render(tokenizer, messages.slice(0, i), true);
    const before = tokenizer.encode(beforeText, { addSpecialTokens: false });
    if (!isPrefix(before, ids)) throw notPrefixStable(`messages[:${i}] with the generation prompt`, i, beforeText, fullText);
    const uptoText = render(tokenizer, messages.slice(0, i + 1), false);
    const upto = tokenizer.encode(uptoText, { addSpecialTokens: false });
    if (!isPrefix(upto, ids) || upto.length < before.length) throw notPrefixStable(`messages[:${i + 1}]`, i, uptoText, fullText);
    for (let t = before.length; t < upto.length; t++) labels[t] = ids[t];
  });
  return { kind: 'whole', ids, labels };
}

function encodeExample(example: Example, tokenizer: Tokenizer, options: TokenizeOptions): Encoded {
  switch (example.format) {
    case 'text': {
      const ids = withEos(tokenizer.encode(example.text), tokenizer);
      return { kind: 'whole', ids, labels: [...ids] };
    }
    case 'prompt-completion':
      return {
        kind: 'split',
        prompt: tokenizer.encode(example.prompt),
        completion: withEos(tokenizer.encode(example.completion, { addSpecialTokens: false }), tokenizer),
      };
    case 'messages':
      return encodeMessages(tokenizer, example.messages);
    case 'classification': {
      if (options.classes === undefined) throw new RoadsterError('E_USAGE', 'tokenizeExample: classification records need options.classes.');
      const classLabel = options.classes.indexOf(example.label);
      const mode = options.labelMode ?? 'generate';
      switch (mode) {
        case 'classify': {
          const ids = tokenizer.encode(example.text);
          const suffix = options.classifySuffix ?? '';
          if (suffix === '') return { kind: 'whole', ids, labels: new Array<number>(ids.length).fill(IGNORE_INDEX), classLabel };
          return { kind: 'labelled', text: ids, separator: tokenizer.encode(suffix, { addSpecialTokens: false }), completion: [], classLabel };
        }
        case 'generate': {
          const separator = options.promptSeparator ?? DEFAULT_PROMPT_SEPARATOR;
          return {
            kind: 'labelled',
            text: tokenizer.encode(example.text),
            separator: tokenizer.encode(separator, { addSpecialTokens: false }),
            completion: labelCompletionIds(tokenizer, options.classes.names[classLabel], separator),
            classLabel,
          };
        }
      }
    }
  }
}

/** Ids and labels of a prompt (no loss) followed by a completion (loss), cut to `maxLength`. */
function join(prompt: readonly number[], completion: readonly number[], maxLength: number): { ids: number[]; labels: number[] } {
  const ids = [...prompt, ...completion].slice(0, maxLength);
  return { ids, labels: ids.map((id, t) => (t < prompt.length ? IGNORE_INDEX : id)) };
}

/**
 * Keeps the first `maxLength` tokens, except: a prompt loses tokens from the left first (after a leading BOS),
 * and a classification text loses tokens from the right first (its separator stays), so the completion survives.
 */
function truncate(encoded: Encoded, maxLength: number, bos: number | null): { ids: number[]; labels: number[]; dropped: number } {
  switch (encoded.kind) {
    case 'whole': {
      const dropped = Math.max(0, encoded.ids.length - maxLength);
      return { ids: encoded.ids.slice(0, maxLength), labels: encoded.labels.slice(0, maxLength), dropped };
    }
    case 'split': {
      const { prompt, completion } = encoded;
      const excess = prompt.length + completion.length - maxLength;
      if (excess <= 0) return { ...join(prompt, completion, maxLength), dropped: 0 };
      const head = bos !== null && prompt[0] === bos ? 1 : 0;
      const cut = Math.min(excess, prompt.length - head);
      return { ...join([...prompt.slice(0, head), ...prompt.slice(head + cut)], completion, maxLength), dropped: excess };
    }
    case 'labelled': {
      const { text, separator, completion } = encoded;
      const excess = text.length + separator.length + completion.length - maxLength;
      const kept = excess <= 0 ? text : text.slice(0, Math.max(0, text.length - excess));
      return { ...join([...kept, ...separator], completion, maxLength), dropped: Math.max(0, excess) };
    }
  }
}

/**
 * Characters per token that no tokenizer's tokens exceed in practice: a field longer than maxLength times this
 * holds more tokens than truncation keeps, so it is cut to that length before tokenizing (the tokens kept are
 * the same, and a huge record costs no more than a long one).
 */
export const MAX_CHARS_PER_TOKEN = 64;

/** `text` cut to its first (or, `fromEnd`, last) `n` UTF-16 units, not splitting a surrogate pair. */
function clip(text: string, n: number, fromEnd = false): string {
  if (text.length <= n) return text;
  if (fromEnd) {
    const start = text.length - n;
    const low = text.charCodeAt(start);
    return text.slice(low >= 0xdc00 && low <= 0xdfff ? start + 1 : start);
  }
  const high = text.charCodeAt(n - 1);
  return text.slice(0, high >= 0xd800 && high <= 0xdbff ? n - 1 : n);
}

/**
 * An example whose text fields are cut to `maxLength * MAX_CHARS_PER_TOKEN` characters on the side truncation
 * drops (a prompt keeps its end, everything else its start); `cut` says whether anything was cut.
 */
export function clipExample(example: Example, maxLength: number): { example: Example; cut: boolean } {
  const n = maxLength * MAX_CHARS_PER_TOKEN;
  let cut = false;
  const keep = (text: string, fromEnd = false): string => {
    const kept = clip(text, n, fromEnd);
    if (kept.length !== text.length) cut = true;
    return kept;
  };
  let clipped: Example;
  switch (example.format) {
    case 'text':
      clipped = { ...example, text: keep(example.text) };
      break;
    case 'prompt-completion':
      clipped = { ...example, prompt: keep(example.prompt, true), completion: keep(example.completion) };
      break;
    case 'messages':
      clipped = { ...example, messages: example.messages.map((m) => (typeof m.content === 'string' ? { ...m, content: keep(m.content) } : m)) };
      break;
    case 'classification':
      clipped = { ...example, text: keep(example.text) };
      break;
  }
  return cut ? { example: clipped, cut } : { example, cut };
}

/** Positions whose label is a loss term once the model shifts labels by one (position 0 never is). */
export function countLossTerms(labels: readonly number[]): number {
  let n = 0;
  for (let t = 1; t < labels.length; t++) if (labels[t] !== IGNORE_INDEX) n++;
  return n;
}

/**
 * Tokenizes one example and truncates it to `options.maxLength`.
 * @returns the example, or null when it has no token (classify) or no loss term left (other modes)
 * @throws LineError when the record cannot be tokenized (a label outside the classes, a template that rejects
 *   the messages or is not prefix-stable)
 */
export function tokenizeExample(example: Example, tokenizer: Tokenizer, options: TokenizeOptions): TokenizeResult {
  if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
    throw new RoadsterError('E_USAGE', `maxLength must be a positive integer, found ${options.maxLength}.`);
  }
  const encoded = encodeExample(example, tokenizer, options);
  const { ids, labels, dropped } = truncate(encoded, options.maxLength, tokenizer.bosToken?.id ?? null);
  const classify = example.format === 'classification' && (options.labelMode ?? 'generate') === 'classify';
  const usable = classify ? ids.length > 0 : countLossTerms(labels) > 0;
  if (!usable) return { example: null, droppedTokens: dropped };
  const classLabel = encoded.kind === 'split' ? undefined : encoded.classLabel;
  const out: TokenizedExample = classLabel === undefined ? { inputIds: ids, labels } : { inputIds: ids, labels, classLabel };
  return { example: out, droppedTokens: dropped };
}
