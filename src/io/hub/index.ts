// Public surface of the Hub access: resolving model files from local folders, the Hugging Face cache or the Hub.

export { resolveModelFiles, hasFile } from './resolve.ts';
export type { ResolveOptions, ResolvedModelFiles } from './resolve.ts';
export { hubOptionsFromEnv, defaultHubCacheDir, DEFAULT_HUB_ENDPOINT } from './hub-options.ts';
export type { HubOptions } from './hub-options.ts';
export type { DownloadProgress } from './download.ts';
export { repoFolderName, isRepoId, isCommitHash } from './cache-layout.ts';
