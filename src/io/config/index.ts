// Public surface of the config loaders: config.json, generation_config.json, RoPE frequencies and presets.

export { parseModelConfig, loadModelConfig, MODEL_TYPES, TORCH_DTYPES } from './model-config.ts';
export type { ModelConfig, ModelType, TorchDtype, ProjectionBias, LayerAttention, LoadedModelConfig } from './model-config.ts';
export { parseGenerationConfig } from './generation-config.ts';
export type { GenerationConfig } from './generation-config.ts';
export { ropeInvFreq, SUPPORTED_ROPE_TYPES } from './rope.ts';
export type { RopeScaling, RopeParams } from './rope.ts';
export { PRESETS, PRESET_NAMES, presetConfig } from './presets.ts';
export type { Preset, PresetName } from './presets.ts';
