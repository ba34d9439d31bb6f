// PEFT's `modules_to_save` for the one module roadster trains besides adapter layers: the sequence-
// classification head. Follows PEFT's peft_model.py (PeftModelForSequenceClassification adds "classifier" and
// "score" to modules_to_save) and utils/other.py (ModulesToSaveWrapper: each adapter trains its own copy of
// the module, made from the original; the copy's parameters are named
// `base_model.model.score.modules_to_save.<adapter>.weight`) and utils/save_and_load.py (saved under the
// module's own key without the adapter, `base_model.model.score.weight`).

import { RoadsterError } from '../errors.ts';
import type { CommonAdapterConfig } from './kind.ts';

/** The names PeftModelForSequenceClassification adds to modules_to_save (Llama-family models call it "score"). */
export const CLASSIFIER_MODULES: readonly string[] = ['classifier', 'score'];

/** PEFT's task type of sequence classification. */
export const SEQ_CLS = 'SEQ_CLS';

/**
 * Checks that modules_to_save names only the classification head.
 * @throws RoadsterError E_ADAPTER naming the unsupported modules
 */
export function checkModulesToSave(config: Pick<CommonAdapterConfig, 'modulesToSave'>, where: string): void {
  const other = (config.modulesToSave ?? []).filter((m) => !CLASSIFIER_MODULES.includes(m));
  if (other.length > 0) {
    throw new RoadsterError(
      'E_ADAPTER',
      `${where}: modules_to_save ${JSON.stringify(other)} is not supported; roadster trains and saves only the sequence-classification head ` +
        `(modules_to_save ${JSON.stringify(CLASSIFIER_MODULES)}, which PEFT sets for task_type "${SEQ_CLS}"); remove the other modules`,
    );
  }
}

/** Whether the adapter carries its own copy of the classification head. */
export function savesHead(config: Pick<CommonAdapterConfig, 'modulesToSave'>): boolean {
  return (config.modulesToSave ?? []).some((m) => CLASSIFIER_MODULES.includes(m));
}

/** PEFT's `get_peft_model` for task_type SEQ_CLS: "classifier" and "score" appended to modules_to_save (once). */
export function withClassifierModules<C extends CommonAdapterConfig>(config: C): C {
  if (config.taskType !== SEQ_CLS) return config;
  const list = [...(config.modulesToSave ?? [])];
  for (const m of CLASSIFIER_MODULES) if (!list.includes(m)) list.push(m);
  return { ...config, modulesToSave: list };
}

/** The module path of a saved weight ("score" for "score.weight") and its parameter ("weight"). */
export function splitWeightName(weight: string): [string, string] {
  const dot = weight.lastIndexOf('.');
  return [weight.slice(0, dot), weight.slice(dot + 1)];
}

/** PEFT's `named_parameters()` name of an adapter's copy of a module weight. */
export function peftModuleParameterName(weight: string, adapter: string): string {
  const [module, param] = splitWeightName(weight);
  return `base_model.model.${module}.modules_to_save.${adapter}.${param}`;
}
