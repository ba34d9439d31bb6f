// Chat templates: selection and rendering as transformers' `PreTrainedTokenizerBase.apply_chat_template` and
// `get_chat_template` do. A named template wins; with tools, "tool_use" is preferred; otherwise "default".
// The template sees `messages`, `tools`, `documents`, `add_generation_prompt`, every special token by role
// (`bos_token`, `eos_token`, ...) and caller variables such as `enable_thinking`, and is rendered by
// `@huggingface/jinja` (trim_blocks and lstrip_blocks on, as transformers sets them).

import { Template } from '@huggingface/jinja';
import { assert, RoadsterError } from '../../errors.ts';

/** One chat message. Templates may read more fields (tool_calls, reasoning_content, ...). */
export interface ChatMessage {
  readonly role: string;
  readonly content: string | readonly unknown[] | null;
  readonly [field: string]: unknown;
}

/** Options of `applyChatTemplate`. */
export interface ChatTemplateOptions {
  /** Append the header of an assistant turn, so the model writes the reply. Default false, as transformers. */
  readonly addGenerationPrompt?: boolean;
  /** Tool (function) JSON schemas, passed to the template as `tools`. */
  readonly tools?: readonly unknown[];
  /** Documents for retrieval-augmented templates, passed as `documents`. */
  readonly documents?: readonly unknown[];
  /** Template name, when tokenizer_config.json has several. */
  readonly templateName?: string;
  /** Extra template variables (e.g. `{enable_thinking: false}`); they override the special tokens. */
  readonly variables?: Readonly<Record<string, unknown>>;
}

/** The chat templates of one tokenizer, parsed lazily and cached. */
export class ChatTemplates {
  readonly #sources: ReadonlyMap<string, string>;
  readonly #origin: string;
  readonly #compiled = new Map<string, Template>();

  /**
   * @param templates template text by name
   * @param origin where the templates were looked for, for error messages
   */
  constructor(templates: ReadonlyMap<string, string>, origin: string) {
    this.#sources = templates;
    this.#origin = origin;
  }

  /** Names of the available templates. */
  get names(): readonly string[] {
    return [...this.#sources.keys()];
  }

  /** The name of the template transformers would pick, following `get_chat_template`. */
  select(name: string | undefined, withTools: boolean): string {
    if (name !== undefined) {
      if (this.#sources.has(name)) return name;
      throw new RoadsterError('E_TOKENIZER', `No chat template named "${name}" in ${this.#origin}; ` +
        `available: ${this.names.length === 0 ? 'none' : this.names.map((n) => `"${n}"`).join(', ')}.`);
    }
    if (withTools && this.#sources.has('tool_use')) return 'tool_use';
    if (this.#sources.has('default')) return 'default';
    if (this.#sources.size === 0) {
      throw new RoadsterError('E_TOKENIZER', `This tokenizer has no chat template: none in ${this.#origin}. ` +
        'Use a chat (instruct) model, or add a "chat_template" string to tokenizer_config.json or a ' +
        'chat_template.jinja file to the model folder.');
    }
    throw new RoadsterError('E_TOKENIZER', `${this.#origin} has several chat templates and none named "default": ` +
      `pass templateName, one of ${this.names.map((n) => `"${n}"`).join(', ')}.`);
  }

  /** The text of a template, as written. */
  source(name: string): string {
    const text = this.#sources.get(this.select(name, false));
    assert(text !== undefined, `chat template "${name}" selected but absent`);
    return text;
  }

  #compile(name: string): Template {
    let template = this.#compiled.get(name);
    if (template === undefined) {
      try {
        template = new Template(this.source(name));
      } catch (error) {
        throw new RoadsterError('E_TOKENIZER', `The chat template "${name}" of ${this.#origin} does not parse: ` +
          `${(error as Error).message}.`, { cause: error });
      }
      this.#compiled.set(name, template);
    }
    return template;
  }

  /**
   * Renders the conversation.
   * @param specialTokens template variables for the special tokens (`bos_token`, ...)
   */
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions, specialTokens: Readonly<Record<string, unknown>>): string {
    if (!Array.isArray(messages)) {
      throw new RoadsterError('E_USAGE', `applyChatTemplate expects an array of {role, content} messages, found ${typeof messages}.`);
    }
    const name = this.select(options.templateName, options.tools !== undefined);
    const template = this.#compile(name);
    try {
      return template.render({
        ...specialTokens,
        messages,
        tools: options.tools ?? null,
        documents: options.documents ?? null,
        add_generation_prompt: options.addGenerationPrompt ?? false,
        ...options.variables,
      });
    } catch (error) {
      throw new RoadsterError('E_USAGE', `The chat template "${name}" of ${this.#origin} failed on these messages: ` +
        `${(error as Error).message}. The template may reject the roles or their order, or use a Jinja feature ` +
        '@huggingface/jinja lacks.', { cause: error });
    }
  }
}
