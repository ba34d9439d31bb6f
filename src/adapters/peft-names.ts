// PEFT's `named_parameters()` names of adapter parameters (the names the trainer, its checkpoints and PEFT's
// gradients are keyed by). The names of modules_to_save copies are in modules-to-save.ts.

/**
 * PEFT's `named_parameters()` name of an adapter parameter: the adapter name goes after the parameter's first
 * component (`road_theta.default`, `lora_A.default.weight`).
 */
export function peftParameterName(path: string, param: string, adapter: string): string {
  const [head, ...rest] = param.split('.');
  return ['base_model.model', path, head, adapter, ...rest].join('.');
}
