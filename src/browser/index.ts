// The browser entry of roadster: graph, models, adapters, train and generate on onnxruntime-web, with files from
// File/fetch (no Node built-in on this path). The studio page (studio/) is built on it; other pages can import
// it the same way through Vite or another bundler.

export { WebRuntime, type WebBackendOptions } from '../runtime/web-runtime.ts';
export { BaseRuntime, type RuntimeOptions } from '../runtime/base-runtime.ts';
export { RoadsterError } from '../errors.ts';
export { DEFAULT_MAX_WEIGHT_BYTES, type FileData, type LoadedModel, type LoadModelFilesOptions, type ModelFiles, loadModelFiles } from './model-files.ts';
export { type TextDataset, type TextDatasetOptions, datasetFromJsonl } from './dataset.ts';
export {
  DEFAULT_STUDIO_SETTINGS,
  STUDIO_ADAPTER,
  type StudioCheckpoint,
  type StudioSettings,
  type StudioStep,
  TrainSession,
  studioBatches,
  studioStepConfig,
} from './train-session.ts';
export { Chat, type ChatOptions, type ChatReply } from './chat.ts';
export { zipAdapterFolder } from './adapter-zip.ts';
export { type StoredRun, clearCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint-store.ts';
