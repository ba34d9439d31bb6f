// Public surface of the tokenizer: encoding, decoding, special tokens and chat templates.

export { Tokenizer } from './tokenizer.ts';
export type { SpecialToken, EncodeOptions, DecodeOptions, TokenizerSources } from './tokenizer.ts';
export type { ChatMessage, ChatTemplateOptions } from './chat-template.ts';
