// Reads the parts of `tokenizer_config.json` that transformers' `PreTrainedTokenizerBase` uses beyond
// tokenizer.json: the special tokens (a string, null, or the serialized AddedToken object `{"content": ...}`),
// `clean_up_tokenization_spaces` (transformers >= 4.45 defaults it to false) and `chat_template` (a string, or
// a list of `{name, template}`).

import { RoadsterError } from '../../errors.ts';

/** The special-token roles of `special_tokens_map` that chat templates see as `<role>_token`. */
export const SPECIAL_TOKEN_ROLES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
/** One special-token role. */
export type SpecialTokenRole = (typeof SPECIAL_TOKEN_ROLES)[number];

/** What tokenizer_config.json says, validated. */
export interface TokenizerConfigInfo {
  /** Content string of each special token present (e.g. `{bos: "<s>"}`). */
  readonly specialTokens: Readonly<Partial<Record<SpecialTokenRole, string>>>;
  readonly additionalSpecialTokens: readonly string[];
  readonly cleanUpTokenizationSpaces: boolean;
  /** Chat templates by name; a single-string `chat_template` is named "default". */
  readonly chatTemplates: ReadonlyMap<string, string>;
  /** The config object to hand to `@huggingface/tokenizers` (special tokens flattened to strings). */
  readonly libraryConfig: Record<string, unknown>;
}

function tokenError(file: string, field: string, expected: string, found: unknown): RoadsterError {
  return new RoadsterError(
    'E_TOKENIZER',
    `${file}: field "${field}" must be ${expected}, found ${JSON.stringify(found)?.slice(0, 80)}.`,
  );
}

/** A special token as written: `"<s>"`, `null`, or `{"__type": "AddedToken", "content": "<s>", ...}`. */
function tokenContent(value: unknown, file: string, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && !Array.isArray(value) && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  throw tokenError(file, field, 'a string, null or an object with a "content" string', value);
}

function parseChatTemplates(value: unknown, file: string): Map<string, string> {
  const templates = new Map<string, string>();
  if (value === undefined || value === null) return templates;
  if (typeof value === 'string') return templates.set('default', value);
  if (!Array.isArray(value)) throw tokenError(file, 'chat_template', 'a string or a list of {name, template}', value);
  for (const entry of value) {
    const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
    if (typeof name !== 'string' || typeof template !== 'string') {
      throw tokenError(file, 'chat_template', 'a list of {"name": string, "template": string}', entry);
    }
    templates.set(name, template);
  }
  return templates;
}

/**
 * Validates a parsed tokenizer_config.json.
 * @param file path for error messages
 * @throws RoadsterError E_TOKENIZER naming the file and the field
 */
export function parseTokenizerConfig(json: unknown, file: string): TokenizerConfigInfo {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RoadsterError('E_TOKENIZER', `${file}: expected a JSON object, found ${JSON.stringify(json)?.slice(0, 80)}.`);
  }
  const raw = json as Record<string, unknown>;
  const specialTokens: Partial<Record<SpecialTokenRole, string>> = {};
  for (const role of SPECIAL_TOKEN_ROLES) {
    const content = tokenContent(raw[`${role}_token`], file, `${role}_token`);
    if (content !== null) specialTokens[role] = content;
  }
  const additionalRaw = raw.additional_special_tokens ?? [];
  if (!Array.isArray(additionalRaw)) {
    throw tokenError(file, 'additional_special_tokens', 'a list', additionalRaw);
  }
  const additionalSpecialTokens = additionalRaw.map((t, i) => {
    const content = tokenContent(t, file, `additional_special_tokens[${i}]`);
    if (content === null) throw tokenError(file, `additional_special_tokens[${i}]`, 'a token', t);
    return content;
  });
  const cleanUp = raw.clean_up_tokenization_spaces ?? false;
  if (typeof cleanUp !== 'boolean') throw tokenError(file, 'clean_up_tokenization_spaces', 'true or false', cleanUp);

  const libraryConfig: Record<string, unknown> = { ...raw, additional_special_tokens: additionalSpecialTokens, clean_up_tokenization_spaces: cleanUp };
  for (const role of SPECIAL_TOKEN_ROLES) libraryConfig[`${role}_token`] = specialTokens[role] ?? null;

  return {
    specialTokens: Object.freeze(specialTokens),
    additionalSpecialTokens: Object.freeze(additionalSpecialTokens),
    cleanUpTokenizationSpaces: cleanUp,
    chatTemplates: parseChatTemplates(raw.chat_template, file),
    libraryConfig,
  };
}
