// When a request stops, and what text it may stream before it does. OpenAI's finish reasons: "stop" (an EOS
// id, a stop id or a stop string), "length" (max tokens), checked in vLLM's order (stop ids before the length,
// vllm/v1/core/sched/utils.py check_stop). Stop strings follow OpenAI: the text ends right before the stop
// string, which is not included. While streaming, a suffix that could still grow into a stop string is held
// back, and released as soon as it cannot (or by `flush` when generation ends another way).
//
// Of several stop strings, the one that completes first in the text wins (ties: the one that starts first),
// which is what feeding the text one character at a time would give: the result does not depend on how the
// text was cut into chunks.

import { RoadsterError } from '../errors.ts';

/** Why a request finished (OpenAI's `finish_reason`). */
export type FinishReason = 'stop' | 'length';

/** At most this many stop strings per request (OpenAI allows 4; vLLM sets no bound). */
export const MAX_STOP_STRINGS = 16;
/** Longest stop string, in UTF-16 code units: the matcher holds back up to this much text. */
export const MAX_STOP_LENGTH = 256;

/** A lone surrogate: a string that no decoded text can contain. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What one `push` may stream, and whether a stop string ended the text. */
export interface StopMatch {
  /** Text safe to emit now; when stopped, everything up to the stop string (excluded). */
  readonly emit: string;
  readonly stopped: boolean;
  /** The stop string that matched, when stopped. */
  readonly stop?: string;
}

/** Finds stop strings in streamed text. */
export class StopStringMatcher {
  readonly #stops: readonly string[];
  readonly #longest: number;
  /** Text received but not yet emitted: a suffix that may start a stop string. */
  #held = '';
  #stopped: string | null = null;

  /**
   * @param stops at most MAX_STOP_STRINGS non-empty, well-formed strings of at most MAX_STOP_LENGTH code units
   * @throws RoadsterError E_USAGE naming the bad stop string
   */
  constructor(stops: readonly string[]) {
    if (!Array.isArray(stops)) throw new RoadsterError('E_USAGE', `stop must be a list of strings, found ${typeof stops}.`);
    if (stops.length > MAX_STOP_STRINGS) {
      throw new RoadsterError('E_USAGE', `stop: at most ${MAX_STOP_STRINGS} stop strings, found ${stops.length}.`);
    }
    stops.forEach((stop: unknown, i) => {
      if (typeof stop !== 'string' || stop.length === 0 || stop.length > MAX_STOP_LENGTH) {
        throw new RoadsterError('E_USAGE', `stop[${i}] must be a non-empty string of at most ${MAX_STOP_LENGTH} ` +
          `characters, found ${JSON.stringify(stop)}.`);
      }
      if (LONE_SURROGATE.test(stop)) {
        throw new RoadsterError('E_USAGE', `stop[${i}] ${JSON.stringify(stop)} holds half of a surrogate pair: ` +
          'it can never match decoded text.');
      }
    });
    this.#stops = [...new Set(stops)];
    this.#longest = Math.max(0, ...this.#stops.map((s) => s.length));
  }

  /** True once a stop string has matched; later pushes emit nothing. */
  get stopped(): boolean {
    return this.#stopped !== null;
  }

  /** Feeds new text; returns what is safe to emit now and whether a stop string completed. */
  push(text: string): StopMatch {
    if (this.#stopped !== null) return { emit: '', stopped: true, stop: this.#stopped };
    const buffer = this.#held + text;
    // The held text starts no stop string that ends in it, and the text emitted before it can start none
    // (it would have been held), so every match lies in the buffer.
    let at = -1;
    let end = Infinity;
    let matched = '';
    for (const stop of this.#stops) {
      const i = buffer.indexOf(stop);
      if (i >= 0 && (i + stop.length < end || (i + stop.length === end && i < at))) {
        at = i;
        end = i + stop.length;
        matched = stop;
      }
    }
    if (at >= 0) {
      this.#held = '';
      this.#stopped = matched;
      return { emit: buffer.slice(0, at), stopped: true, stop: matched };
    }
    const hold = this.#partialMatch(buffer);
    this.#held = buffer.slice(buffer.length - hold);
    return { emit: buffer.slice(0, buffer.length - hold), stopped: false };
  }

  /** The held-back text, when generation ends without a stop string (empty after a stop). */
  flush(): string {
    const held = this.#held;
    this.#held = '';
    return held;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  #partialMatch(text: string): number {
    for (let k = Math.min(this.#longest - 1, text.length); k > 0; k--) {
      const suffix = text.slice(text.length - k);
      if (this.#stops.some((stop) => stop.startsWith(suffix))) return k;
    }
    return 0;
  }
}

/** The token-level stop conditions of one request. */
export interface TokenStops {
  /** Most tokens to generate (>= 1). */
  readonly maxTokens: number;
  /** Ids that end the request (the generation config's EOS ids and the request's stop ids). */
  readonly stopTokenIds: ReadonlySet<number>;
}

/**
 * Validated token-level stop conditions.
 * @throws RoadsterError E_USAGE when maxTokens is not a positive integer or a stop id not a non-negative one
 */
export function tokenStops(maxTokens: number, stopTokenIds: Iterable<number>): TokenStops {
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) {
    throw new RoadsterError('E_USAGE', `maxTokens must be an integer >= 1, found ${String(maxTokens)}.`);
  }
  const ids = new Set(stopTokenIds);
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new RoadsterError('E_USAGE', `stop token ids must be integers >= 0, found ${String(id)}.`);
    }
  }
  return { maxTokens, stopTokenIds: ids };
}

/**
 * Whether the request finishes with the token it just generated, its `generated`-th (counting it): "stop" for
 * a stop id (which wins over the length, as in vLLM), "length" at maxTokens, else null.
 */
export function finishAfterToken(token: number, generated: number, stops: TokenStops): FinishReason | null {
  if (stops.stopTokenIds.has(token)) return 'stop';
  if (generated >= stops.maxTokens) return 'length';
  return null;
}
