// The public API of roadster: an explicit list of named exports, layer by layer (docs/design.md: layers import
// downward only). Examples and end-to-end tests import from here, not from internal files.

// graph: the traced IR, autodiff and ONNX lowering
export { GraphBuilder, Tensor, type TensorLike, concat, scatterAdd } from './graph/tracer.ts';
export { grad, gradName } from './graph/autodiff.ts';
export { printGraph } from './graph/printer.ts';
export { Op, type OpParams } from './graph/ops.ts';
export type { Graph, GraphOutput, Node, ValueInfo } from './graph/ir.ts';
export type { DType, HostArray } from './graph/dtype.ts';
export type { Dim, Shape } from './graph/dim.ts';
export { type LoweredModel, type SerializedModel, type SerializeOptions, lowerToOnnx, serializeModel } from './graph/onnx/index.ts';

// runtime: ONNX Runtime sessions and host tensors
export {
  type BenchCase,
  type BenchResult,
  type CompileInfo,
  type CompileOptions,
  CompiledGraph,
  type HostTensor,
  type OptimizationLevel,
  Runtime,
  type RuntimeOptions,
  benchMatmul,
  bool,
  float32,
  float64,
  hostTensor,
  int64,
  shapeSize,
  toNumbers,
} from './runtime/index.ts';

// io: safetensors, configs, tokenizers, the Hugging Face Hub cache
export {
  type CheckpointReader,
  type SafetensorsDtype,
  type FloatDtype,
  INDEX_FILE_NAME,
  SINGLE_FILE_NAME,
  type SafetensorsReader,
  type TensorInfo,
  type TensorToWrite,
  type TensorsToWrite,
  type WrittenCheckpoint,
  decodeToFloat32,
  encodeFloat32,
  openCheckpoint,
  openSafetensors,
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
  writeShardedCheckpoint,
} from './io/safetensors/index.ts';
export {
  type GenerationConfig,
  type LoadedModelConfig,
  MODEL_TYPES,
  type ModelConfig,
  type ModelType,
  PRESETS,
  PRESET_NAMES,
  type Preset,
  type PresetName,
  loadModelConfig,
  parseGenerationConfig,
  parseModelConfig,
  presetConfig,
  ropeInvFreq,
} from './io/config/index.ts';
export { type ChatMessage, type ChatTemplateOptions, type DecodeOptions, type EncodeOptions, type SpecialToken, Tokenizer } from './io/tokenizer/index.ts';
export {
  DEFAULT_HUB_ENDPOINT,
  type DownloadProgress,
  type HubOptions,
  type ResolveOptions,
  type ResolvedModelFiles,
  defaultHubCacheDir,
  hasFile,
  hubOptionsFromEnv,
  resolveModelFiles,
} from './io/hub/index.ts';

// models: the Llama family, loading, the linear seam
export { AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, type FromPretrainedOptions, type SequenceClassificationOptions } from './models/auto.ts';
export { CausalLM, type ForwardResult, type GraphOptions, INPUT_NAMES } from './models/causal-lm.ts';
export type { HeadBatch, HeadTaskType, HeadTraceContext, HeadType, ModelHead, RowCorrect } from './models/heads/head.ts';
export { HEAD_KINDS, type Head, type HeadKind, type HeadOf } from './models/heads/kinds.ts';
export { LmHead } from './models/heads/lm-head.ts';
export { ClassificationHead } from './models/heads/classification-head.ts';
export { type LabelWords, LabelWordsHead, checkLabelWords, withLabelWords, withoutLabelWords } from './models/label-words.ts';
export { type LinearFn, type LinearSite, type ProjectionKind, plainLinear } from './models/linear.ts';
export { type TokenBatch, attentionBias, positionIds } from './models/attention-inputs.ts';
export {
  type ClassificationHeadOptions,
  type ClassifyBatch,
  argmaxRows,
  classifySequences,
  lastTokenPool,
  withClassificationHead,
} from './models/sequence-classification.ts';
export { type SequenceClassification, sequenceClassificationConfigJson, sequenceClassificationOf } from './models/classification-config.ts';
export type { Weight } from './models/load-weights.ts';
export { type RandomModelOptions, writeRandomModel } from './models/random-model.ts';

// generate: the engine (KV cache, continuous batching, per-row adapters, sampling) and the full-sequence reference
export { type EngineOptions, type EngineStats, GenerationEngine, modelEosIds } from './generate/engine.ts';
export type { FinishReason, GenerationHandle, GenerationRequest, GenerationResult, TokenEvent } from './generate/request.ts';
export { type AdapterSlot, AdapterStore, type LoadResult } from './generate/adapter-store.ts';
export { DEFAULT_SAMPLING, MAX_LOGPROBS, Sampler, type SamplingParams, type TokenChoice, type TokenLogprob, samplingParams } from './generate/sampling/index.ts';
export { IncrementalDetokenizer } from './generate/detokenize.ts';
export { MAX_STOP_STRINGS, StopStringMatcher } from './generate/stop.ts';
export { KV_NAMES, traceGenerationStep } from './models/generation-graph.ts';
export { type GreedyOptions, greedyGenerate } from './generate/greedy.ts';

// GGUF: files llama.cpp, Ollama and LM Studio read
export { GgmlType, GgufTokenType, GgufValueType, LlamaFileType, gguf, parseGguf, readGguf, serializeGguf, writeGguf } from './io/gguf/index.ts';
export type { GgufFile, GgufMetadata, GgufTensorInfo, GgufTensorToWrite, GgufValue } from './io/gguf/index.ts';
export { GGUF_DTYPES, exportGguf, ggufFromModel } from './models/gguf-export.ts';
export type { GgufDtype, GgufExportOptions, GgufExportSummary, GgufVocabulary } from './models/gguf-export.ts';

// the OpenAI-compatible server
export { createServer, type ModelCard, type RoadsterServer, type ServerOptions } from './server/index.ts';

// errors
export { type ErrorCode, RoadsterError } from './errors.ts';

// adapters: RoAd and LoRA behind PEFT's API and file format
export * from './adapters/index.ts';
export { inspectAdapter, type AdapterReport } from './adapters/inspect.ts';
export { type ComposeInput, type ComposeOptions, type ComposeReport, type Composed, composeAdapters, composedSites } from './adapters/compose.ts';
export { type LoraCombination, LORA_COMBINATIONS } from './adapters/lora/combine.ts';
export { type PairSelection, formatPairSelection, parsePairSelection, selectedPairs } from './adapters/road/pairs.ts';
export { type RoadPairsReport, restrictRoadPairs, roadPairsReport, withoutPairs } from './adapters/subspace.ts';
export { readAdapterFolderUnchecked } from './adapters/peft-files.ts';

// interpret: interchange interventions, ablations and IIA on module outputs
export * from './interpret/index.ts';

// training
export { AdamW, type AdamWOptions, clipCoefficient, globalNorm } from './train/optimizer.ts';
export { type Schedule, type ScheduleKind, lrFactor } from './train/schedule.ts';
export { DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainHooks, type TrainReport, Trainer } from './train/trainer.ts';
export type { BatchSource, TrainBatch } from './train/batch.ts';
export { labelWordIds, loadDataset, TokenizedDataset } from './train/data/index.ts';
export { type ClassifyResult, classifyByLikelihood } from './train/classify.ts';

// the main job
export { DEFAULT_DEMO_OPTIONS, type DemoOptions, type DemoReport, runDemo } from './demo/run-demo.ts';
