// A Hugging Face tokenizer loaded from a model folder: `tokenizer.json` (encoding, run by
// `@huggingface/tokenizers`), `tokenizer_config.json` (special tokens, chat template) and, as transformers reads
// them, `chat_template.jinja` (overrides the config's template) and `additional_chat_templates/<name>.jinja`.
// `apply_chat_template(tokenize=True)` encodes without adding special tokens, since the template writes them.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { RoadsterError } from '../../errors.ts';
import { ChatTemplates, type ChatMessage, type ChatTemplateOptions } from './chat-template.ts';
import { parseTokenizerConfig, SPECIAL_TOKEN_ROLES, type SpecialTokenRole, type TokenizerConfigInfo } from './tokenizer-config.ts';

/** A special token: its text and its id (null when the vocabulary lacks it). */
export interface SpecialToken {
  readonly content: string;
  readonly id: number | null;
}

/** Options of `Tokenizer.encode`. */
export interface EncodeOptions {
  /** Add the tokens the post-processor adds (e.g. BOS for Llama). Default true, as transformers. */
  readonly addSpecialTokens?: boolean;
}

/** Options of `Tokenizer.decode`. */
export interface DecodeOptions {
  /** Drop special tokens from the text. Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** Where the files of a tokenizer came from; the texts of extra chat templates. */
export interface TokenizerSources {
  /** Description used in error messages, e.g. the folder. */
  readonly origin?: string;
  /** Templates that override or extend those of tokenizer_config.json, by name ("default" for the main one). */
  readonly chatTemplates?: ReadonlyMap<string, string>;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RoadsterError('E_TOKENIZER', `Cannot read ${path}: ${(error as Error).message}.`, { cause: error });
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new RoadsterError('E_TOKENIZER', `${path}: not valid JSON (${(error as Error).message}). ` +
      'The file may be truncated: download it again.', { cause: error });
  }
}

/** `additional_chat_templates/<name>.jinja`, as transformers reads them. */
async function readAdditionalTemplates(dir: string): Promise<Map<string, string>> {
  const folder = join(dir, 'additional_chat_templates');
  const templates = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return templates;
  }
  for (const file of names.filter((n) => n.endsWith('.jinja')).sort()) {
    templates.set(file.slice(0, -'.jinja'.length), await readFile(join(folder, file), 'utf8'));
  }
  return templates;
}

/** Encodes and decodes text and renders chat templates for one model. */
export class Tokenizer {
  readonly #tokenizer: HfTokenizer;
  readonly #config: TokenizerConfigInfo;
  readonly #templates: ChatTemplates;
  /** Number of ids: largest id in the vocabulary (added tokens included) plus one. */
  readonly vocabSize: number;
  readonly bosToken: SpecialToken | null;
  readonly eosToken: SpecialToken | null;
  readonly padToken: SpecialToken | null;
  readonly unkToken: SpecialToken | null;

  private constructor(tokenizer: HfTokenizer, config: TokenizerConfigInfo, templates: ChatTemplates) {
    this.#tokenizer = tokenizer;
    this.#config = config;
    this.#templates = templates;
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosToken = this.#special('bos');
    this.eosToken = this.#special('eos');
    this.padToken = this.#special('pad');
    this.unkToken = this.#special('unk');
  }

  #special(role: SpecialTokenRole): SpecialToken | null {
    const content = this.#config.specialTokens[role];
    if (content === undefined) return null;
    return Object.freeze({ content, id: this.tokenToId(content) });
  }

  /**
   * Builds a tokenizer from parsed files.
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json (`{}` when the model has none)
   * @throws RoadsterError E_TOKENIZER when a file is malformed or uses an unsupported component
   */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown, sources: TokenizerSources = {}): Tokenizer {
    const origin = sources.origin ?? 'the tokenizer files';
    const config = parseTokenizerConfig(tokenizerConfig, `tokenizer_config.json of ${origin}`);
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || typeof (tokenizerJson as { model?: unknown }).model !== 'object') {
      throw new RoadsterError('E_TOKENIZER', `tokenizer.json of ${origin} has no "model" object: not a Hugging Face ` +
        'fast-tokenizer file.');
    }
    const json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...tokenizerJson };
    let tokenizer: HfTokenizer;
    try {
      tokenizer = new HfTokenizer(json, config.libraryConfig);
    } catch (error) {
      throw new RoadsterError('E_TOKENIZER', `@huggingface/tokenizers cannot load tokenizer.json of ${origin}: ` +
        `${(error as Error).message}.`, { cause: error });
    }
    const templates = new Map(config.chatTemplates);
    for (const [name, text] of sources.chatTemplates ?? []) templates.set(name, text);
    return new Tokenizer(tokenizer, config, new ChatTemplates(templates, origin));
  }

  /**
   * Loads tokenizer.json, tokenizer_config.json and chat template files from a model folder.
   * @throws RoadsterError E_TOKENIZER when tokenizer.json is missing or a file is malformed
   */
  static async fromFolder(dir: string): Promise<Tokenizer> {
    const tokenizerPath = join(dir, 'tokenizer.json');
    const tokenizerText = await readOptional(tokenizerPath);
    if (tokenizerText === null) {
      throw new RoadsterError('E_TOKENIZER', `No tokenizer.json in ${dir}. If this folder is a fine-tuned or merged ` +
        'model, copy tokenizer.json (with tokenizer_config.json and special_tokens_map.json) from its base model ' +
        'folder; roadster merge copies them itself. roadster reads only the fast-tokenizer file: for a model that ships ' +
        'only tokenizer.model or vocab.json + merges.txt, convert it once with Python: ' +
        'AutoTokenizer.from_pretrained(path).save_pretrained(path).');
    }
    const configPath = join(dir, 'tokenizer_config.json');
    const configText = await readOptional(configPath);
    const templates = await readAdditionalTemplates(dir);
    const mainTemplate = await readOptional(join(dir, 'chat_template.jinja'));
    if (mainTemplate !== null) templates.set('default', mainTemplate);
    return Tokenizer.fromJson(
      parseJson(tokenizerText, tokenizerPath),
      configText === null ? {} : parseJson(configText, configPath),
      { origin: dir, chatTemplates: templates },
    );
  }

  /** Token ids of `text`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new RoadsterError('E_USAGE', `encode expects a string, found ${typeof text}.`);
    return this.#tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Text of `ids`. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RoadsterError('E_USAGE', `decode: token id ${id} is not an integer in [0, ${this.vocabSize}).`);
      }
    }
    if (ids.length === 0) return '';
    return this.#tokenizer.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.#config.cleanUpTokenizationSpaces,
    });
  }

  /** Id of a token string, or null when it is not in the vocabulary. */
  tokenToId(token: string): number | null {
    return this.#tokenizer.token_to_id(token) ?? null;
  }

  /** Token string of an id, or null when out of range. */
  idToToken(id: number): string | null {
    return this.#tokenizer.id_to_token(id) ?? null;
  }

  /** Names of the chat templates (empty for a base model without one). */
  get chatTemplateNames(): readonly string[] {
    return this.#templates.names;
  }

  /** The text of a chat template, as `applyChatTemplate` would pick it. */
  chatTemplate(name?: string): string {
    return this.#templates.source(this.#templates.select(name, false));
  }

  /**
   * Renders a conversation with the model's chat template; with `tokenize: true`, returns its token ids
   * (encoded without adding special tokens, as transformers does).
   * @throws RoadsterError E_TOKENIZER without a chat template, E_USAGE when the template rejects the messages
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { readonly tokenize: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions & { readonly tokenize?: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { readonly tokenize?: boolean } = {}): string | number[] {
    const specialTokens: Record<string, unknown> = {};
    for (const role of SPECIAL_TOKEN_ROLES) {
      const content = this.#config.specialTokens[role];
      if (content !== undefined) specialTokens[`${role}_token`] = content;
    }
    // transformers' special_tokens_map leaves out empty entries
    if (this.#config.additionalSpecialTokens.length > 0) {
      specialTokens.additional_special_tokens = this.#config.additionalSpecialTokens;
    }
    const text = this.#templates.render(messages, options, specialTokens);
    return options.tokenize === true ? this.encode(text, { addSpecialTokens: false }) : text;
  }
}
