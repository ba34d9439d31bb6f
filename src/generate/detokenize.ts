// Streaming detokenization: text out token by token without re-decoding the whole sequence and without ever
// splitting a multi-byte character. The prefix/read offsets technique of HF text-generation-inference
// (server/text_generation_server/models/model.py, decode_token) and vLLM's detokenizer: decode a short window
// that starts a few tokens before the text already emitted, so that decoders whose output depends on context
// (a leading space dropped at the start, byte-level tokens that join into one character) see the same
// neighbours as in the full decode; emit what the window adds past the text already emitted, unless it ends in
// U+FFFD, which means a character whose bytes have not all arrived yet.
//
// Limits (shared with TGI and vLLM): text normalisation that reaches back across the window's edge (e.g.
// clean_up_tokenization_spaces turning " ." into "." after the space was emitted) cannot be taken back.

/** Tokens before the first new one that the window starts with, as TGI and vLLM (prefix_offset = read - 5). */
const PROMPT_CONTEXT = 5;

/**
 * Tokens that may be held back waiting for a character to complete. A UTF-8 character has at most 4 bytes and
 * each byte-level token carries at least one, so a longer run of U+FFFD is really in the text (invalid bytes
 * from the model): it is released instead of growing the window for ever.
 */
const MAX_HELD = 8;

/** Turns token ids into text chunks, one token at a time. */
export class IncrementalDetokenizer {
  readonly #decode: (ids: readonly number[]) => string;
  /** The ids from prefix offset on (earlier ones are never decoded again). */
  #window: number[];
  /** Position in #window of the first id whose text has not been emitted. */
  #read: number;
  /** decode(#window[0, #read)): the context whose text was emitted already. */
  #prefixText: string;

  /**
   * @param decode ids to text; the caller's closure sets skipSpecialTokens (e.g. `(ids) => tokenizer.decode(ids,
   *   { skipSpecialTokens: true })`)
   * @param promptIds the prompt, whose last tokens give the first generated ones their context (not emitted)
   */
  constructor(decode: (ids: readonly number[]) => string, promptIds: readonly number[] = []) {
    this.#decode = decode;
    this.#window = promptIds.slice(Math.max(0, promptIds.length - PROMPT_CONTEXT));
    this.#read = this.#window.length;
    this.#prefixText = this.#window.length > 0 ? decode(this.#window) : '';
  }

  /**
   * Adds one token; returns the newly completed text (may be ''), never ending inside an incomplete UTF-8
   * character. Decodes only a short window, so the cost does not grow with the sequence.
   */
  push(id: number): string {
    this.#window.push(id);
    const text = this.#decode(this.#window);
    const held = this.#window.length - this.#read;
    if (text.length > this.#prefixText.length && (!text.endsWith('\uFFFD') || held >= MAX_HELD)) {
      return this.#advance(text);
    }
    if (held >= MAX_HELD) this.#advance(text); // nothing to show (e.g. skipped special tokens): move on
    return '';
  }

  /** The held-back remainder at the end (may contain U+FFFD when the sequence ends inside a character). */
  flush(): string {
    if (this.#read === this.#window.length) return '';
    return this.#advance(this.#decode(this.#window));
  }

  /** Emits what `text` (the decode of the whole window) adds to the prefix, and slides the window. */
  #advance(text: string): string {
    const emitted = text.length > this.#prefixText.length ? text.slice(this.#prefixText.length) : '';
    // The new window starts at the old read offset: its decode is the next prefix text.
    this.#window = this.#window.slice(this.#read);
    this.#read = this.#window.length;
    this.#prefixText = this.#decode(this.#window);
    return emitted;
  }
}
