// Public surface of the GGUF writer and reader (hand-written, no dependencies; see the headers of write.ts and
// read.ts for the format rules each follows).

export { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufTokenType, GgufValueType, LlamaFileType } from './constants.ts';
export { gguf, type GgufItem, type GgufItemType, type GgufMetadata, type GgufValue } from './values.ts';
export { ALIGNMENT_KEY, ggufAlignment, serializeGguf, writeGguf, type GgufTensorToWrite } from './write.ts';
export { looksLikeGguf, parseGguf, readGguf, type GgufFile, type GgufTensorInfo } from './read.ts';
export { llamaCppPreTokenizer, placeholderTokenizerMetadata, tokenizerMetadata, type ConfigTokenIds, type LlamaCppPreTokenizer } from './tokenizer-metadata.ts';
