// The public adapter API: PeftModel, the methods' configs (RoAd, LoRA), PEFT's folder format and the
// AdapterKind interface every method implements.

export { BASE_ADAPTER, type GradOptions, type LinearWrap, PeftModel, type PeftBatch, type PeftForwardResult, type RunOptions, peftParameterName } from './peft-model.ts';
export { type RoadConfig, type RoadOptions, roadConfig } from './road/config.ts';
export type { RoadVariant } from './road/math.ts';
export { type LoraConfig, type LoraInit, type LoraOptions, loraConfig, loraScaling } from './lora/config.ts';
export { readAdapterConfig, readAdapterFolder, writeAdapterFolder } from './peft-files.ts';
export { CLASSIFIER_MODULES, SEQ_CLS, peftModuleParameterName } from './modules-to-save.ts';
export type { AdapterEntry, AdapterKind, CommonAdapterConfig, LayerWeights, MixedSite, PeftType, SiteParams } from './kind.ts';
export { ADAPTER_KINDS, type AdapterConfig, type ConfigOf } from './kinds.ts';
export type { TargetModules } from './target-modules.ts';
