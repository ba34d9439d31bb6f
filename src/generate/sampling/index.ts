// Per-request sampling: parameters, the sampler, and the pieces it is made of (exported for tests and tools).

export { DEFAULT_SAMPLING, GREEDY_TEMPERATURE, MAX_LOGPROBS, isGreedy, samplingParams, type SamplingParams } from './params.ts';
export { Sampler, logSumExp, type TokenChoice, type TokenLogprob } from './sampler.ts';
export { applyPenalties, PenaltyState } from './penalties.ts';
export { FilterWorkspace, filteredDistribution } from './filters.ts';
