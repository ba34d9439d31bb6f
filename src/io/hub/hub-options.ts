// Options of the Hub resolver, and how the CLI derives them from the environment variables that Python's
// huggingface_hub reads (`constants.py`: HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HF_HUB_OFFLINE, HF_TOKEN,
// HF_ENDPOINT). The library itself never reads process.env: callers pass these options explicitly.

import { homedir } from 'node:os';
import { join } from 'node:path';

/** The public Hub. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** How to reach the Hub and where its cache lives. */
export interface HubOptions {
  /** Cache folder holding `models--{org}--{name}` folders. Default `~/.cache/huggingface/hub`. */
  readonly cacheDir?: string;
  /** Never touch the network; use only local folders and the cache. Default false. */
  readonly offline?: boolean;
  /** Access token (`hf_...`) for private or gated repositories. */
  readonly token?: string;
  /** Hub URL. Default `https://huggingface.co`. */
  readonly endpoint?: string;
  /** The fetch function to use (tests pass one that serves bytes from memory). Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
}

/** The default cache folder, as huggingface_hub computes it with no environment variable set. */
export function defaultHubCacheDir(home: string = homedir()): string {
  return join(home, '.cache', 'huggingface', 'hub');
}

/** huggingface_hub's `_is_true`: "1", "ON", "YES", "TRUE", in any case. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

/**
 * Hub options from environment variables, with huggingface_hub's precedence: cache = HF_HUB_CACHE, else
 * HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub;
 * offline when HF_HUB_OFFLINE (or the older TRANSFORMERS_OFFLINE) is true; token from HF_TOKEN (or the older
 * HUGGING_FACE_HUB_TOKEN); endpoint from HF_ENDPOINT. Only the CLI calls this, with `process.env`.
 */
export function hubOptionsFromEnv(env: NodeJS.ProcessEnv, home: string = homedir()): HubOptions {
  const nonEmpty = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const hfHome = nonEmpty('HF_HOME') ?? join(nonEmpty('XDG_CACHE_HOME') ?? join(home, '.cache'), 'huggingface');
  const cacheDir = nonEmpty('HF_HUB_CACHE') ?? nonEmpty('HUGGINGFACE_HUB_CACHE') ?? join(hfHome, 'hub');
  const token = nonEmpty('HF_TOKEN') ?? nonEmpty('HUGGING_FACE_HUB_TOKEN');
  const endpoint = nonEmpty('HF_ENDPOINT');
  return {
    cacheDir,
    offline: isTrue(env.HF_HUB_OFFLINE) || isTrue(env.TRANSFORMERS_OFFLINE),
    ...(token === undefined ? {} : { token }),
    ...(endpoint === undefined ? {} : { endpoint: endpoint.replace(/\/+$/, '') }),
  };
}
