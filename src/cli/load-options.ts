// The options every command that loads a model passes to `fromPretrained`: the Hub settings from the
// environment (HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN, ...), --offline and --revision, and a download progress
// reporter on stderr. Call `stop()` when loading is done.

import { hubOptionsFromEnv } from '../io/hub/index.ts';
import type { FromPretrainedOptions } from '../models/auto.ts';
import type { CliIo } from './io.ts';
import { downloadReporter } from './progress.ts';

export function modelLoadOptions(flags: { readonly offline?: boolean; readonly revision?: string }, io: CliIo): { options: FromPretrainedOptions; stop(): void } {
  const hub = hubOptionsFromEnv(io.env);
  const progress = downloadReporter(io);
  const options: FromPretrainedOptions = {
    ...hub,
    offline: flags.offline === true || hub.offline === true,
    ...(flags.revision === undefined ? {} : { revision: flags.revision }),
    onProgress: progress.onProgress,
  };
  return { options, stop: () => progress.stop() };
}
