// The public interpretability API: interchange interventions, ablations and IIA on module outputs.

export {
  type Ablation,
  type InterchangeRequest,
  type InterventionOptions,
  type InterventionResult,
  type InterventionSite,
  type Positions,
  ablate,
  captureOutputs,
  interchange,
  meanOutputs,
  padRows,
  pairCoordinates,
} from './intervention.ts';
export { type IiaExample, type IiaOptions, type IiaResult, interchangeAccuracy, lastTokenPredictions } from './iia.ts';
